package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// TestDataPlaneAttacks replays attacks an outside test found against the
// data plane, on raw sockets, through the built binary and in front of a
// recording upstream: forged identity, client-address and routing headers
// (and a Connection header naming one), a forged Host, a "_method" query
// parameter, an Upgrade to another protocol than WebSocket, and a chunked
// body with a broken chunk size. The unit tests in proxy/ cover each in
// depth; this proves serve wires them (--public-url included).
func TestDataPlaneAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	const public = "gatehouse.example.com"
	srv := testkit.StartGatehouse(t, "admin-password-1", "--public-url", "https://"+public)
	token := login(t, srv.URL, "admin", "admin-password-1")
	upHost := strings.TrimPrefix(srv.Up.URL, "http://")
	request := func(line string, headers ...string) string {
		return line + " HTTP/1.1\r\nHost: evil.example\r\nAuthorization: Bearer " + token + "\r\n" +
			strings.Join(append(headers, "Connection: close"), "\r\n") + "\r\n\r\n"
	}
	for _, c := range []struct {
		name    string
		request string
		status  int
		code    string                      // the error code of a refusal
		check   func(testkit.Request) error // what the upstream received, when forwarded
	}{
		{name: "forged identity, addresses and Host",
			request: request("GET /api/v1/pipelines",
				"Impersonate-User: root", "Impersonate-Group: system:masters", "X-Webauth-User: root",
				"X-Consumer-Username: root", "X_Authenticated_Userid: root", "Remote-User: root",
				"X-Override-Method: DELETE", "True-Client-IP: 10.9.9.9", "CF-Connecting-IP: 10.9.9.9",
				"X-Forwarded-Host: forged.example", "X-Forwarded-User: root",
				"Connection: X-Forwarded-User, Impersonate-User"),
			status: http.StatusOK,
			check: func(s testkit.Request) error {
				for _, k := range []string{"Impersonate-User", "Impersonate-Group", "X-Webauth-User", "X-Consumer-Username",
					"X_Authenticated_Userid", "Remote-User", "X-Override-Method", "True-Client-Ip", "Cf-Connecting-Ip"} {
					if v, ok := s.Header[k]; ok {
						return fmt.Errorf("upstream got the client's %s: %q", k, v)
					}
				}
				want := map[string]string{"Host": upHost, "X-Forwarded-Host": public, "X-Forwarded-Proto": "https",
					"X-Forwarded-User": "admin", "X-Forwarded-For": "127.0.0.1"}
				got := map[string]string{"Host": s.Host}
				for k := range want {
					if k != "Host" {
						got[k] = strings.Join(s.Header.Values(k), ",")
					}
				}
				for k, v := range want {
					if got[k] != v {
						return fmt.Errorf("upstream got %s %q, want %q", k, got[k], v)
					}
				}
				return nil
			}},
		{name: "_method query parameter",
			request: request("POST /api/v1/pipelines/p1?_method=DELETE", "Content-Length: 0"),
			status:  http.StatusBadRequest, code: "bad_request"},
		{name: "Upgrade to another protocol",
			request: request("GET /api/v1/pipelines", "Connection: Upgrade", "Upgrade: foo"),
			status:  http.StatusOK,
			check: func(s testkit.Request) error {
				if v := s.Header.Values("Upgrade"); len(v) != 0 {
					return fmt.Errorf("upstream got Upgrade %q", v)
				}
				return nil
			}},
		{name: "malformed chunked body",
			request: request("POST /api/v1/pipelines", "Transfer-Encoding: chunked") + "zz\r\nhello\r\n0\r\n\r\n",
			status:  http.StatusBadRequest, code: "bad_request"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := srv.Up.Count()
			res, body := testkit.Exchange(t, srv.URL, "", c.request, false)
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.status, body)
			}
			forwarded := srv.Up.Count() - before
			if c.check == nil {
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != c.code || e.Error.Message == "" {
					t.Errorf("refusal %s, want a JSON error with code %s", body, c.code)
				}
				if forwarded != 0 {
					t.Errorf("refused, but %d requests reached the upstream", forwarded)
				}
				return
			}
			if forwarded != 1 {
				t.Fatalf("%d requests reached the upstream, want 1", forwarded)
			}
			if err := c.check(srv.Up.Last()); err != nil {
				t.Error(err)
			}
		})
	}
}
