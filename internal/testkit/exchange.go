package testkit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Exchange writes raw, a request as bytes on the wire (request line,
// headers and body, none of them normalized by a client library), to addr
// (host:port, or an http:// base URL), closes the connection's write side
// when halfClose (a client that stops sending), and reads the answer to a
// request of method (for HEAD, an answer without a body).
func Exchange(t testing.TB, addr, method, raw string, halfClose bool) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(addr, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	if halfClose {
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
	}
	line, _, _ := strings.Cut(raw, "\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s: reading the response: %v", line, err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s: reading the body: %v", line, err)
	}
	return res, body
}
