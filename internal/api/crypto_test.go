package api_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/crypto"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/resources"
)

// flakyCrypto is a crypto provider whose key operations fail at first; a
// slow one holds them until their context ends. It notes how long the
// last call had before its deadline.
type flakyCrypto struct {
	fail *failing
	slow bool
	kek  *crypto.Key // wraps and unwraps file keys
	pub  *crypto.Key // what GetKey returns

	mu     sync.Mutex
	budget time.Duration
}

func newFlakyCrypto(t *testing.T) *flakyCrypto {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &flakyCrypto{
		fail: failFirst(0),
		kek:  &crypto.Key{Secret: bytes.Repeat([]byte{7}, 32)},
		pub:  &crypto.Key{ID: "signing", Public: &priv.PublicKey},
	}
}

func (p *flakyCrypto) gate(ctx context.Context) error {
	dl, _ := ctx.Deadline()
	p.mu.Lock()
	p.budget = time.Until(dl)
	p.mu.Unlock()
	if p.slow {
		<-ctx.Done()
		return ctx.Err()
	}
	return p.fail.call()
}

func (p *flakyCrypto) lastBudget() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.budget
}

func (p *flakyCrypto) Init(context.Context, crypto.Metadata) error { return nil }
func (p *flakyCrypto) Close() error                                { return nil }

func (p *flakyCrypto) WrapKey(ctx context.Context, pt []byte, alg, _ string, nonce []byte) ([]byte, error) {
	if err := p.gate(ctx); err != nil {
		return nil, err
	}
	return crypto.WrapKey(p.kek, pt, alg, nonce)
}

func (p *flakyCrypto) UnwrapKey(ctx context.Context, wrapped []byte, alg, _ string, nonce []byte) ([]byte, error) {
	if err := p.gate(ctx); err != nil {
		return nil, err
	}
	return crypto.UnwrapKey(p.kek, wrapped, alg, nonce)
}

func (p *flakyCrypto) GetKey(ctx context.Context, _ string) (*crypto.Key, error) {
	if err := p.gate(ctx); err != nil {
		return nil, err
	}
	return p.pub, nil
}

func cryptoCore(p *resiliency.Provider, fc *flakyCrypto) *api.Core {
	return api.New(api.Config{AppID: "app", Crypto: []*crypto.Component{{Name: "vault", Type: "crypto.flaky", Version: "v1", Provider: fc}}, Resiliency: p})
}

func encrypt(ctx context.Context, core *api.Core, plain string) ([]byte, error) {
	r, err := core.Encrypt(ctx, &runtimev1.EncryptRequestOptions{ComponentName: "vault", KeyName: "k", KeyWrapAlgorithm: crypto.AlgorithmA256KW},
		strings.NewReader(plain))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func decrypt(ctx context.Context, core *api.Core, doc []byte) (string, error) {
	r, err := core.Decrypt(ctx, &runtimev1.DecryptRequestOptions{ComponentName: "vault"}, bytes.NewReader(doc))
	if err != nil {
		return "", err
	}
	out, err := io.ReadAll(r)
	return string(out), err
}

// TestCryptoKeyCallsUsePolicy: wrapping (encrypt), unwrapping (decrypt)
// and reading a key each run under the component's outbound policy.
func TestCryptoKeyCallsUsePolicy(t *testing.T) {
	const plain = "attack at dawn"
	// A document to decrypt, made without any failure.
	fc := newFlakyCrypto(t)
	doc, err := encrypt(context.Background(), cryptoCore(nil, fc), plain)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func(ctx context.Context, core *api.Core) error{
		"encrypt": func(ctx context.Context, core *api.Core) error {
			_, err := encrypt(ctx, core, plain)
			return err
		},
		"decrypt": func(ctx context.Context, core *api.Core) error {
			got, err := decrypt(ctx, core, doc)
			if err == nil && got != plain {
				t.Errorf("decrypted %q", got)
			}
			return err
		},
		"get key": func(ctx context.Context, core *api.Core) error {
			res, err := core.SubtleGetKey(ctx, &runtimev1.SubtleGetKeyRequest{ComponentName: "vault", Name: "k", Format: runtimev1.SubtleGetKeyRequest_JSON})
			if err == nil && res.GetName() != "signing" {
				t.Errorf("key name %q", res.GetName())
			}
			return err
		},
	}
	tests := []struct {
		name     string
		outbound resources.PolicyNames
		failures int
		slow     bool
		calls    int  // provider calls made by one operation
		wantOK   bool // the operation succeeds
		breaker  bool // a third operation is refused without a call
	}{
		{name: "fails twice then succeeds", outbound: resources.PolicyNames{Retry: "three"}, failures: 2, calls: 3, wantOK: true},
		{name: "retries exhausted", outbound: resources.PolicyNames{Retry: "three"}, failures: 10, calls: 4},
		{name: "no policy", failures: 1, calls: 1},
		{name: "timeout", outbound: resources.PolicyNames{Timeout: "short"}, slow: true, calls: 1},
		{name: "breaker opens", outbound: resources.PolicyNames{CircuitBreaker: "cb"}, failures: 10, calls: 1, breaker: true},
	}
	for opName, op := range ops {
		for _, tt := range tests {
			t.Run(opName+"/"+tt.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				fc := newFlakyCrypto(t)
				fc.fail, fc.slow = failFirst(tt.failures), tt.slow
				var p *resiliency.Provider
				if tt.outbound != (resources.PolicyNames{}) {
					p = componentPolicy(t, "vault", tt.outbound, resources.PolicyNames{})
				}
				core := cryptoCore(p, fc)
				err := op(ctx, core)
				if (err == nil) != tt.wantOK {
					t.Fatalf("%s = %v, want success %v", opName, err, tt.wantOK)
				}
				if !tt.slow {
					if n := fc.fail.calls.Load(); int(n) != tt.calls {
						t.Errorf("%d provider calls, want %d", n, tt.calls)
					}
				} else if b := fc.lastBudget(); b > 5*time.Second {
					t.Errorf("provider call had %v left, want the policy's 20ms", b)
				}
				if !tt.breaker {
					return
				}
				if err := op(ctx, core); err == nil {
					t.Fatal("second operation succeeded")
				}
				before := fc.fail.calls.Load()
				err = op(ctx, core)
				if err == nil || fc.fail.calls.Load() != before {
					t.Fatalf("third operation = %v after %d more calls, want a refusal without a call", err, fc.fail.calls.Load()-before)
				}
				// Decrypt hides why the key did not unwrap; the others say.
				if opName != "decrypt" && !strings.Contains(apierr.From(err).Message, "circuit breaker is open") {
					t.Errorf("refusal = %v", err)
				}
			})
		}
	}
}
