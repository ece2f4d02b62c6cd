package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
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
	res, _ := testkit.Exchange(t, host, method, fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method, target, host, token), false)
	return res.StatusCode
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
