// Package jsonerrors is a Traefik local plugin: the answers Traefik writes itself (the buffering
// middleware's 413, the rate limiter's 429) get the platform's error envelope,
// {"detail": "...", "code": "..."} as application/json, instead of Go's plain-text http.Error.
//
// Only untyped or plain-text answers with a configured status are rewritten: the services answer
// every error as JSON already, so their own 413 and 429 bodies pass untouched. Status and headers are kept
// (Retry-After of the 429, the request id, the security headers); only the body and its type change.
package jsonerrors

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Answer is the envelope written for one status.
type Answer struct {
	Status int    `json:"status,omitempty"`
	Code   string `json:"code,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Config is the plugin configuration.
type Config struct {
	Answers []Answer `json:"answers,omitempty"`
}

// CreateConfig returns the default configuration (no answers: nothing is rewritten).
func CreateConfig() *Config { return &Config{} }

type jsonErrors struct {
	next   http.Handler
	bodies map[int][]byte
}

// New builds the middleware.
func New(_ context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	bodies := make(map[int][]byte, len(config.Answers))
	for _, answer := range config.Answers {
		if answer.Status < 400 || answer.Status > 599 || answer.Code == "" || answer.Detail == "" {
			return nil, fmt.Errorf("%s: every answer needs a 4xx/5xx status, a code and a detail", name)
		}
		body, err := json.Marshal(map[string]string{"detail": answer.Detail, "code": answer.Code})
		if err != nil {
			return nil, err
		}
		bodies[answer.Status] = body
	}
	return &jsonErrors{next: next, bodies: bodies}, nil
}

func (j *jsonErrors) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	j.next.ServeHTTP(&envelopeWriter{ResponseWriter: rw, bodies: j.bodies}, req)
}

// envelopeWriter swaps the body of a plain-text answer with a configured status.
type envelopeWriter struct {
	http.ResponseWriter
	bodies    map[int][]byte
	replacing bool
	written   bool
}

func (w *envelopeWriter) WriteHeader(code int) {
	if w.written {
		return
	}
	if code >= 200 {
		w.written = true
	}
	body, ok := w.bodies[code]
	header := w.ResponseWriter.Header()
	if ok && plain(header.Get("Content-Type")) {
		w.replacing = true
		header.Set("Content-Type", "application/json")
		header.Set("Content-Length", strconv.Itoa(len(body)))
		w.ResponseWriter.WriteHeader(code)
		_, _ = w.ResponseWriter.Write(body)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// plain tells Traefik's own answers (no type: the buffering middleware's 413; text/plain:
// http.Error, the rate limiter's 429) from the services' (always JSON).
func plain(contentType string) bool {
	return contentType == "" || strings.HasPrefix(contentType, "text/plain")
}

func (w *envelopeWriter) Write(b []byte) (int, error) {
	if !w.written {
		w.WriteHeader(http.StatusOK)
	}
	if w.replacing {
		return len(b), nil // the plain-text body is dropped; the envelope went out instead
	}
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming responses streaming.
func (w *envelopeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack keeps WebSocket upgrades working.
func (w *envelopeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("jsonerrors: %T cannot hijack", w.ResponseWriter)
	}
	return h.Hijack()
}
