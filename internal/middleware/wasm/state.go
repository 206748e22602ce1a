package wasm

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
)

// features are the ABI's feature flags.
type features uint32

const (
	featureBufferRequest  features = 1
	featureBufferResponse features = 2
	featureTrailers       features = 4 // not supported: never reported
	supportedFeatures              = featureBufferRequest | featureBufferResponse
)

func (f features) has(x features) bool { return f&x != 0 }

type stateKey struct{}

func withState(ctx context.Context, st *state) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

// stateOf returns the request state of the current guest call.
func stateOf(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	if st == nil {
		panic("http_handler called outside a request")
	}
	return st
}

// state is one request as the guest sees it.
type state struct {
	init     bool // the guest's start function is running; there is no request
	features features
	w        *Wasm
	r        *http.Request
	rw       http.ResponseWriter

	// Request body: what the guest read (kept when buffering) and what it
	// wrote (replaces the body).
	reqConsumed bytes.Buffer
	reqWritten  *bytes.Buffer

	// Response produced by the guest itself (next=0), or the buffered
	// response of the next handler (buffer_response).
	status       int
	body         *bytes.Buffer
	buffered     *bufferedWriter
	bufferedBody *bytes.Reader
	wrote        bool
}

func newState(w *Wasm, r *http.Request, rw http.ResponseWriter, f features) *state {
	return &state{w: w, r: r, rw: rw, features: f, status: http.StatusOK}
}

func (s *state) request() *http.Request {
	if s.init || s.r == nil {
		panic("no request while the guest initialises")
	}
	return s.r
}

func (s *state) responded() bool { return s.wrote }

// readRequestBody serves read_body(request).
func (s *state) readRequestBody(p []byte) (int, bool) {
	r := s.request()
	if r.Body == nil {
		return 0, true
	}
	n, err := io.ReadFull(r.Body, p)
	if s.features.has(featureBufferRequest) {
		s.reqConsumed.Write(p[:n])
	}
	return n, err != nil // io.EOF or io.ErrUnexpectedEOF: nothing more
}

// writeRequestBody serves write_body(request): the first call replaces the
// body, later ones append.
func (s *state) writeRequestBody(p []byte) {
	s.request()
	if s.reqWritten == nil {
		s.reqWritten = &bytes.Buffer{}
	}
	s.reqWritten.Write(p)
}

// finishRequest hands the request on after handle_request: a body the
// guest wrote replaces the original; one it read while buffering is put
// back in front of what is left.
func (s *state) finishRequest() {
	r := s.r
	switch {
	case s.reqWritten != nil:
		if r.Body != nil {
			_ = r.Body.Close()
		}
		r.Body = io.NopCloser(bytes.NewReader(s.reqWritten.Bytes()))
		r.ContentLength = int64(s.reqWritten.Len())
		r.Header.Set("Content-Length", strconv.Itoa(s.reqWritten.Len()))
	case s.reqConsumed.Len() > 0 && r.Body != nil:
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(s.reqConsumed.Bytes()), r.Body), r.Body}
	}
}

// responseHeader is the header set the guest's response functions act on.
// Nothing is sent before the guest is done, so the writer's own header map
// serves both the guest's own answer and a buffered one.
func (s *state) responseHeader() http.Header {
	s.request()
	return s.rw.Header()
}

func (s *state) statusCode() int {
	if s.buffered != nil {
		return s.buffered.status
	}
	return s.status
}

func (s *state) setStatusCode(code int) {
	if s.buffered != nil {
		s.buffered.status = code
		return
	}
	s.status = code
}

// readResponseBody serves read_body(response): only a buffered response
// can be read.
func (s *state) readResponseBody(p []byte) (int, bool) {
	s.request()
	if s.buffered == nil {
		return 0, true
	}
	if s.bufferedBody == nil {
		s.bufferedBody = bytes.NewReader(s.buffered.body.Bytes())
	}
	n, err := io.ReadFull(s.bufferedBody, p)
	return n, err != nil
}

// writeResponseBody serves write_body(response): the first call replaces
// the body (the guest's own, or the buffered one), later ones append.
func (s *state) writeResponseBody(p []byte) {
	s.request()
	if s.body == nil {
		s.body = &bytes.Buffer{}
	}
	s.body.Write(p)
}

// writeGuestResponse sends the answer the guest built (next=0).
func (s *state) writeGuestResponse() {
	s.wrote = true
	if s.body != nil {
		s.rw.Header().Set("Content-Length", strconv.Itoa(s.body.Len()))
	}
	s.rw.WriteHeader(s.status)
	if s.body != nil {
		_, _ = s.rw.Write(s.body.Bytes())
	}
}

// bufferResponse starts capturing the next handler's answer.
func (s *state) bufferResponse() *bufferedWriter {
	s.buffered = &bufferedWriter{header: s.rw.Header(), status: http.StatusOK}
	s.body = nil // a body written in handle_request was not sent
	return s.buffered
}

// flushResponse sends the buffered answer, with the guest's changes.
func (s *state) flushResponse() {
	s.wrote = true
	body := s.buffered.body.Bytes()
	if s.body != nil {
		body = s.body.Bytes()
	}
	s.rw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	s.rw.WriteHeader(s.buffered.status)
	_, _ = s.rw.Write(body)
}

// bufferedWriter holds the next handler's answer for handle_response.
type bufferedWriter struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}
