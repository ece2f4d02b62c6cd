package proxy

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// flight is what the streams need to know of a forwarded request should
// its response turn out to stream: the request as it was decided.
type flight struct {
	on     bool          // a request is in flight
	req    *http.Request // the request as received, for its client's address
	cred   Credential
	method string
	path   string
	user   string
	rid    string
}

// flightKey is the context key of a request's *flight.
type flightKey struct{}

// ConnContext gives each client connection a flight of its own, for
// http.Server.ConnContext. An HTTP/1 connection serves one request at a
// time, so its requests reuse it, and a request that does not stream costs
// the streams nothing: no allocation, no lock. Without it (or on HTTP/2)
// each forwarded request allocates its flight.
func (h *Handler) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, flightKey{}, &flight{})
}

// flightFor returns the flight of r and the request that carries it.
func flightFor(r *http.Request) (*flight, *http.Request) {
	if f, ok := r.Context().Value(flightKey{}).(*flight); ok && r.ProtoMajor == 1 {
		return f, r
	}
	f := &flight{}
	return f, r.WithContext(context.WithValue(r.Context(), flightKey{}, f))
}

// longBody is the length from which a response with a declared length
// may stream long enough to be registered (after Config.StreamAfter);
// shorter ones never are.
const longBody = 1 << 20

// errTooManyStreams refuses a stream beyond Config.MaxStreams.
var errTooManyStreams = errors.New("too many open streams")

// trackResponse registers a response that streams: text/event-stream at
// once, one of unknown or long length once it has streamed for
// Config.StreamAfter. Any other response is left as it is.
func (h *Handler) trackResponse(res *http.Response) error {
	f, _ := res.Request.Context().Value(flightKey{}).(*flight)
	if f == nil || !f.on || res.StatusCode == http.StatusSwitchingProtocols || res.Body == http.NoBody || res.Body == nil {
		return nil
	}
	if res.ContentLength >= 0 && res.ContentLength < longBody {
		return nil // short: an event stream of declared length ends by itself too
	}
	sse := isEventStream(res.Header)
	b := &streamBody{body: res.Body, reg: h.streams, st: h.newStream(kindStream, f)}
	b.st.end = b.end
	if sse {
		if !b.track() {
			return errTooManyStreams
		}
	} else {
		b.timer = time.AfterFunc(h.streams.after, b.lateTrack)
	}
	res.Body = b
	return nil
}

// isEventStream reports whether a response is server-sent events: its
// media type, parameters aside, is text/event-stream in any case.
func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	mt, _, _ := strings.Cut(ct[0], ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}

// States of a streamBody.
const (
	bodyPending = iota // not registered (yet)
	bodyTracked        // registered
	bodyDone           // closed
)

// streamBody is the upstream body of a response that streams. Once ended
// (revoked), Read returns io.EOF, so that the client sees the response end
// as a response ends (the last chunk), not an abort; the upstream body is
// closed, which ends a Read waiting on it.
type streamBody struct {
	body  io.ReadCloser
	reg   *streams
	st    *stream
	timer *time.Timer // registers it later; nil for text/event-stream
	ended atomic.Bool

	mu    sync.Mutex // guards state
	state int
}

// Read reads the upstream body until the stream ends. Bytes read after
// the end was decided are dropped.
func (b *streamBody) Read(p []byte) (int, error) {
	if b.ended.Load() {
		return 0, io.EOF
	}
	n, err := b.body.Read(p)
	if b.ended.Load() {
		return 0, io.EOF
	}
	return n, err
}

// Close unregisters the stream and closes the upstream body.
func (b *streamBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Lock()
	tracked := b.state == bodyTracked
	b.state = bodyDone
	b.mu.Unlock()
	if tracked {
		b.reg.remove(b.st)
	}
	return b.body.Close()
}

// track registers the stream unless it is registered or closed; false
// when there is no room for it.
func (b *streamBody) track() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != bodyPending {
		return true
	}
	if !b.reg.reserve() {
		return false
	}
	b.state = bodyTracked
	b.reg.add(b.st)
	return true
}

// lateTrack registers a response still streaming after Config.StreamAfter;
// without room for it, it ends: a stream is never left undecided.
func (b *streamBody) lateTrack() {
	if !b.track() {
		b.end(causeCapacity)
		b.reg.closed(b.st, causeCapacity)
	}
}

// end ends the stream (see streamBody).
func (b *streamBody) end(string) {
	b.ended.Store(true)
	_ = b.body.Close()
}
