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
// Config.StreamAfter. A short response of declared length is left as it
// is; one of unknown length gets a pooled streamBody and a timer, and is
// registered only if still streaming when the timer fires.
func (h *Handler) trackResponse(res *http.Response) error {
	f, _ := res.Request.Context().Value(flightKey{}).(*flight)
	if f == nil || !f.on || res.StatusCode == http.StatusSwitchingProtocols || res.Body == http.NoBody || res.Body == nil {
		return nil
	}
	if res.ContentLength >= 0 && res.ContentLength < longBody {
		return nil // short: an event stream of declared length ends by itself too
	}
	if isEventStream(res.Header) {
		b := &streamBody{body: res.Body, h: h, fl: *f}
		if _, ok := b.track(); !ok {
			return errTooManyStreams // answered 503 by upstreamError
		}
		res.Body = b
		return nil
	}
	b := h.bodies.Get().(*streamBody)
	b.body, b.fl = res.Body, *f
	b.timer.Reset(h.streams.after)
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
	bodyPending int32 = iota // not registered (yet)
	bodyTracked              // registered, or being registered
	bodyDone                 // closed before it was registered
)

// streamBody is the upstream body of a response that streams. Once ended
// (revoked), Read ends it (see Read) and the upstream body is closed,
// which ends a Read waiting on it.
//
// A body that ends before it is registered (most responses of unknown
// length) goes back to the handler's pool: it took no lock and, once the
// pool is warm, no allocation. One that was registered, or whose timer
// fired, is left to the garbage collector, since the registry or the
// timer's goroutine may still hold it.
type streamBody struct {
	body  io.ReadCloser
	h     *Handler
	fl    flight      // the request, as it was in flight
	timer *time.Timer // calls lateTrack; nil for an event stream (which endErr reads)
	ended atomic.Bool
	state atomic.Int32

	mu sync.Mutex // held while registering, so that Close waits for it
	st *stream    // the registered stream; guarded by mu
}

// newPooledBody is the handler's pool's New: a body with its own stopped
// timer.
func (h *Handler) newPooledBody() any {
	b := &streamBody{h: h}
	b.timer = time.AfterFunc(time.Hour, b.lateTrack)
	b.timer.Stop()
	return b
}

// Read reads the upstream body until the stream ends. Bytes read after
// the end was decided are dropped. An event stream then ends as a response
// ends (EOF: the last chunk; its client reconnects and is refused); any
// other response fails (errStreamEnded), so that the client sees it cut
// short, never a truncated download that looks complete.
func (b *streamBody) Read(p []byte) (int, error) {
	if b.ended.Load() {
		return 0, b.endErr()
	}
	n, err := b.body.Read(p)
	if b.ended.Load() {
		return 0, b.endErr()
	}
	return n, err
}

// errStreamEnded ends a response that is not an event stream when its
// access ends.
var errStreamEnded = errors.New("access to the stream ended")

// endErr is what Read returns once the stream has ended.
func (b *streamBody) endErr() error {
	if b.timer == nil { // an event stream
		return io.EOF
	}
	return errStreamEnded
}

// Close closes the upstream body and unregisters the stream; a body that
// was never registered, and never will be, goes back to the pool.
func (b *streamBody) Close() error {
	err := b.body.Close()
	stopped := b.timer != nil && b.timer.Stop()
	if b.state.CompareAndSwap(bodyPending, bodyDone) {
		if stopped {
			b.recycle()
		}
		return err
	}
	b.mu.Lock()
	st := b.st
	b.mu.Unlock()
	if st != nil {
		b.h.streams.remove(st)
	}
	return err
}

// recycle puts a body nobody else holds back in the pool.
func (b *streamBody) recycle() {
	b.body, b.fl = nil, flight{}
	b.ended.Store(false)
	b.state.Store(bodyPending)
	b.h.bodies.Put(b)
}

// track registers the stream while its request is in flight. Without
// room for it, it returns the stream it could not register and false.
func (b *streamBody) track() (*stream, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.state.CompareAndSwap(bodyPending, bodyTracked) {
		return nil, true // closed meanwhile: nothing to register
	}
	st := b.h.newStream(kindStream, &b.fl)
	st.end = b.end
	if !b.h.streams.reserve() {
		return st, false
	}
	b.st = st
	b.h.streams.add(st)
	return st, true
}

// lateTrack registers a response still streaming after Config.StreamAfter;
// without room for it, it ends: a stream is never left undecided.
func (b *streamBody) lateTrack() {
	if st, ok := b.track(); !ok {
		b.end(causeCapacity)
		b.h.streams.closed(st, causeCapacity)
	}
}

// end ends the stream (see streamBody).
func (b *streamBody) end(string) {
	b.ended.Store(true)
	_ = b.body.Close()
}
