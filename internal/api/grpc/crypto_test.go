package grpc_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/outrigger/outrigger/internal/api"
	apigrpc "github.com/outrigger/outrigger/internal/api/grpc"
	"github.com/outrigger/outrigger/internal/crypto"
	"github.com/outrigger/outrigger/internal/crypto/localstorage"
)

// newCryptoClient serves the gRPC API with a local-storage provider "keys"
// holding an AES key "aes" and an EC key "ec.pem"; withProviders=false
// configures none.
func newCryptoClient(t *testing.T, withProviders bool) runtimev1.DaprClient {
	t.Helper()
	var comps []*crypto.Component
	if withProviders {
		dir := t.TempDir()
		ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKCS8PrivateKey(ecKey)
		files := map[string][]byte{
			"aes":    bytes.Repeat([]byte{0xf1}, 32),
			"ec.pem": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		p := localstorage.New()
		if err := p.Init(context.Background(), crypto.Metadata{Name: "keys", Properties: map[string]string{"path": dir}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		comps = []*crypto.Component{{Name: "keys", Type: "crypto.dapr.localstorage", Version: "v1", Provider: p}}
	}
	srv := apigrpc.NewServer(apigrpc.Config{Core: api.New(api.Config{AppID: "myapp", Crypto: comps})})
	ln := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(); srv.Stop() })
	return runtimev1.NewDaprClient(conn)
}

// cryptoStream is the client side of EncryptAlpha1/DecryptAlpha1.
type cryptoStream interface {
	grpc.ClientStream
}

// runCrypto sends reqs (already framed) while receiving, as SDKs do, and
// returns the concatenated payloads, checking their sequence numbers.
func runCrypto(stream cryptoStream, reqs []any, newResp func() interface {
	GetPayload() *commonv1.StreamPayload
}) ([]byte, error) {
	sendErr := make(chan error, 1)
	go func() {
		for _, r := range reqs {
			if err := stream.SendMsg(r); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- stream.CloseSend()
	}()
	var out bytes.Buffer
	var seq uint64
	for {
		resp := newResp()
		err := stream.RecvMsg(resp)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			<-sendErr
			return out.Bytes(), err
		}
		if got := resp.GetPayload().GetSeq(); got != seq {
			return nil, errors.New("response out of sequence")
		}
		seq++
		out.Write(resp.GetPayload().GetData())
	}
	return out.Bytes(), <-sendErr
}

// chunks frames data as StreamPayloads of size n.
func chunks(data []byte, n int) []*commonv1.StreamPayload {
	var out []*commonv1.StreamPayload
	for i := 0; i < len(data); i += n {
		out = append(out, &commonv1.StreamPayload{Data: data[i:min(i+n, len(data))], Seq: uint64(len(out))})
	}
	return out
}

func encryptGRPC(t *testing.T, c runtimev1.DaprClient, opts *runtimev1.EncryptRequestOptions, plain []byte) ([]byte, error) {
	t.Helper()
	stream, err := c.EncryptAlpha1(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reqs := []any{&runtimev1.EncryptRequest{Options: opts}}
	for _, p := range chunks(plain, 4096) {
		reqs = append(reqs, &runtimev1.EncryptRequest{Payload: p})
	}
	return runCrypto(stream, reqs, func() interface {
		GetPayload() *commonv1.StreamPayload
	} {
		return &runtimev1.EncryptResponse{}
	})
}

func decryptGRPC(t *testing.T, c runtimev1.DaprClient, opts *runtimev1.DecryptRequestOptions, doc []byte) ([]byte, error) {
	t.Helper()
	stream, err := c.DecryptAlpha1(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var reqs []any
	for i, p := range chunks(doc, 3000) {
		r := &runtimev1.DecryptRequest{Payload: p}
		if i == 0 {
			r.Options = opts
		}
		reqs = append(reqs, r)
	}
	return runCrypto(stream, reqs, func() interface {
		GetPayload() *commonv1.StreamPayload
	} {
		return &runtimev1.DecryptResponse{}
	})
}

func TestCryptoGRPCRoundTrip(t *testing.T) {
	c := newCryptoClient(t, true)
	for _, size := range []int{1, crypto.SegmentSize, 5*crypto.SegmentSize + 3} {
		for _, cph := range []string{"", "aes-gcm", "chacha20-poly1305"} {
			plain := bytes.Repeat([]byte("abc"), size/3+1)[:size]
			enc, err := encryptGRPC(t, c, &runtimev1.EncryptRequestOptions{ComponentName: "keys", KeyName: "aes", KeyWrapAlgorithm: "A256KW", DataEncryptionCipher: cph}, plain)
			if err != nil {
				t.Fatalf("%d/%s: encrypt: %v", size, cph, err)
			}
			dec, err := decryptGRPC(t, c, &runtimev1.DecryptRequestOptions{ComponentName: "keys"}, enc)
			if err != nil || !bytes.Equal(dec, plain) {
				t.Fatalf("%d/%s: decrypt: %d bytes, %v", size, cph, len(dec), err)
			}
		}
	}
}

func TestCryptoGRPCErrors(t *testing.T) {
	c := newCryptoClient(t, true)
	good := &runtimev1.EncryptRequestOptions{ComponentName: "keys", KeyName: "aes", KeyWrapAlgorithm: "A256KW"}
	doc, err := encryptGRPC(t, c, good, bytes.Repeat([]byte{1}, 100000))
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Clone(doc)
	tampered[len(tampered)-1] ^= 1

	stream := func(reqs ...any) error {
		s, err := c.EncryptAlpha1(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_, err = runCrypto(s, reqs, func() interface {
			GetPayload() *commonv1.StreamPayload
		} {
			return &runtimev1.EncryptResponse{}
		})
		return err
	}
	payload := func(seq uint64) *commonv1.StreamPayload { return &commonv1.StreamPayload{Data: []byte("x"), Seq: seq} }

	tests := []struct {
		name     string
		err      error
		wantCode codes.Code
		wantMsg  string
	}{
		{"no options", stream(&runtimev1.EncryptRequest{Payload: payload(0)}), codes.InvalidArgument, "invalid request: first message does not contain the required options"},
		{"no key name", stream(&runtimev1.EncryptRequest{Options: &runtimev1.EncryptRequestOptions{ComponentName: "keys", KeyWrapAlgorithm: "A256KW"}}), codes.InvalidArgument, "invalid request: missing property 'keyName' in the options message"},
		{"no algorithm", stream(&runtimev1.EncryptRequest{Options: &runtimev1.EncryptRequestOptions{ComponentName: "keys", KeyName: "aes"}}), codes.InvalidArgument, "invalid request: missing property 'algorithm' in the options message"},
		{"unknown provider", stream(&runtimev1.EncryptRequest{Options: &runtimev1.EncryptRequestOptions{ComponentName: "nope", KeyName: "aes", KeyWrapAlgorithm: "A256KW"}}), codes.InvalidArgument, "crypto provider nope not found"},
		{"sequence gap", stream(&runtimev1.EncryptRequest{Options: good, Payload: payload(0)}, &runtimev1.EncryptRequest{Payload: payload(2)}), codes.Internal, "failed to perform operation: invalid sequence number received: 2 (expected: 1)"},
		{"options twice", stream(&runtimev1.EncryptRequest{Options: good, Payload: payload(0)}, &runtimev1.EncryptRequest{Options: good, Payload: payload(1)}), codes.Internal, "failed to perform operation: options found in non-leading message"},
		{"empty stream", stream(), codes.Internal, "failed to perform operation: error receiving the first message: EOF"},
	}
	_, err = decryptGRPC(t, c, &runtimev1.DecryptRequestOptions{ComponentName: "keys"}, tampered)
	tests = append(tests, struct {
		name     string
		err      error
		wantCode codes.Code
		wantMsg  string
	}{"tampered", err, codes.Internal, "failed to perform operation: error processing segment 1: failed to decrypt segment"})

	for _, tt := range tests {
		st, _ := status.FromError(tt.err)
		if st.Code() != tt.wantCode || st.Message() != tt.wantMsg {
			t.Errorf("%s: %v %q, want %v %q", tt.name, st.Code(), st.Message(), tt.wantCode, tt.wantMsg)
		}
	}
}

func TestCryptoGRPCNoProviders(t *testing.T) {
	c := newCryptoClient(t, false)
	_, err := encryptGRPC(t, c, &runtimev1.EncryptRequestOptions{ComponentName: "keys", KeyName: "aes", KeyWrapAlgorithm: "A256KW"}, []byte("x"))
	if st, _ := status.FromError(err); st.Code() != codes.Internal || st.Message() != "crypto providers not configured" {
		t.Fatalf("no providers: %v", err)
	}
}

func TestSubtleGetKeyGRPC(t *testing.T) {
	c := newCryptoClient(t, true)
	ctx := context.Background()
	res, err := c.SubtleGetKeyAlpha1(ctx, &runtimev1.SubtleGetKeyRequest{ComponentName: "keys", Name: "ec.pem"})
	if err != nil || res.GetName() != "ec.pem" || !strings.HasPrefix(res.GetPublicKey(), "-----BEGIN PUBLIC KEY-----") {
		t.Fatalf("PEM: %v, %v", res, err)
	}
	res, err = c.SubtleGetKeyAlpha1(ctx, &runtimev1.SubtleGetKeyRequest{ComponentName: "keys", Name: "ec.pem", Format: runtimev1.SubtleGetKeyRequest_JSON})
	if err != nil || !strings.Contains(res.GetPublicKey(), `"kty":"EC"`) || strings.Contains(res.GetPublicKey(), `"d"`) {
		t.Fatalf("JSON: %v, %v", res, err)
	}
	_, err = c.SubtleGetKeyAlpha1(ctx, &runtimev1.SubtleGetKeyRequest{ComponentName: "keys", Name: "aes"})
	if st, _ := status.FromError(err); st.Code() != codes.Internal || st.Message() != "failed to retrieve key aes: key not found" {
		t.Fatalf("symmetric key: %v", err)
	}
	_, err = c.SubtleEncryptAlpha1(ctx, &runtimev1.SubtleEncryptRequest{ComponentName: "keys"})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("SubtleEncrypt: %v, want Unimplemented", err)
	}
}
