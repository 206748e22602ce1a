package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/outrigger/outrigger/internal/crypto"
)

// blkCryptoTestdata holds the keys and the documents Dapr's own
// implementation encrypted with them (see internal/crypto/enc_test.go).
const blkCryptoTestdata = "../../internal/crypto/testdata"

// blkCryptoPattern is the plaintext of those documents.
func blkCryptoPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// blkCryptoSidecar starts a sidecar with a crypto.dapr.localstorage
// provider "localkeys" (the testdata keys) and a crypto.dapr.jwks provider
// "jwkskeys" with an inline set holding the AES key as kid "aeskid".
func blkCryptoSidecar(t *testing.T) *sidecar {
	t.Helper()
	keyDir := t.TempDir()
	for _, name := range []string{"symmetric-256", "rsa-private.pem"} {
		data, err := os.ReadFile(filepath.Join(blkCryptoTestdata, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, keyDir, name, string(data))
	}
	aes, err := os.ReadFile(filepath.Join(blkCryptoTestdata, "symmetric-256"))
	if err != nil {
		t.Fatal(err)
	}
	jwks := `{"keys":[{"kty":"oct","kid":"aeskid","k":"` + base64.RawURLEncoding.EncodeToString(aes) + `"}]}`
	dir := blkResources(t,
		blkComponent("localkeys", "crypto.dapr.localstorage", map[string]string{"path": keyDir}),
		blkComponent("jwkskeys", "crypto.dapr.jwks", map[string]string{"jwks": jwks, "requestTimeout": "5s"}))
	return blkStart(t, blkSidecar{appID: blkUnique("crypto"), resources: dir})[0]
}

// blkCryptoHTTP calls the high-level crypto API with a binary body.
func blkCryptoHTTP(t *testing.T, s *sidecar, op, component string, headers map[string]string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, s.url("/v1.0-alpha1/crypto/"+component+"/"+op), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := blkClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func TestBlocksCrypto(t *testing.T) {
	s := blkCryptoSidecar(t)

	t.Run("metadata", func(t *testing.T) {
		var md struct {
			Components []struct{ Name, Type, Version string } `json:"components"`
		}
		blkJSON(t, blkCall(t, "GET", s.url("/v1.0/metadata"), ""), 200, &md)
		want := map[string]string{"localkeys": "crypto.dapr.localstorage", "jwkskeys": "crypto.dapr.jwks"}
		for _, c := range md.Components {
			if typ, ok := want[c.Name]; ok && c.Type == typ && c.Version == "v1" {
				delete(want, c.Name)
			}
		}
		if len(want) > 0 {
			t.Fatalf("metadata lacks %v: %+v", want, md.Components)
		}
	})

	t.Run("http round trip", func(t *testing.T) {
		tests := []struct {
			component, key, alg, cipher string
			size                        int
		}{
			{"localkeys", "symmetric-256", "A256KW", "", 5},
			{"localkeys", "rsa-private.pem", "RSA-OAEP-256", "chacha20-poly1305", 200000},
			{"jwkskeys", "aeskid", "AES", "aes-gcm", 65536},
		}
		for _, tt := range tests {
			plain := blkCryptoPattern(tt.size)
			enc := blkCryptoHTTP(t, s, "encrypt", tt.component, map[string]string{
				"dapr-key-name": tt.key, "dapr-key-wrap-algorithm": tt.alg, "dapr-data-encryption-cipher": tt.cipher}, plain)
			if enc.status != 200 || enc.header.Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("%s/%s: encrypt %d: %.200s", tt.component, tt.key, enc.status, enc.body)
			}
			dec := blkCryptoHTTP(t, s, "decrypt", tt.component, nil, enc.body)
			if dec.status != 200 || !bytes.Equal(dec.body, plain) {
				t.Fatalf("%s/%s: decrypt %d, %d bytes", tt.component, tt.key, dec.status, len(dec.body))
			}
			// The document is the standard scheme: it decrypts offline
			// with the key file, no sidecar involved.
			if tt.component == "localkeys" {
				blkCryptoOffline(t, enc.body, plain)
			}
		}
	})

	t.Run("decrypts documents encrypted by Dapr", func(t *testing.T) {
		for file, size := range map[string]int{"dapr-small-aes.enc": 11, "dapr-multi-chacha.enc": 3*65536 + 1234, "dapr-twosegments-rsa.enc": 2 * 65536} {
			doc, err := os.ReadFile(filepath.Join(blkCryptoTestdata, file))
			if err != nil {
				t.Fatal(err)
			}
			dec := blkCryptoHTTP(t, s, "decrypt", "localkeys", nil, doc)
			if dec.status != 200 || !bytes.Equal(dec.body, blkCryptoPattern(size)) {
				t.Errorf("%s: status %d, %d bytes: %.200s", file, dec.status, len(dec.body), dec.body)
			}
		}
	})

	t.Run("grpc and across transports", func(t *testing.T) {
		conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(s.grpcPort), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		client := runtimev1.NewDaprClient(conn)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		plain := blkCryptoPattern(300000)

		stream, err := client.EncryptAlpha1(ctx)
		if err != nil {
			t.Fatal(err)
		}
		opts := &runtimev1.EncryptRequestOptions{ComponentName: "jwkskeys", KeyName: "aeskid", KeyWrapAlgorithm: "A256KW", OmitDecryptionKeyName: true}
		enc, err := blkCryptoGRPC(stream, plain, func(i int, p *commonv1.StreamPayload) any {
			r := &runtimev1.EncryptRequest{Payload: p}
			if i == 0 {
				r.Options = opts
			}
			return r
		}, func() blkPayloadMsg { return &runtimev1.EncryptResponse{} })
		if err != nil {
			t.Fatalf("encrypt over gRPC: %v", err)
		}
		// Same key, other provider, other transport; the name was omitted.
		dec := blkCryptoHTTP(t, s, "decrypt", "localkeys", map[string]string{"dapr-key-name": "symmetric-256"}, enc)
		if dec.status != 200 || !bytes.Equal(dec.body, plain) {
			t.Fatalf("decrypt over HTTP: %d, %.200s", dec.status, dec.body)
		}

		dstream, err := client.DecryptAlpha1(ctx)
		if err != nil {
			t.Fatal(err)
		}
		back, err := blkCryptoGRPC(dstream, enc, func(i int, p *commonv1.StreamPayload) any {
			r := &runtimev1.DecryptRequest{Payload: p}
			if i == 0 {
				r.Options = &runtimev1.DecryptRequestOptions{ComponentName: "jwkskeys", KeyName: "aeskid"}
			}
			return r
		}, func() blkPayloadMsg { return &runtimev1.DecryptResponse{} })
		if err != nil || !bytes.Equal(back, plain) {
			t.Fatalf("decrypt over gRPC: %d bytes, %v", len(back), err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		enc := blkCryptoHTTP(t, s, "encrypt", "localkeys", map[string]string{"dapr-key-name": "symmetric-256", "dapr-key-wrap-algorithm": "A256KW"}, []byte("x"))
		tampered := bytes.Clone(enc.body)
		tampered[len(tampered)-1] ^= 1
		tests := []struct {
			op, component string
			headers       map[string]string
			body          []byte
			status        int
			code, part    string
		}{
			{"encrypt", "nosuch", nil, []byte("x"), 400, "ERR_CRYPTO_PROVIDER_NOT_FOUND", "crypto provider nosuch not found"},
			{"encrypt", "localkeys", map[string]string{"dapr-key-name": "symmetric-256"}, []byte("x"), 400, "ERR_BAD_REQUEST", "missing header 'dapr-key-wrap-algorithm'"},
			{"encrypt", "localkeys", map[string]string{"dapr-key-name": "nokey", "dapr-key-wrap-algorithm": "A256KW"}, []byte("x"), 500, "ERR_CRYPTO", "failed to wrap the file key"},
			{"decrypt", "localkeys", nil, tampered, 500, "ERR_CRYPTO", "failed to decrypt segment"},
			{"decrypt", "jwkskeys", nil, enc.body, 500, "ERR_CRYPTO", "failed to validate the document's signature"},
		}
		for _, tt := range tests {
			blkWantError(t, blkCryptoHTTP(t, s, tt.op, tt.component, tt.headers, tt.body), tt.status, tt.code, tt.part)
		}
	})
}

// blkCryptoOffline decrypts doc with the testdata keys in process.
func blkCryptoOffline(t *testing.T, doc, want []byte) {
	t.Helper()
	r, err := crypto.NewDecrypter(bytes.NewReader(doc), crypto.DecryptOptions{Unwrap: func(wrapped []byte, alg, name string) ([]byte, error) {
		data, err := os.ReadFile(filepath.Join(blkCryptoTestdata, name))
		if err != nil {
			return nil, err
		}
		k, err := crypto.ParseKey(data, "")
		if err != nil {
			return nil, err
		}
		return crypto.UnwrapKey(k, wrapped, alg, nil)
	}})
	if err != nil {
		t.Fatalf("offline decrypt: %v", err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("offline decrypt: %d bytes, %v", len(got), err)
	}
}

type blkPayloadMsg interface {
	GetPayload() *commonv1.StreamPayload
}

// blkCryptoGRPC sends data in 10 000-byte chunks (options on the first)
// while receiving, and returns the response payloads in order.
func blkCryptoGRPC(stream grpc.ClientStream, data []byte, req func(int, *commonv1.StreamPayload) any, newResp func() blkPayloadMsg) ([]byte, error) {
	sendErr := make(chan error, 1)
	go func() {
		for i, seq := 0, uint64(0); i < len(data); i, seq = i+10000, seq+1 {
			p := &commonv1.StreamPayload{Data: data[i:min(i+10000, len(data))], Seq: seq}
			if err := stream.SendMsg(req(int(seq), p)); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- stream.CloseSend()
	}()
	var out bytes.Buffer
	var seqs []uint64
	for {
		resp := newResp()
		err := stream.RecvMsg(resp)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			<-sendErr
			return nil, err
		}
		seqs = append(seqs, resp.GetPayload().GetSeq())
		out.Write(resp.GetPayload().GetData())
	}
	for i, s := range seqs {
		if s != uint64(i) {
			return nil, errors.New("response chunks out of sequence: " + strconv.Itoa(int(s)))
		}
	}
	return out.Bytes(), <-sendErr
}
