package appchannel

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/outrigger/outrigger/internal/h1client"
)

// The appHttpPipeline runs HTTP middleware around each call to an HTTP
// app, treating the outgoing request as the middleware's incoming one: a
// middleware may rewrite it (path, headers, body), answer it itself, or
// transform the app's answer. The innermost handler sends the (possibly
// rewritten) request to the app. Answers pass through a buffer, so with a
// pipeline the app's response is no longer streamed; without one the
// channel takes none of this path.

// pipelineCall carries a transport error out of the pipeline, so an app
// that cannot be reached is still an Invoke error, not a status.
type pipelineCall struct {
	err error
}

type pipelineCallKey struct{}

// buildPipeline wraps the forwarding handler in the configured middleware;
// nil when there is none.
func (c *httpChannel) buildPipeline(wrap func(http.Handler) http.Handler) http.Handler {
	if wrap == nil {
		return nil
	}
	return wrap(http.HandlerFunc(c.forward))
}

// send performs one request to the app, through the pipeline if any.
func (c *httpChannel) send(req *http.Request) (*http.Response, error) {
	if c.pipeline == nil {
		return h1client.Do(c.client, req)
	}
	call := &pipelineCall{}
	req = req.WithContext(context.WithValue(req.Context(), pipelineCallKey{}, call))
	req.Host = req.URL.Host
	rec := &recorder{header: http.Header{}, limit: c.maxBody}
	c.pipeline.ServeHTTP(rec, req)
	if call.err != nil {
		return nil, call.err
	}
	return rec.response(req), nil
}

// forward is the innermost pipeline handler: the real call to the app.
func (c *httpChannel) forward(w http.ResponseWriter, r *http.Request) {
	call, _ := r.Context().Value(pipelineCallKey{}).(*pipelineCall)
	if call == nil {
		call = &pipelineCall{} // a middleware replaced the context wholesale
	}
	r.RequestURI = "" // a middleware may have set it; clients must not
	resp, err := h1client.Do(c.client, r)
	if err != nil {
		call.err = err
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(w, resp.Body); err != nil {
		call.err = err
	}
}

// recorder buffers the pipeline's answer. Past limit (+1 byte, so the
// size check after the pipeline sees the overflow) writes are dropped.
type recorder struct {
	header http.Header
	status int
	limit  int64
	buf    bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.limit > 0 {
		room := r.limit + 1 - int64(r.buf.Len())
		if room <= 0 {
			return len(p), nil
		}
		if int64(len(p)) > room {
			r.buf.Write(p[:room])
			return len(p), nil
		}
	}
	return r.buf.Write(p)
}

func (r *recorder) response(req *http.Request) *http.Response {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	body := r.buf.Bytes()
	r.header.Set("Content-Length", strconv.Itoa(len(body)))
	return &http.Response{
		StatusCode: r.status, Header: r.header, Request: req,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
	}
}
