package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"time"
)

// newTransport returns a transport for one loopback or in-cluster upstream:
// enough idle connections for the expected concurrency, timeouts on dial
// and response headers, no proxy from the environment, and no transparent
// compression (bodies pass through as the upstream sent them).
func newTransport(dial, header time.Duration) *http.Transport {
	if dial <= 0 {
		dial = 5 * time.Second
	}
	if header <= 0 {
		header = 60 * time.Second
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 1024
	t.IdleConnTimeout = 90 * time.Second
	t.ResponseHeaderTimeout = header
	t.ForceAttemptHTTP2 = false
	t.DisableCompression = true
	return t
}

// bufferPool pools the 32 KiB buffers ReverseProxy copies bodies with.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b *bufferPool) Get() []byte { return *(b.p.Get().(*[]byte)) }

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// prepareHeaders readies the headers of an allowed request before
// ReverseProxy copies them: it removes what the client must not send
// upstream (stripHeaders, an h2c upgrade offer), keeps Connection from
// naming the identity headers (ReverseProxy drops the headers Connection
// names), and sets the identity headers. Setting them here rather than in
// rewrite spares a copy of the request to carry the principal.
func prepareHeaders(hd http.Header, p Principal, forwardToken bool) {
	stripHeaders(hd, forwardToken)
	dropH2C(hd)
	if p == nil {
		return
	}
	scrubConnection(hd)
	user, id, email, groups := p.IdentityHeaders()
	hd["X-Forwarded-User"] = user
	hd["X-Forwarded-User-Id"] = id
	if email != nil {
		hd["X-Forwarded-Email"] = email
	}
	if groups != nil {
		hd["X-Forwarded-Groups"] = groups
	}
}

// rewrite prepares the outgoing request. ReverseProxy has already removed
// hop-by-hop headers (including any named in Connection) and the client's
// X-Forwarded-For/Host/Proto; prepareHeaders did the rest.
func (h *Handler) rewrite(pr *httputil.ProxyRequest) {
	out := pr.Out
	out.URL.Scheme, out.URL.Host = h.upstream.Scheme, h.upstream.Host
	if h.basePath != "" {
		out.URL.Path = h.basePath + out.URL.Path
	}
	out.URL.RawPath = ""
	pr.SetXForwarded()
}

// modifyResponse returns the request id to the client.
func modifyResponse(res *http.Response) error {
	if id := res.Request.Header[requestIDHeader]; len(id) > 0 {
		res.Header[requestIDHeader] = id
	}
	return nil
}

// upstreamError answers when the upstream could not be reached or failed
// mid-request.
func (h *Handler) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client went away; nobody to answer
	}
	h.metrics.upstreamErrors.Inc()
	rid := r.Header.Get(requestIDHeader)
	h.log.Warn("upstream request failed", "request_id", rid, "method", r.Method, "path", r.URL.Path, "error", err)
	h.errs.Write(w, rid, http.StatusBadGateway, codeUpstream, "the upstream server is unavailable")
}

// dropH2C removes a cleartext HTTP/2 upgrade offer: it is never passed on.
func dropH2C(h http.Header) {
	for _, v := range h["Upgrade"] {
		if strings.Contains(strings.ToLower(v), "h2c") {
			delete(h, "Upgrade")
			delete(h, "Http2-Settings")
			return
		}
	}
}
