package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/crypto"
	"github.com/outrigger/outrigger/internal/resiliency"
	"github.com/outrigger/outrigger/internal/telemetry/metrics"
)

// CryptoComponent checks a crypto component name the way Dapr does: no
// providers at all, then an empty name, then an unknown one.
func (c *Core) CryptoComponent(name string) (*crypto.Component, error) {
	cryptos := c.comps().cryptos
	if len(cryptos) == 0 {
		return nil, apierr.CryptoProvidersNotConfigured()
	}
	if name == "" {
		return nil, apierr.BadRequest("missing component name")
	}
	comp, ok := cryptos[name]
	if !ok {
		return nil, apierr.CryptoProviderNotFound(name)
	}
	return comp, nil
}

// The provider calls (wrapping and unwrapping the file key, reading a
// key) run under the component's outbound resiliency policy, as in daprd;
// the data itself never goes to the provider.

// Encrypt starts encrypting src with the "dapr.io/enc/v1" scheme. Errors
// known before any output (component, options, key wrapping) are returned
// here as Dapr API errors; the returned reader streams the document and
// fails with a plain error if src does (transports map it with
// apierr.Crypto). Memory use is bounded whatever the size of src.
func (c *Core) Encrypt(ctx context.Context, opts *runtimev1.EncryptRequestOptions, src io.Reader) (io.Reader, error) {
	comp, err := c.CryptoComponent(opts.GetComponentName())
	if err != nil {
		return nil, err
	}
	wrap := func(fileKey []byte, algorithm, keyName string) (wrapped []byte, err error) {
		err = c.measured(comp.Name, resiliency.Crypto, metrics.OpCrypto).Run(ctx, func(ctx context.Context) (err error) {
			wrapped, err = comp.Provider.WrapKey(ctx, fileKey, algorithm, keyName, nil)
			return err
		})
		return wrapped, err
	}
	out, err := crypto.NewEncrypter(src, crypto.EncryptOptions{
		KeyName:           opts.GetKeyName(),
		Algorithm:         strings.ToUpper(opts.GetKeyWrapAlgorithm()),
		Cipher:            strings.ToUpper(opts.GetDataEncryptionCipher()),
		DecryptionKeyName: opts.GetDecryptionKeyName(),
		OmitKeyName:       opts.GetOmitDecryptionKeyName(),
		Wrap:              wrap,
	})
	if err != nil {
		return nil, apierr.Crypto(err)
	}
	return out, nil
}

// Decrypt starts decrypting a "dapr.io/enc/v1" document read from src.
// Header, key and MAC errors are returned here; a tampered segment fails
// the returned reader before any of its plaintext is released.
func (c *Core) Decrypt(ctx context.Context, opts *runtimev1.DecryptRequestOptions, src io.Reader) (io.Reader, error) {
	comp, err := c.CryptoComponent(opts.GetComponentName())
	if err != nil {
		return nil, err
	}
	unwrap := func(wrapped []byte, algorithm, keyName string) (key []byte, err error) {
		err = c.measured(comp.Name, resiliency.Crypto, metrics.OpCrypto).Run(ctx, func(ctx context.Context) (err error) {
			key, err = comp.Provider.UnwrapKey(ctx, wrapped, algorithm, keyName, nil)
			return err
		})
		if err != nil {
			// The caller only learns that the header does not verify; the
			// reason stays in the sidecar's log.
			slog.Debug("unwrapping the file key failed", "component", comp.Name, "key", keyName, "error", err)
		}
		return key, err
	}
	out, err := crypto.NewDecrypter(src, crypto.DecryptOptions{KeyName: opts.GetKeyName(), Unwrap: unwrap})
	if err != nil {
		return nil, apierr.Crypto(err)
	}
	return out, nil
}

// SubtleGetKey returns the public part of an asymmetric key as PEM (PKIX)
// or as a JWK.
func (c *Core) SubtleGetKey(ctx context.Context, req *runtimev1.SubtleGetKeyRequest) (*runtimev1.SubtleGetKeyResponse, error) {
	comp, err := c.CryptoComponent(req.GetComponentName())
	if err != nil {
		return nil, err
	}
	format := req.GetFormat()
	if format != runtimev1.SubtleGetKeyRequest_PEM && format != runtimev1.SubtleGetKeyRequest_JSON {
		return nil, apierr.BadRequest("invalid key format")
	}
	var key *crypto.Key
	err = c.measured(comp.Name, resiliency.Crypto, metrics.OpGet).Run(ctx, func(ctx context.Context) (err error) {
		key, err = comp.Provider.GetKey(ctx, req.GetName())
		return err
	})
	if err != nil {
		return nil, apierr.CryptoKey(req.GetName(), err)
	}
	var pk []byte
	if format == runtimev1.SubtleGetKeyRequest_PEM {
		pk, err = key.PublicPEM()
		if err != nil {
			err = fmt.Errorf("failed to marshal public key %s as PKIX: %w", req.GetName(), err)
		}
	} else {
		pk, err = crypto.MarshalPublicJWK(key)
		if err != nil {
			err = fmt.Errorf("failed to marshal public key %s as JSON: %w", req.GetName(), err)
		}
	}
	if err != nil {
		return nil, apierr.CryptoKey(req.GetName(), err)
	}
	name := req.GetName()
	if key.ID != "" {
		name = key.ID
	}
	return &runtimev1.SubtleGetKeyResponse{Name: name, PublicKey: string(pk)}, nil
}
