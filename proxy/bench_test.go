package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"
)

// stubTransport answers every request with a small 200 without a network,
// so a benchmark measures the handler and not the loopback.
type stubTransport struct{}

func (stubTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"text/plain"}},
		Body:          io.NopCloser(strings.NewReader("ok")),
		ContentLength: 2,
		Request:       r,
	}, nil
}

// discardWriter is a reusable ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Flush()                      {}

// benchHandler serves one request shape repeatedly. The request is reused
// (it carries a sane X-Request-Id, as most requests behind an ingress do),
// with its path and headers restored before each call: the handler edits
// an allowed request's headers before forwarding them.
func benchHandler(b *testing.B, h http.Handler, method, target, token string, want int) {
	r, err := http.NewRequest(method, "http://gatehouse.test"+target, nil)
	if err != nil {
		b.Fatal(err)
	}
	if gh, ok := h.(*Handler); ok { // served as serve serves it
		r = r.WithContext(gh.ConnContext(r.Context(), nil))
	}
	r.RemoteAddr = "127.0.0.1:40000"
	r.RequestURI = target
	r.Header.Set("X-Request-Id", "bench-1")
	r.Header.Set("User-Agent", "bench")
	r.Header.Set("Accept", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	path, rawPath := r.URL.Path, r.URL.RawPath
	orig := r.Header
	hdr := make(http.Header, len(orig)+8)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status = 0
		r.URL.Path, r.URL.RawPath = path, rawPath
		clear(hdr)
		for k, v := range orig {
			hdr[k] = v
		}
		r.Header = hdr
		h.ServeHTTP(w, r)
	}
	if w.status != want {
		b.Fatalf("status %d, want %d", w.status, want)
	}
}

// BenchmarkHandler measures the data plane's own cost per request with fake
// authentication and authorization and a transport that answers at once.
// baseline is a bare httputil.ReverseProxy with the same transport and a
// buffer pool.
func BenchmarkHandler(b *testing.B) {
	up, _ := url.Parse("http://127.0.0.1:1")
	h, err := New(Config{
		Upstream: up, Authenticator: testAuthenticator(), Authorizer: testAuthorizer(&decisions{}),
		Transport: stubTransport{},
	})
	if err != nil {
		b.Fatal(err)
	}
	// The recording authorizer would grow without bound here.
	h.authz = AuthorizerFunc(func(p Principal, method, path string) (Decision, error) {
		if p == nil || strings.HasPrefix(path, "/deny") {
			return Decision{}, nil
		}
		return Decision{Allowed: true, Permission: "read"}, nil
	})
	b.Run("allow", func(b *testing.B) {
		benchHandler(b, h, "GET", "/api/v1/pipelines/3f2a9c", "alice-token", http.StatusOK)
	})
	b.Run("allow-dots", func(b *testing.B) {
		benchHandler(b, h, "GET", "/api/v1/users/alice/../bob", "alice-token", http.StatusOK)
	})
	b.Run("deny", func(b *testing.B) {
		benchHandler(b, h, "POST", "/deny/pipelines", "alice-token", http.StatusForbidden)
	})
	b.Run("anonymous", func(b *testing.B) {
		benchHandler(b, h, "GET", "/api/v1/pipelines", "", http.StatusUnauthorized)
	})
	b.Run("baseline", func(b *testing.B) {
		rp := &httputil.ReverseProxy{
			Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(up); pr.SetXForwarded() },
			Transport:  stubTransport{},
			BufferPool: newBufferPool(),
		}
		benchHandler(b, rp, "GET", "/api/v1/pipelines/3f2a9c", "", http.StatusOK)
	})
}

// BenchmarkHandlerIdleStreams is BenchmarkHandler's allow with and without
// 1000 idle long-lived connections registered and decided again every
// 250ms in the background, as Run does: ordinary requests never meet them.
func BenchmarkHandlerIdleStreams(b *testing.B) {
	for _, n := range []int{0, 1000} {
		b.Run(fmt.Sprintf("idle-%d", n), func(b *testing.B) {
			up, _ := url.Parse("http://127.0.0.1:1")
			h, err := New(Config{
				Upstream: up, Authenticator: testAuthenticator(), Transport: stubTransport{},
				Authorizer: AuthorizerFunc(func(p Principal, method, path string) (Decision, error) {
					return Decision{Allowed: p != nil, Permission: "read"}, nil
				}),
			})
			if err != nil {
				b.Fatal(err)
			}
			for i := range n {
				if !h.streams.reserve() {
					b.Fatal("no room")
				}
				token := "alice-token"
				if i%2 == 1 {
					token = "bob-token"
				}
				h.streams.add(&stream{kind: kindStream, cred: Credential{Scheme: SchemeBearer, Value: token},
					method: "GET", path: fmt.Sprintf("/api/v1/events/%d", i), end: func(string) {}})
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go h.Run(ctx)
			benchHandler(b, h, "GET", "/api/v1/pipelines/3f2a9c", "alice-token", http.StatusOK)
			if got := h.streams.len(); got != n {
				b.Fatalf("%d streams registered after the run, want %d: one was closed", got, n)
			}
		})
	}
}

// BenchmarkRecheckRound: one round of deciding 10 000 open streams of
// 1 000 credentials again, the registry's own cost (snapshot, one
// authentication per credential, one authorization per stream) with an
// authenticator and authorizer that cost next to nothing.
func BenchmarkRecheckRound(b *testing.B) {
	up, _ := url.Parse("http://127.0.0.1:1")
	h, err := New(Config{
		Upstream: up, Transport: stubTransport{}, MaxStreams: 10000,
		Authenticator: AuthenticatorFunc(func(c Credential) (Principal, error) { return alice, nil }),
		Authorizer: AuthorizerFunc(func(p Principal, method, path string) (Decision, error) {
			return Decision{Allowed: true, Permission: "read"}, nil
		}),
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 10000 {
		if !h.streams.reserve() {
			b.Fatal("no room")
		}
		h.streams.add(&stream{kind: kindStream, cred: Credential{Scheme: SchemeBearer, Value: fmt.Sprintf("token-%d", i%1000)},
			method: "GET", path: fmt.Sprintf("/api/v1/events/%d", i), end: func(string) {}})
	}
	now := time.Now()
	b.ResetTimer()
	for b.Loop() {
		h.streams.recheckAll(now)
	}
	b.StopTimer()
	if got := h.streams.len(); got != 10000 {
		b.Fatalf("%d streams registered after the rounds, want 10000: one was closed", got)
	}
}
