package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestCheckRefusesUnknownMethods: POST /check decides only the methods a
// policy may name (policy.ValidMethod, the IANA registry in upper case);
// any other is 400 naming the field method, in the words the policy's own
// checks use, never an answer no rule could change.
func TestCheckRefusesUnknownMethods(t *testing.T) {
	f := newAPIFixture(t, nil, "admin-password-1")
	tok := f.token(t, "admin")
	for _, c := range []struct {
		method    string
		status    int
		code, msg string // of a refusal: the code, and the message's start
	}{
		{"GET", http.StatusOK, "", ""},
		{"HEAD", http.StatusOK, "", ""},
		{"DELETE", http.StatusOK, "", ""},
		{"PROPFIND", http.StatusOK, "", ""}, // WebDAV's, in the registry
		{"FETCH", http.StatusBadRequest, "invalid_field", `method: invalid method "FETCH": want GET, HEAD, POST,`},
		{"PURGE", http.StatusBadRequest, "invalid_field", `method: invalid method "PURGE": want GET,`},
		{"PRI", http.StatusBadRequest, "invalid_field", `method: invalid method "PRI"`},
		{"get", http.StatusBadRequest, "invalid_field", `method: invalid method "get": methods are upper case (GET)`},
		{"GET ", http.StatusBadRequest, "invalid_field", `method: invalid method "GET "`},
		{"", http.StatusBadRequest, "invalid_field", "method: is required"},
	} {
		t.Run(c.method, func(t *testing.T) {
			body := fmt.Sprintf(`{"user": "admin", "method": %q, "path": "/api/v1/pipelines"}`, c.method)
			res, code, msg := f.call(t, "POST", "/check", tok, strings.NewReader(body))
			if res.StatusCode != c.status || code != c.code || !strings.HasPrefix(msg, c.msg) {
				t.Errorf("%d %s %q; want %d %s starting %q", res.StatusCode, code, msg, c.status, c.code, c.msg)
			}
		})
	}
}
