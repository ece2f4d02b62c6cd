package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Request is one request as the upstream received it.
type Request struct {
	Method  string      `json:"method"`
	Path    string      `json:"path"`
	RawPath string      `json:"raw_path"`
	URI     string      `json:"uri"` // the request target, as sent
	Query   string      `json:"query"`
	Host    string      `json:"host"`
	Header  http.Header `json:"header"`
	Body    string      `json:"body"`
}

// Upstream stands for the protected server: it listens on loopback until
// the test ends and records every request that reaches it, so a test can
// assert exactly which headers were stripped or added and that a refused
// request never arrived.
//
// Unless it was given a handler of its own, it answers each request with
// the Request it recorded, as JSON, and names the method in X-Echo-Method
// too (a HEAD answer has no body). Two paths behave differently: /events
// sends one server-sent event, then holds the response open until Release
// (or 10 seconds), then sends a last one; /slow answers after 1.5 seconds.
type Upstream struct {
	URL  string // http://127.0.0.1:PORT
	Addr string // 127.0.0.1:PORT

	next    http.Handler // answers instead of the echo, when set
	release chan struct{}
	once    sync.Once // closes release
	srv     *http.Server

	mu       sync.Mutex // guards received
	received []Request
}

// NewUpstream starts an echoing Upstream.
func NewUpstream(t testing.TB) *Upstream {
	t.Helper()
	return NewRecordingUpstream(t, nil)
}

// NewRecordingUpstream starts an Upstream that records each request, then
// lets next answer it with the request body intact (nil: the echo).
func NewRecordingUpstream(t testing.TB, next http.Handler) *Upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &Upstream{URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), next: next, release: make(chan struct{})}
	u.srv = &http.Server{Handler: http.HandlerFunc(u.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = u.srv.Serve(ln) }()
	t.Cleanup(func() { u.Release(); u.srv.Close() })
	return u
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body)) // for next
	got := Request{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, URI: r.RequestURI,
		Query: r.URL.RawQuery, Host: r.Host, Header: r.Header.Clone(), Body: string(body),
	}
	u.mu.Lock()
	u.received = append(u.received, got)
	u.mu.Unlock()
	if u.next != nil {
		u.next.ServeHTTP(w, r)
		return
	}
	switch r.URL.Path {
	case "/events":
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-u.release:
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
		fmt.Fprint(w, "data: last\n\n")
		return
	case "/slow":
		time.Sleep(1500 * time.Millisecond)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Echo-Method", r.Method)
	_ = json.NewEncoder(w).Encode(got)
}

// Release lets a held /events response finish.
func (u *Upstream) Release() { u.once.Do(func() { close(u.release) }) }

// Count returns how many requests reached the upstream.
func (u *Upstream) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.received)
}

// All returns every request that reached the upstream, in order.
func (u *Upstream) All() []Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Request(nil), u.received...)
}

// Last returns the last request that reached the upstream, or the zero
// Request when none did.
func (u *Upstream) Last() Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.received) == 0 {
		return Request{}
	}
	return u.received[len(u.received)-1]
}
