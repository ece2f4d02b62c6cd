package proxy

import (
	"context"
	"io"
	"net/http"
	"sync"
)

// clientBody is an allowed request's body on its way upstream. It records
// its first read error: that error is the client's (a malformed chunk, a
// body cut short), and upstreamError, which finds the clientBody in the
// request's context, answers it with 400 rather than 502, whatever error
// the transport reports (a read error also ends the client's connection,
// so the transport may report its context's cancellation instead). It may
// hold the body's first byte, read by guardBody before anything went
// upstream.
type clientBody struct {
	rc      io.ReadCloser
	head    [1]byte
	hasHead bool // head is the next byte to return
	eof     bool // rc has ended

	mu  sync.Mutex // guards err: the transport reads, the handler asks
	err error
}

// bodyKey is the context key of a request's clientBody.
type bodyKey struct{}

// guardBody wraps an allowed request's body in a clientBody and returns the
// request to forward, with the clientBody in its context; or r and the read
// error of a body that is broken from the start.
//
// For a body of unknown length (chunked) it first reads one byte, which
// makes the server parse the first chunk's size line: a body whose framing
// is broken from the start is then refused whole, before the upstream sees
// any of the request. A break further on cannot be caught before the start
// is streamed upstream; the client is answered 400 all the same. The read
// waits for the client's first chunk, as the upstream would; a client that
// sent "Expect: 100-continue" gets its 100 from Gatehouse, after the
// decision. A request without a body is returned as it is.
func guardBody(r *http.Request) (*http.Request, error) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return r, nil
	}
	b := &clientBody{rc: r.Body}
	if r.ContentLength < 0 {
		n, err := b.rc.Read(b.head[:])
		b.hasHead = n == 1
		switch {
		case err == io.EOF:
			b.eof = true
		case err != nil:
			return r, err
		}
	}
	r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
	r.Body = b
	return r, nil
}

// Read returns the held first byte, then the rest of the body.
func (b *clientBody) Read(p []byte) (int, error) {
	if b.hasHead && len(p) > 0 {
		p[0], b.hasHead = b.head[0], false
		if b.eof {
			return 1, io.EOF
		}
		return 1, nil
	}
	if b.eof {
		return 0, io.EOF
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

// Close closes the client's body.
func (b *clientBody) Close() error { return b.rc.Close() }

// bodyError returns the error reading r's body, if there was one.
func bodyError(r *http.Request) error {
	b, ok := r.Context().Value(bodyKey{}).(*clientBody)
	if !ok {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// badBody answers a request whose body could not be read.
func (h *Handler) badBody(w http.ResponseWriter, r *http.Request, err error) {
	rid := r.Header.Get(requestIDHeader)
	h.log.Info("request body unreadable; refused", "request_id", rid, "method", r.Method, "path", r.URL.Path, "error", err)
	h.writeError(w, r, rid, http.StatusBadRequest, codeBadRequest, "the request body could not be read: "+err.Error())
}
