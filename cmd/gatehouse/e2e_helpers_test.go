package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// do sends a request with an optional bearer token (and a JSON body, when
// there is one) and returns status, body and headers.
func do(t *testing.T, method, url, token, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	if token != "" {
		hdr = append(hdr, "Authorization", "Bearer "+token)
	}
	if body != "" {
		hdr = append(hdr, "Content-Type", "application/json")
	}
	return doRaw(t, method, url, body, hdr...)
}

// doRaw sends a request with exactly the headers given (name, value
// pairs) and no credentials.
func doRaw(t *testing.T, method, url, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return res.StatusCode, readAll(t, res.Body), res.Header
}

// rawRequest sends a request line exactly as given, so that no client
// library normalizes the path, and returns the status code.
func rawRequest(t *testing.T, base, method, target, token string) int {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method, target, host, token)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	res.Body.Close()
	return res.StatusCode
}

// rawExchange writes request to base's listener byte for byte (request
// line, headers and body, none of them normalized by a client library) and
// returns the answer's status, body and headers.
func rawExchange(t *testing.T, base, request string) (int, string, http.Header) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s: %v", strings.SplitN(request, "\r\n", 2)[0], err)
	}
	return res.StatusCode, readAll(t, res.Body), res.Header
}

// login returns an access token.
func login(t *testing.T, base, user, pw string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	status, out, _ := do(t, "POST", base+"/gatehouse/v1/login", "", string(body))
	if status != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, status, out)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("login %s: %s", user, out)
	}
	return tok.AccessToken
}
