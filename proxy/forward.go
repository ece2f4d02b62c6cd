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
// upstream (stripHeaders, an upgrade other than a WebSocket's), keeps
// Connection from naming the identity headers (ReverseProxy drops the
// headers Connection names), and sets the identity headers. Setting them
// here rather than in rewrite spares a copy of the request to carry the
// principal.
func prepareHeaders(hd http.Header, method string, p Principal, forwardToken bool) {
	stripHeaders(hd, forwardToken)
	filterUpgrade(hd, method)
	if p == nil {
		return
	}
	scrubConnection(hd)
	ih := p.IdentityHeaders()
	hd["X-Forwarded-User"] = ih.User
	hd["X-Forwarded-User-Id"] = ih.ID
	if ih.Email != nil {
		hd["X-Forwarded-Email"] = ih.Email
	}
	if ih.EmailVerified != nil {
		hd["X-Forwarded-Email-Verified"] = ih.EmailVerified
	}
	if ih.Groups != nil {
		hd["X-Forwarded-Groups"] = ih.Groups
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
	if !h.passHost {
		// An empty Host makes the transport send the upstream's own
		// (out.URL.Host): the client's Host never reaches the upstream.
		out.Host = ""
	}
	h.setXForwarded(pr)
}

var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
)

// setXForwarded sets X-Forwarded-For to the peer's address, and
// X-Forwarded-Host and X-Forwarded-Proto as Config.PublicURL and
// Config.PassHostHeader say: the public URL's host and scheme when there is
// one; otherwise the client's Host only when the operator passes it anyway,
// and the scheme the client used. The shared slices are never modified
// (http.Header.Add would copy a full slice).
func (h *Handler) setXForwarded(pr *httputil.ProxyRequest) {
	hd := pr.Out.Header
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		hd["X-Forwarded-For"] = []string{ip}
	}
	switch {
	case h.fwdHost != nil:
		hd["X-Forwarded-Host"] = h.fwdHost
	case h.passHost && pr.In.Host != "":
		hd["X-Forwarded-Host"] = []string{pr.In.Host}
	}
	switch {
	case h.fwdProto != nil:
		hd["X-Forwarded-Proto"] = h.fwdProto
	case pr.In.TLS != nil:
		hd["X-Forwarded-Proto"] = protoHTTPS
	default:
		hd["X-Forwarded-Proto"] = protoHTTP
	}
}

// modifyResponse returns the request id to the client and registers a
// response that streams (trackResponse).
func (h *Handler) modifyResponse(res *http.Response) error {
	if id := res.Request.Header[requestIDHeader]; len(id) > 0 {
		res.Header[requestIDHeader] = id
	}
	return h.trackResponse(res)
}

// upstreamError answers when the request could not be forwarded: 400 when
// the client's body could not be read (its clientBody says so), 502 when
// the upstream could not be reached or failed mid-request. When the client
// went away, nothing is answered and the connection is closed: returning
// would make the server send an empty 200 to a client that only stopped
// sending.
func (h *Handler) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errTooManyStreams) {
		if f, ok := r.Context().Value(flightKey{}).(*flight); ok {
			h.refuseStream(w, r, f)
			return
		}
	}
	if berr := bodyError(r); berr != nil {
		h.badBody(w, r, berr)
		return
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		panic(http.ErrAbortHandler)
	}
	h.metrics.upstreamErrors.Inc()
	rid := r.Header.Get(requestIDHeader)
	h.log.Warn("upstream request failed", "request_id", rid, "method", r.Method, "path", r.URL.Path, "error", err)
	h.writeError(w, r, rid, http.StatusBadGateway, codeUpstream, "the upstream server is unavailable")
}

// filterUpgrade keeps an Upgrade offer only when it is a WebSocket
// handshake: a GET (decided as such) with exactly one Upgrade header whose
// value is "websocket". Any other offer (h2c, "TLS/1.2", "foo",
// "websocket, h2c", a second Upgrade header, an upgrade on a POST) is
// dropped, with HTTP2-Settings, and the request goes on as a plain HTTP
// request, which is what a server that ignores the offer would do (RFC
// 9110, 7.8). Dropping rather than refusing keeps clients that offer h2c by
// default (curl --http2) working; either way ReverseProxy never tunnels a
// protocol Gatehouse did not decide on, because it only switches when the
// upstream answers with the protocol the request asked for.
func filterUpgrade(h http.Header, method string) {
	vs, ok := h["Upgrade"]
	if !ok {
		return
	}
	if method == http.MethodGet && len(vs) == 1 && strings.EqualFold(strings.TrimSpace(vs[0]), "websocket") {
		return
	}
	delete(h, "Upgrade")
	delete(h, "Http2-Settings")
}
