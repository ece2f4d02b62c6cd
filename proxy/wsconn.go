package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"
)

// WebSocket close codes (RFC 6455, 7.4.1).
const (
	wsPolicyViolation = 1008 // access ended
	wsGoingAway       = 1001 // Gatehouse is stopping
)

// closeWriteWait bounds how long closing a WebSocket waits for a write in
// progress (a slow client) before it gives up on the close frame.
const closeWriteWait = 250 * time.Millisecond

// upgradeWriter is the ResponseWriter of a WebSocket upgrade: ReverseProxy
// hijacks the client connection through it after the upstream's 101, and
// gets the connection wrapped in a wsConn, registered in the streams.
type upgradeWriter struct {
	http.ResponseWriter
	reg    *streams
	st     *stream
	cancel context.CancelFunc // ends the upstream side
	ws     *wsConn            // set by Hijack
}

// Unwrap lets http.ResponseController reach the server's writer.
func (u *upgradeWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// Hijack hands the client connection to ReverseProxy, wrapped so that the
// server's frames are followed and a close frame can be put between two
// of them; the buffered writer ReverseProxy writes the 101 with goes
// through the wrapper too.
func (u *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(u.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if brw.Writer.Buffered() > 0 {
		if err := brw.Writer.Flush(); err != nil {
			c.Close()
			return nil, nil, err
		}
	}
	u.ws = &wsConn{Conn: c}
	u.st.end = u.end
	u.reg.add(u.st)
	return u.ws, bufio.NewReadWriter(brw.Reader, bufio.NewWriter(u.ws)), nil
}

// end closes the WebSocket for cause, then the upstream side.
func (u *upgradeWriter) end(cause string) {
	code, reason := wsPolicyViolation, "access revoked"
	switch cause {
	case causeExpired:
		reason = "token expired"
	case causeShutdown:
		code, reason = wsGoingAway, "server shutting down"
	}
	u.ws.closeWith(code, reason)
	u.cancel()
}

// wsConn is a hijacked client connection whose server-to-client bytes are
// followed frame by frame (RFC 6455, 5.2): first the HTTP response head,
// then frames. closeWith can so write a close frame where a frame may
// start, never inside one.
type wsConn struct {
	net.Conn

	mu      sync.Mutex // guards everything below, and serializes writes
	closed  bool       // after closeWith or Close: writes fail
	inBody  bool       // the response head has ended
	headEnd int        // bytes of "\r\n\r\n" matched at the end of the head so far
	hdr     [14]byte   // the frame header being read
	hdrLen  int        // bytes of it read
	left    uint64     // payload bytes of the current frame still to come
	sawEnd  bool       // the server sent a close frame
}

var errConnClosed = errors.New("websocket closed by gatehouse")

// Write passes server bytes to the client and follows the frames.
func (c *wsConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, errConnClosed
	}
	n, err := c.Conn.Write(p)
	c.follow(p[:n])
	return n, err
}

// Close closes the connection. The connection is closed before the lock
// is taken, so that a write blocked on a slow client ends first.
func (c *wsConn) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return err
}

// atBoundary reports whether the next byte the client gets starts a frame.
// Callers hold mu.
func (c *wsConn) atBoundary() bool { return c.inBody && c.hdrLen == 0 && c.left == 0 }

// follow advances the frame state over bytes written. Callers hold mu.
func (c *wsConn) follow(b []byte) {
	for len(b) > 0 {
		switch {
		case !c.inBody:
			b = c.followHead(b)
		case c.left > 0:
			k := min(uint64(len(b)), c.left)
			c.left -= k
			b = b[k:]
		default:
			c.hdr[c.hdrLen] = b[0]
			c.hdrLen++
			b = b[1:]
			if need := frameHeaderLen(c.hdr[:c.hdrLen]); c.hdrLen == need {
				c.left = framePayloadLen(c.hdr[:need])
				c.sawEnd = c.sawEnd || c.hdr[0]&0x0f == 0x8
				c.hdrLen = 0
			}
		}
	}
}

// followHead consumes head bytes up to and including "\r\n\r\n".
func (c *wsConn) followHead(b []byte) []byte {
	const end = "\r\n\r\n"
	for i, x := range b {
		switch {
		case x == end[c.headEnd]:
			c.headEnd++
		case x == '\r':
			c.headEnd = 1
		default:
			c.headEnd = 0
		}
		if c.headEnd == len(end) {
			c.inBody = true
			return b[i+1:]
		}
	}
	return nil
}

// frameHeaderLen returns the length of the frame header that begins with
// h, as far as h tells: 2 until the length byte is known.
func frameHeaderLen(h []byte) int {
	if len(h) < 2 {
		return 2
	}
	n := 2
	switch h[1] & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if h[1]&0x80 != 0 { // masked: servers do not, but follow it anyway
		n += 4
	}
	return n
}

// framePayloadLen returns the payload length a whole frame header gives.
func framePayloadLen(h []byte) uint64 {
	switch l := h[1] & 0x7f; l {
	case 126:
		return uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		return binary.BigEndian.Uint64(h[2:10])
	default:
		return uint64(l)
	}
}

// closeWith ends the connection: with a close frame of code and reason
// when the client is between two frames (and the server has not closed
// already), then the TCP connection. A write in progress is given
// closeWriteWait to finish; one that does not leaves the client inside a
// frame, and the connection is closed without a close frame.
func (c *wsConn) closeWith(code int, reason string) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(closeWriteWait))
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed && c.atBoundary() && !c.sawEnd {
		_, _ = c.Conn.Write(closeFrame(code, reason))
	}
	c.closed = true
	_ = c.Conn.Close()
}

// closeFrame returns an unmasked close frame (a server's) with code and
// reason (at most 123 bytes, as a control frame's payload allows).
func closeFrame(code int, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	f := make([]byte, 4, 4+len(reason))
	f[0] = 0x88 // FIN, opcode close
	f[1] = byte(2 + len(reason))
	binary.BigEndian.PutUint16(f[2:], uint16(code))
	return append(f, reason...)
}
