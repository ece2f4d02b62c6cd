package testkit

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// StreamHandler is an upstream of long-lived connections: a request with
// "Upgrade: websocket" becomes a WebSocket that sends a text frame "tick"
// every 50ms; any other request gets server-sent events, "data: tick"
// every 50ms (with "?plain", a chunked text/plain response instead), until
// the client or Gatehouse goes away. Open counts the connections open on
// the upstream's side, so a test can see them end there too.
type StreamHandler struct {
	Open atomic.Int32
}

// ServeHTTP serves a WebSocket or a stream.
func (s *StreamHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.Open.Add(1)
	defer s.Open.Add(-1)
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		s.serveWebSocket(w, r)
		return
	}
	if r.URL.RawQuery == "plain" {
		w.Header().Set("Content-Type", "text/plain")
	} else {
		w.Header().Set("Content-Type", "text/event-stream")
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := io.WriteString(w, "data: tick\n\n"); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
	}
}

func (s *StreamHandler) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		acceptKey(r.Header.Get("Sec-WebSocket-Key")))
	if brw.Flush() != nil {
		return
	}
	done := make(chan struct{})
	go func() { // the client's frames are read and dropped; EOF ends it
		_, _ = io.Copy(io.Discard, c)
		close(done)
	}()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	frame := []byte{0x81, 4, 't', 'i', 'c', 'k'}
	for {
		if _, err := c.Write(frame); err != nil {
			return
		}
		select {
		case <-done:
			return
		case <-t.C:
		}
	}
}

func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// WebSocket is a minimal RFC 6455 client: enough to open a connection
// through Gatehouse and read what the server sends, close frame included.
type WebSocket struct {
	c  net.Conn
	br *bufio.Reader
}

// DialWebSocket opens a WebSocket to path on addr; headers are extra
// "Name: value" lines (an Authorization header). A refused upgrade fails
// the test with the status it got.
func DialWebSocket(t testing.TB, addr, path string, headers ...string) *WebSocket {
	t.Helper()
	ws, res, err := TryWebSocket(addr, path, headers...)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %d, want 101", res.StatusCode)
	}
	t.Cleanup(func() { ws.c.Close() })
	return ws
}

// TryWebSocket sends a WebSocket upgrade and returns the answer; the
// WebSocket is nil unless the answer is 101.
func TryWebSocket(addr, path string, headers ...string) (*WebSocket, *http.Response, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: gatehouse.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		c.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, res, nil
	}
	_ = c.SetReadDeadline(time.Time{})
	return &WebSocket{c: c, br: br}, res, nil
}

// Frame is one frame the server sent.
type Frame struct {
	Opcode  byte
	Payload []byte
}

// ReadFrame reads the next frame, waiting at most timeout.
func (w *WebSocket) ReadFrame(timeout time.Duration) (Frame, error) {
	_ = w.c.SetReadDeadline(time.Now().Add(timeout))
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		return Frame{}, err
	}
	if h[1]&0x80 != 0 {
		return Frame{}, errors.New("the server sent a masked frame")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(w.br, b[:]); err != nil {
			return Frame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(w.br, b[:]); err != nil {
			return Frame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 1<<20 {
		return Frame{}, fmt.Errorf("a frame of %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(w.br, p); err != nil {
		return Frame{}, err
	}
	return Frame{Opcode: h[0] & 0x0f, Payload: p}, nil
}

// Closed is how a WebSocket ended.
type Closed struct {
	Code   int           // the close frame's code; 0 without a close frame
	Reason string        // its reason
	After  time.Duration // from WaitClose's call to the close frame (or the end)
	At     time.Time     // when the close frame (or the end) arrived
	// EOF: the connection was closed after the close frame (or without).
	EOF bool
}

// WaitClose reads frames until a close frame, then expects the end of the
// connection, waiting at most timeout in all. It fails if the connection
// is still open then.
func (w *WebSocket) WaitClose(timeout time.Duration) (Closed, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	var out Closed
	for {
		f, err := w.ReadFrame(time.Until(deadline))
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
				if out.At.IsZero() {
					out.At, out.After = time.Now(), time.Since(start)
				}
				out.EOF = true
				return out, nil
			}
			return out, err
		}
		if f.Opcode == 0x8 {
			if len(f.Payload) >= 2 {
				out.Code, out.Reason = int(binary.BigEndian.Uint16(f.Payload)), string(f.Payload[2:])
			}
			out.At, out.After = time.Now(), time.Since(start)
		}
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// Close closes the client's connection.
func (w *WebSocket) Close() { w.c.Close() }

// EventStream is an open response read line by line.
type EventStream struct {
	res   *http.Response
	lines chan string
	end   chan streamEnd
}

// streamEnd is how and when a body ended.
type streamEnd struct {
	err error // nil for a clean end
	at  time.Time
}

// OpenStream sends a GET for url with header lines ("Name: value") and
// returns the response being read; it fails the test unless the answer
// is 200.
func OpenStream(t testing.TB, url string, headers ...string) *EventStream {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	res, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("stream answered %d, want 200: %s", res.StatusCode, b)
	}
	s := &EventStream{res: res, lines: make(chan string, 1024), end: make(chan streamEnd, 1)}
	go func() {
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			select {
			case s.lines <- sc.Text():
			default:
			}
		}
		s.end <- streamEnd{err: sc.Err(), at: time.Now()}
	}()
	return s
}

// WaitLine waits for a line of the body; false when none came in time.
func (s *EventStream) WaitLine(timeout time.Duration) bool {
	select {
	case <-s.lines:
		return true
	case <-time.After(timeout):
		return false
	}
}

// WaitEnd waits at most timeout for the body to end and returns how long
// that took, whether it ended, and how (nil: the last chunk, a clean end).
func (s *EventStream) WaitEnd(timeout time.Duration) (time.Duration, bool, error) {
	start := time.Now()
	at, ended, err := s.WaitEndAt(timeout)
	if !ended {
		return timeout, false, nil
	}
	return max(at.Sub(start), 0), true, err
}

// WaitEndAt waits at most timeout for the body to end and returns when it
// ended, whether it did, and how (nil: a clean end).
func (s *EventStream) WaitEndAt(timeout time.Duration) (time.Time, bool, error) {
	select {
	case e := <-s.end:
		return e.at, true, e.err
	case <-time.After(timeout):
		return time.Time{}, false, nil
	}
}
