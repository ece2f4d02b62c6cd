package proxy

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"
)

// frame builds an unmasked server frame with a payload of n bytes.
func frame(opcode byte, n int) []byte {
	var h []byte
	switch {
	case n < 126:
		h = []byte{0x80 | opcode, byte(n)}
	case n < 1<<16:
		h = []byte{0x80 | opcode, 126, 0, 0}
		binary.BigEndian.PutUint16(h[2:], uint16(n))
	default:
		h = make([]byte, 10)
		h[0], h[1] = 0x80|opcode, 127
		binary.BigEndian.PutUint64(h[2:], uint64(n))
	}
	return append(h, bytes.Repeat([]byte{'x'}, n)...)
}

// TestWebSocketFrameBoundaries follows a server's bytes written in pieces
// that split the head, frame headers (7-, 16- and 64-bit lengths) and
// payloads anywhere, and checks where a frame may start.
func TestWebSocketFrameBoundaries(t *testing.T) {
	head := []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
	frames := [][]byte{frame(0x1, 5), frame(0x2, 300), frame(0x2, 70000), frame(0x9, 0)}
	for _, step := range []int{1, 2, 3, 7, 64, 1000} {
		c := &wsConn{}
		c.follow(head[:len(head)-1])
		if c.atBoundary() {
			t.Fatalf("step %d: at a boundary inside the head", step)
		}
		c.follow(head[len(head)-1:])
		for i, f := range frames {
			if !c.atBoundary() {
				t.Fatalf("step %d: not at a boundary before frame %d", step, i)
			}
			for off := 0; off < len(f); off += step {
				c.follow(f[off:min(off+step, len(f))])
				if end := off+step >= len(f); c.atBoundary() != end {
					t.Fatalf("step %d, frame %d, offset %d: atBoundary %v, want %v", step, i, off, c.atBoundary(), end)
				}
			}
		}
	}
}

// TestWebSocketCloseMidFrame: a close frame is written between frames, and
// never inside one; inside one the connection is closed without it.
func TestWebSocketCloseMidFrame(t *testing.T) {
	for _, tc := range []struct {
		name      string
		written   []byte
		wantClose bool
	}{
		{"between frames", frame(0x1, 10), true},
		{"inside a frame", frame(0x1, 10)[:6], false},
		{"after the server's close", frame(0x8, 2), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := net.Pipe()
			c := &wsConn{Conn: server}
			c.follow([]byte("HTTP/1.1 101 Switching Protocols\r\n\r\n"))
			c.follow(tc.written)
			got := make(chan []byte, 1)
			go func() { b, _ := io.ReadAll(client); got <- b }()
			c.closeWith(wsPolicyViolation, "access revoked")
			var b []byte
			select {
			case b = <-got:
			case <-time.After(2 * time.Second):
				t.Fatal("the connection was not closed")
			}
			want := closeFrame(wsPolicyViolation, "access revoked")
			if tc.wantClose != bytes.Equal(b, want) {
				t.Errorf("the client got %q; want the close frame: %v", b, tc.wantClose)
			}
			if _, err := c.Write([]byte("late")); err == nil {
				t.Error("a write after the close succeeded")
			}
		})
	}
}
