// Package requestid is a Traefik local plugin: every request gets an X-Request-ID.
//
// A well-formed incoming id (1-128 of [A-Za-z0-9._-]) is kept; otherwise a UUID v4 is set. The
// id goes to the backend and back to the client: the backend's own echo wins, so the response
// never carries the header twice.
package requestid

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
)

// Config is the plugin configuration.
type Config struct {
	HeaderName string `json:"headerName,omitempty"`
}

// CreateConfig returns the default configuration.
func CreateConfig() *Config { return &Config{HeaderName: "X-Request-ID"} }

type requestID struct {
	next   http.Handler
	header string
}

// New builds the middleware.
func New(_ context.Context, next http.Handler, config *Config, _ string) (http.Handler, error) {
	return &requestID{next: next, header: config.HeaderName}, nil
}

func valid(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// idWriter adds the id to the response headers unless the backend already echoed it.
type idWriter struct {
	http.ResponseWriter
	header string
	id     string
	done   bool
}

func (w *idWriter) ensure() {
	if w.done {
		return
	}
	w.done = true
	if w.ResponseWriter.Header().Get(w.header) == "" {
		w.ResponseWriter.Header().Set(w.header, w.id)
	}
}

func (w *idWriter) WriteHeader(code int) {
	w.ensure()
	w.ResponseWriter.WriteHeader(code)
}

func (w *idWriter) Write(b []byte) (int, error) {
	w.ensure()
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming responses streaming.
func (w *idWriter) Flush() {
	w.ensure()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack keeps WebSocket upgrades working.
func (w *idWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("requestid: %T cannot hijack", w.ResponseWriter)
	}
	return h.Hijack()
}

func (r *requestID) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	id := req.Header.Get(r.header)
	if !valid(id) {
		id = newID()
		req.Header.Set(r.header, id)
	}
	r.next.ServeHTTP(&idWriter{ResponseWriter: rw, header: r.header, id: id}, req)
}
