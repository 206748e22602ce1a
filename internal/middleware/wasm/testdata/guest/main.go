//go:build wasip1

// Command guest is an http-wasm handler used by the middleware's tests,
// built with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared:
//
//   - /deny answers 403 "denied by wasm" itself;
//   - /echo-body replaces the request body with its upper-cased copy;
//   - any other path is rewritten to /rewritten<path>, gets the request
//     header X-Wasm-Config with the guest configuration, and, in
//     handle_response, the response header X-Wasm-Response and the
//     response body prefixed with "wasm:".
package main

import (
	"bytes"
	"strings"
	"unsafe"
)

//go:wasmimport http_handler get_config
func getConfig(buf, limit uint32) uint32

//go:wasmimport http_handler enable_features
func enableFeatures(f uint32) uint32

//go:wasmimport http_handler get_uri
func getURI(buf, limit uint32) uint32

//go:wasmimport http_handler set_uri
func setURI(p, n uint32)

//go:wasmimport http_handler set_header_value
func setHeaderValue(kind, name, nameLen, value, valueLen uint32)

//go:wasmimport http_handler get_header_values
func getHeaderValues(kind, name, nameLen, buf, limit uint32) uint64

//go:wasmimport http_handler set_status_code
func setStatusCode(code uint32)

//go:wasmimport http_handler read_body
func readBody(kind, buf, limit uint32) uint64

//go:wasmimport http_handler write_body
func writeBody(kind, p, n uint32)

func ptr(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

// get reads a value with the ABI's retry-on-short-buffer protocol.
func get(f func(buf, limit uint32) uint32) string {
	n := f(0, 0)
	if n == 0 {
		return ""
	}
	b := make([]byte, n)
	f(ptr(b), n)
	return string(b)
}

func setHeader(kind uint32, name, value string) {
	n, v := []byte(name), []byte(value)
	setHeaderValue(kind, ptr(n), uint32(len(n)), ptr(v), uint32(len(v)))
}

func headerValue(kind uint32, name string) string {
	nb := []byte(name)
	cl := getHeaderValues(kind, ptr(nb), uint32(len(nb)), 0, 0)
	if cl == 0 {
		return ""
	}
	b := make([]byte, uint32(cl))
	getHeaderValues(kind, ptr(nb), uint32(len(nb)), ptr(b), uint32(len(b)))
	return strings.TrimSuffix(string(b), "\x00")
}

func readAll(kind uint32) []byte {
	var out []byte
	buf := make([]byte, 7) // small on purpose: several reads
	for {
		el := readBody(kind, ptr(buf), uint32(len(buf)))
		out = append(out, buf[:uint32(el)]...)
		if el>>32 == 1 {
			return out
		}
	}
}

func write(kind uint32, s []byte) { writeBody(kind, ptr(s), uint32(len(s))) }

//go:wasmexport handle_request
func handleRequest() uint64 {
	uri := get(getURI)
	switch {
	case uri == "/deny":
		setStatusCode(403)
		setHeader(1, "Content-Type", "text/plain")
		write(1, []byte("denied by wasm"))
		return 0
	case uri == "/echo-body":
		enableFeatures(1)
		write(0, bytes.ToUpper(readAll(0)))
		return 1
	}
	enableFeatures(2) // buffer the response for handle_response
	u := []byte("/rewritten" + uri)
	setURI(ptr(u), uint32(len(u)))
	setHeader(0, "X-Wasm-Config", get(getConfig))
	return 42<<32 | 1
}

//go:wasmexport handle_response
func handleResponse(reqCtx, isError uint32) {
	if reqCtx != 42 {
		setHeader(1, "X-Wasm-Response", "wrong context")
		return
	}
	setHeader(1, "X-Wasm-Response", "seen "+headerValue(1, "X-App"))
	body := readAll(1)
	write(1, append([]byte("wasm:"), body...))
}

func main() {}
