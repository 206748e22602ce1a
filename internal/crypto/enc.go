package crypto

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/chacha20poly1305"
)

// The "dapr.io/enc/v1" scheme, as documented by Dapr:
//
//	dapr.io/enc/v1\n
//	{"k":"key","kw":1,"wfk":"…","cph":1,"np":"…"}\n   (compact JSON manifest)
//	base64(HMAC-SHA-256(header key, first two lines))\n
//	segment_0 || segment_1 || … (each ≤ 64 KiB of plaintext + 16-byte tag)
//
// A random 32-byte file key is wrapped by the provider (wfk). Two keys are
// derived from it with HKDF-SHA-256: the header MAC key (salt empty, info
// "header") and the payload key (salt = the 7-byte nonce prefix, info
// "payload"). Segment i is sealed with nonce prefix || uint32be(i) ||
// last-flag, so reordering, truncation before the last segment and
// appending are all detected. An empty plaintext has no segments at all.
const (
	SchemeName = "dapr.io/enc/v1"
	// SegmentSize is the plaintext size of every segment but the last.
	SegmentSize     = 64 << 10
	segmentOverhead = 16 // AEAD tag of AES-GCM and ChaCha20-Poly1305
	noncePrefixSize = 7
	fileKeySize     = 32
	// maxHeaderLine bounds each header line, so a hostile stream cannot
	// make the reader buffer without limit.
	maxHeaderLine = SegmentSize
)

// Data encryption ciphers (upper-case names, as the API normalises them).
const (
	CipherAESGCM           = "AES-GCM"
	CipherChaCha20Poly1305 = "CHACHA20-POLY1305"
)

var (
	// ErrDecryptionKeyMissing: the manifest names no key and the caller gave none.
	ErrDecryptionKeyMissing = errors.New("document's manifest does not contain a key name, and no key name was provided")
	// ErrDecryptionSignature: the header MAC does not verify (tampered
	// header, or a key that does not unwrap the file key).
	ErrDecryptionSignature = errors.New("failed to validate the document's signature")
	// ErrDecryptionFailed: a segment does not authenticate.
	ErrDecryptionFailed = errors.New("failed to decrypt segment")
)

// Wire ids of the manifest's kw and cph fields.
var (
	wrapAlgorithmIDs = map[string]int{
		AlgorithmA256KW: 1, AlgorithmA128CBCNoPad: 2, AlgorithmA192CBCNoPad: 3,
		AlgorithmA256CBCNoPad: 4, AlgorithmRSAOAEP256: 5,
	}
	cipherIDs = map[string]int{CipherAESGCM: 1, CipherChaCha20Poly1305: 2}
)

// ResolveWrapAlgorithm validates a scheme key wrap algorithm and resolves
// Dapr's aliases (AES → A256KW, RSA → RSA-OAEP-256).
func ResolveWrapAlgorithm(alg string) (string, error) {
	switch alg {
	case "AES":
		return AlgorithmA256KW, nil
	case "RSA":
		return AlgorithmRSAOAEP256, nil
	}
	if _, ok := wrapAlgorithmIDs[alg]; !ok {
		return "", fmt.Errorf("algorithm %s is not supported", alg)
	}
	return alg, nil
}

func nameOfID(m map[string]int, id int) string {
	for name, v := range m {
		if v == id {
			return name
		}
	}
	return ""
}

// manifest is the header's JSON line; []byte fields are standard base64.
type manifest struct {
	KeyName     string `json:"k,omitempty"`
	KeyWrap     int    `json:"kw"`
	WrappedKey  []byte `json:"wfk"`
	Cipher      int    `json:"cph"`
	NoncePrefix []byte `json:"np"`
}

// WrapFunc wraps the file key with the named key of a provider.
type WrapFunc func(fileKey []byte, algorithm, keyName string) ([]byte, error)

// UnwrapFunc unwraps the file key with the named key of a provider.
type UnwrapFunc func(wrappedKey []byte, algorithm, keyName string) ([]byte, error)

// EncryptOptions configure NewEncrypter.
type EncryptOptions struct {
	KeyName string // key that wraps the file key (required)
	// Algorithm is the key wrap algorithm (required; aliases allowed).
	Algorithm string
	// Cipher is the data cipher; "" is AES-GCM.
	Cipher string
	// DecryptionKeyName is written to the manifest instead of KeyName.
	DecryptionKeyName string
	// OmitKeyName leaves the key name out of the manifest.
	OmitKeyName bool
	Wrap        WrapFunc
}

// DecryptOptions configure NewDecrypter.
type DecryptOptions struct {
	// KeyName overrides the key name in the manifest.
	KeyName string
	Unwrap  UnwrapFunc
}

// fileKey holds the keys derived from one file key.
type fileKey struct {
	aead        cipher.AEAD
	noncePrefix []byte
	macKey      []byte
}

