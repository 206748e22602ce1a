package http

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/resources"
)

// Headers of the high-level crypto API.
const (
	headerKeyName               = "dapr-key-name"
	headerKeyWrapAlgorithm      = "dapr-key-wrap-algorithm"
	headerDataEncryptionCipher  = "dapr-data-encryption-cipher"
	headerOmitDecryptionKeyName = "dapr-omit-decryption-key-name"
	headerDecryptionKeyName     = "dapr-decryption-key-name"
)

// cryptoResponseBuffer is how much output is held back before the 200 is
// committed: a document that fails within it (a tampered segment, a bad
// body) gets a proper error response; beyond it the output streams, so
// memory stays bounded, and a later failure aborts the connection.
const cryptoResponseBuffer = 1 << 20

// cryptoRoutes serves PUT /v1.0-alpha1/crypto/{name}/encrypt|decrypt; it
// reports false for anything else.
func (h *Handler) cryptoRoutes(w http.ResponseWriter, r *http.Request, rt route) bool {
	if len(rt.segs) != 3 || rt.segs[0] != "crypto" || r.Method != http.MethodPut {
		return false
	}
	switch rt.segs[2] {
	case "encrypt":
		h.withStore(w, rt, 1, func(name string) { h.encrypt(w, r, name) })
	case "decrypt":
		h.withStore(w, rt, 1, func(name string) { h.decrypt(w, r, name) })
	default:
		return false
	}
	return true
}

func (h *Handler) encrypt(w http.ResponseWriter, r *http.Request, name string) {
	// Dapr checks the component before the headers.
	if _, err := h.core.CryptoComponent(name); err != nil {
		writeError(w, err)
		return
	}
	opts := &runtimev1.EncryptRequestOptions{
		ComponentName:         name,
		KeyName:               r.Header.Get(headerKeyName),
		KeyWrapAlgorithm:      r.Header.Get(headerKeyWrapAlgorithm),
		DataEncryptionCipher:  r.Header.Get(headerDataEncryptionCipher),
		OmitDecryptionKeyName: resources.IsTruthy(r.Header.Get(headerOmitDecryptionKeyName)),
		DecryptionKeyName:     r.Header.Get(headerDecryptionKeyName),
	}
	if opts.KeyName == "" {
		writeError(w, apierr.BadRequest("missing header '"+headerKeyName+"'"))
		return
	}
	if opts.KeyWrapAlgorithm == "" {
		writeError(w, apierr.BadRequest("missing header '"+headerKeyWrapAlgorithm+"'"))
		return
	}
	body := &bodyReader{r: r.Body, limit: h.max}
	out, err := h.core.Encrypt(r.Context(), opts, body)
	if err != nil {
		writeError(w, h.cryptoError(body, err))
		return
	}
	h.streamCrypto(w, r, body, out)
}

func (h *Handler) decrypt(w http.ResponseWriter, r *http.Request, name string) {
	opts := &runtimev1.DecryptRequestOptions{ComponentName: name, KeyName: r.Header.Get(headerKeyName)}
	body := &bodyReader{r: r.Body, limit: h.max}
	out, err := h.core.Decrypt(r.Context(), opts, body)
	if err != nil {
		writeError(w, h.cryptoError(body, err))
		return
	}
	h.streamCrypto(w, r, body, out)
}

// streamCrypto writes the output of an encryption or decryption. Reading
// the request while writing the response needs full duplex on HTTP/1.1.
func (h *Handler) streamCrypto(w http.ResponseWriter, r *http.Request, body *bodyReader, out io.Reader) {
	var head bytes.Buffer
	_, err := io.CopyN(&head, out, cryptoResponseBuffer)
	if err != nil && !errors.Is(err, io.EOF) {
		writeError(w, h.cryptoError(body, err))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	if errors.Is(err, io.EOF) {
		w.Header().Set("Content-Length", strconv.Itoa(head.Len()))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(head.Bytes())
		return
	}
	// Larger than the buffer: stream the rest.
	if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
		h.log.Debug("full duplex not available; the request body may be cut short", "error", err)
	}
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(head.Bytes()); err != nil {
		panic(http.ErrAbortHandler)
	}
	if _, err := io.Copy(w, out); err != nil {
		// The status line is out; abort so the client sees a broken
		// response rather than a short one that looks complete.
		h.log.Debug("crypto stream failed after the response started", "error", err)
		panic(http.ErrAbortHandler)
	}
}

// cryptoError maps a failure: an oversized body keeps its own error, a
// Dapr API error stays as it is, anything else is ERR_CRYPTO.
func (h *Handler) cryptoError(body *bodyReader, err error) error {
	if body.tooLarge {
		return apierr.TooLarge(h.max)
	}
	var apiErr *apierr.Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	return apierr.Crypto(err)
}

// bodyReader notes whether the body hit --max-body-size.
type bodyReader struct {
	r        io.Reader
	limit    int64
	tooLarge bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		b.tooLarge = true
	}
	return n, err
}