func newFileKey(key, noncePrefix []byte, cipherName string) (*fileKey, error) {
	macKey, err := hkdf.Key(sha256.New, key, nil, "header", 32)
	if err != nil {
		return nil, fmt.Errorf("derive header key: %w", err)
	}
	payloadKey, err := hkdf.Key(sha256.New, key, noncePrefix, "payload", 32)
	if err != nil {
		return nil, fmt.Errorf("derive payload key: %w", err)
	}
	fk := &fileKey{noncePrefix: noncePrefix, macKey: macKey}
	switch cipherName {
	case CipherAESGCM:
		block, err := aes.NewCipher(payloadKey)
		if err != nil {
			return nil, err
		}
		fk.aead, err = cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
	case CipherChaCha20Poly1305:
		fk.aead, err = chacha20poly1305.New(payloadKey)
		if err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("cipher %s is not supported", cipherName)
	}
	return fk, nil
}

// mac computes the header MAC over the first two header lines.
func (fk *fileKey) mac(manifestJSON []byte) []byte {
	h := hmac.New(sha256.New, fk.macKey)
	h.Write([]byte(SchemeName + "\n"))
	h.Write(manifestJSON)
	h.Write([]byte("\n"))
	return h.Sum(nil)
}

func (fk *fileKey) nonce(dst []byte, seq uint32, last bool) []byte {
	dst = append(dst[:0], fk.noncePrefix...)
	dst = binary.BigEndian.AppendUint32(dst, seq)
	if last {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// NewEncrypter wraps a fresh file key and returns a reader of the encrypted
// document. Option and wrapping errors are returned here, before any
// output; read errors of src surface from Read. Memory use is one segment
// whatever the size of src.
func NewEncrypter(src io.Reader, opts EncryptOptions) (io.Reader, error) {
	if opts.Wrap == nil {
		return nil, errors.New("option WrapKeyFn is required")
	}
	if opts.KeyName == "" {
		return nil, errors.New("option KeyName is required")
	}
	if opts.Algorithm == "" {
		return nil, errors.New("option Algorithm is required")
	}
	alg, err := ResolveWrapAlgorithm(opts.Algorithm)
	if err != nil {
		return nil, fmt.Errorf("option Algorithm is not valid: %w", err)
	}
	cipherName := opts.Cipher
	if cipherName == "" {
		cipherName = CipherAESGCM
	}
	if _, ok := cipherIDs[cipherName]; !ok {
		return nil, fmt.Errorf("option Cipher is not valid: cipher %s is not supported", cipherName)
	}

	random := make([]byte, fileKeySize+noncePrefixSize)
	if _, err := rand.Read(random); err != nil {
		return nil, fmt.Errorf("failed to generate file key: %w", err)
	}
	key, noncePrefix := random[:fileKeySize], random[fileKeySize:]
	fk, err := newFileKey(key, noncePrefix, cipherName)
	if err != nil {
		return nil, err
	}
	wrapped, err := opts.Wrap(key, alg, opts.KeyName)
	if err != nil {
		return nil, fmt.Errorf("failed to wrap the file key: %w", err)
	}

	m := manifest{KeyWrap: wrapAlgorithmIDs[alg], WrappedKey: wrapped, Cipher: cipherIDs[cipherName], NoncePrefix: noncePrefix}
	switch {
	case opts.OmitKeyName:
	case opts.DecryptionKeyName != "":
		m.KeyName = opts.DecryptionKeyName
	default:
		m.KeyName = opts.KeyName
	}
	manifestJSON, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("failed to encode JSON manifest: %w", err)
	}
	var header bytes.Buffer
	header.WriteString(SchemeName + "\n")
	header.Write(manifestJSON)
	header.WriteString("\n")
	header.WriteString(base64.StdEncoding.EncodeToString(fk.mac(manifestJSON)))
	header.WriteString("\n")
	if header.Len() > SegmentSize {
		return nil, errors.New("header is too long")
	}

	sr := newSegmentReader(src, SegmentSize, func(seg []byte, seq uint32, last bool, nonce []byte) ([]byte, error) {
		return fk.aead.Seal(seg[:0], fk.nonce(nonce, seq, last), seg, nil), nil
	})
	sr.out = header.Bytes()
	return sr, nil
}

// NewDecrypter reads and authenticates the header of an encrypted document
// from src and returns a reader of the plaintext. Header and key errors are
// returned here; a segment that does not authenticate fails Read before any
// of its bytes are returned, so unverified plaintext is never released.
func NewDecrypter(src io.Reader, opts DecryptOptions) (io.Reader, error) {
	if opts.Unwrap == nil {
		return nil, errors.New("option UnwrapKeyFn is required")
	}
	br := bufio.NewReaderSize(src, maxHeaderLine)
	manifestJSON, macB64, err := readHeader(br)
	if err != nil {
		return nil, fmt.Errorf("invalid header: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(manifestJSON, &m); err != nil {
		return nil, errors.New("invalid header: invalid manifest")
	}
	alg, cipherName := nameOfID(wrapAlgorithmIDs, m.KeyWrap), nameOfID(cipherIDs, m.Cipher)
	if alg == "" || cipherName == "" || len(m.WrappedKey) == 0 || len(m.NoncePrefix) != noncePrefixSize {
		// Which field is wrong is not disclosed, as in Dapr.
		return nil, errors.New("invalid header: invalid manifest")
	}
	keyName := opts.KeyName
	if keyName == "" {
		keyName = m.KeyName
	}
	if keyName == "" {
		return nil, ErrDecryptionKeyMissing
	}

	key, err := opts.Unwrap(m.WrappedKey, alg, keyName)
	if err != nil {
		// Carry on with a zero key so the MAC check fails the same way
		// whether the key is missing or wrong: the answer does not reveal
		// which keys exist.
		key = make([]byte, fileKeySize)
	}
	fk, err := newFileKey(key, m.NoncePrefix, cipherName)
	if err != nil {
		return nil, err
	}
	mac, err := base64.StdEncoding.DecodeString(string(macB64))
	if err != nil {
		return nil, fmt.Errorf("failed to decode header's signature: %w", err)
	}
	if !hmac.Equal(mac, fk.mac(manifestJSON)) {
		return nil, ErrDecryptionSignature
	}

	return newSegmentReader(br, SegmentSize+segmentOverhead, func(seg []byte, seq uint32, last bool, nonce []byte) ([]byte, error) {
		if len(seg) <= segmentOverhead {
			return nil, ErrDecryptionFailed
		}
		out, err := fk.aead.Open(seg[:0], fk.nonce(nonce, seq, last), seg, nil)
		if err != nil {
			return nil, ErrDecryptionFailed
		}
		return out, nil
	}), nil
}

// readHeader reads the three header lines: scheme name, manifest, MAC.
func readHeader(br *bufio.Reader) (manifestJSON, mac []byte, err error) {
	var lines [3][]byte
	for i := range lines {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			return nil, nil, errors.New("header is too long")
		case err != nil && !errors.Is(err, io.EOF):
			return nil, nil, err
		case err != nil && i == 0 && len(line) == 0:
			return nil, nil, errors.New("scheme name not found")
		case err != nil:
			return nil, nil, errors.New("invalid format")
		}
		lines[i] = bytes.Clone(line[:len(line)-1])
		if i == 0 && string(lines[0]) != SchemeName {
			return nil, nil, errors.New("unsupported scheme")
		}
	}
	if len(lines[1]) == 0 {
		return nil, nil, errors.New("manifest not found")
	}
	if len(lines[2]) == 0 {
		return nil, nil, errors.New("message authentication code not found")
	}
	return lines[1], lines[2], nil
}

// segmentFunc seals or opens one segment in place. nonce is scratch space.
type segmentFunc func(seg []byte, seq uint32, last bool, nonce []byte) ([]byte, error)

// segmentReader cuts its source into segments of size bytes and returns
// each processed segment. It reads one byte ahead to know which segment is
// the last, so a source that ends exactly on a segment boundary is sealed
// with the last flag on its final full segment, as the scheme requires.
type segmentReader struct {
	src     io.Reader
	size    int
	buf     []byte // size + tag + lookahead byte
	nonce   []byte
	process segmentFunc

	carry    byte
	hasCarry bool
	seq      uint32
	eof      bool
	out      []byte // processed bytes not yet returned
	err      error
}

func newSegmentReader(src io.Reader, size int, process segmentFunc) *segmentReader {
	return &segmentReader{
		src: src, size: size, process: process,
		buf:   make([]byte, size+segmentOverhead+1),
		nonce: make([]byte, 0, 12),
	}
}

func (s *segmentReader) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		switch {
		case s.err != nil:
			return 0, s.err
		case s.eof:
			return 0, io.EOF
		}
		s.out, s.err = s.next()
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// next reads and processes one segment.
func (s *segmentReader) next() ([]byte, error) {
	n := 0
	if s.hasCarry {
		s.buf[0], n, s.hasCarry = s.carry, 1, false
	}
	m, err := io.ReadFull(s.src, s.buf[n:s.size+1])
	n += m
	last := false
	switch {
	case err == nil:
		n = s.size
		s.carry, s.hasCarry = s.buf[n], true
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		last, s.eof = true, true
	default:
		return nil, err
	}
	if n == 0 {
		// Only an empty document ends without a segment.
		return nil, nil
	}
	if !last && s.seq == 1<<32-1 {
		return nil, errors.New("input stream is too large")
	}
	out, err := s.process(s.buf[:n], s.seq, last, s.nonce)
	if err != nil {
		return nil, fmt.Errorf("error processing segment %d: %w", s.seq, err)
	}
	s.seq++
	return out, nil
}
