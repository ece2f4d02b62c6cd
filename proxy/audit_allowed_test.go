package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAuditAllowedLine: with AuditAllowed every request the policy allows
// writes one "allow" audit line naming the user, method, path, client and
// permission; without it none does, and refusals and shadow mode's
// would_deny lines are as they were either way.
func TestAuditAllowedLine(t *testing.T) {
	cases := []struct {
		name, token, path string
		shadow            bool
		allowLine         bool   // with AuditAllowed
		user              string // of the allow line
	}{
		{"allowed", "good", "/allowed", false, true, "gus"},
		{"allowed, anonymous", "", "/allowed", false, true, ""},
		{"denied", "good", "/denied", false, false, ""},
		{"anonymous denied", "", "/denied", false, false, ""},
		{"would deny", "good", "/denied", true, false, ""},
		{"bad token", "bad", "/allowed", false, false, ""},
	}
	for _, c := range cases {
		for _, on := range []bool{false, true} {
			name := c.name + ", off"
			if on {
				name = c.name + ", on"
			}
			t.Run(name, func(t *testing.T) {
				h, _, logs := shadowHandlerWith(t, func(cfg *Config) { cfg.Shadow, cfg.AuditAllowed = c.shadow, on })
				req := httptest.NewRequest("GET", c.path, nil)
				req.Header.Set("X-Request-Id", "rid-1")
				if c.token != "" {
					req.Header.Set("Authorization", "Bearer "+c.token)
				}
				h.ServeHTTP(httptest.NewRecorder(), req)
				var allows []map[string]any
				for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
					var m map[string]any
					if line == "" {
						continue
					}
					if err := json.Unmarshal([]byte(line), &m); err != nil {
						t.Fatalf("not a JSON line: %q", line)
					}
					if m["audit"] == "allow" {
						allows = append(allows, m)
					}
				}
				want := 0
				if on && c.allowLine {
					want = 1
				}
				if len(allows) != want {
					t.Fatalf("%d allow lines, want %d:\n%s", len(allows), want, logs)
				}
				if want == 0 {
					return
				}
				got := allows[0]
				for k, v := range map[string]string{
					"msg": "request allowed", "level": LevelAudit.String(), "request_id": "rid-1", "user": c.user,
					"method": "GET", "path": c.path, "client": "192.0.2.1", "permission": "read",
				} {
					if got[k] != v {
						t.Errorf("%s = %v, want %q:\n%s", k, got[k], v, logs)
					}
				}
			})
		}
	}
}

// TestAuditAllowedKeepsRefusals: the option adds allow lines and changes
// no answer.
func TestAuditAllowedKeepsRefusals(t *testing.T) {
	for _, path := range []string{"/allowed", "/denied"} {
		var codes [2]int
		for i, on := range []bool{false, true} {
			h, _, _ := shadowHandlerWith(t, func(cfg *Config) { cfg.AuditAllowed = on })
			req := httptest.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer good")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			codes[i] = rec.Code
		}
		if codes[0] != codes[1] || (path == "/allowed") != (codes[0] == http.StatusOK) {
			t.Errorf("%s: status %d without the option, %d with it", path, codes[0], codes[1])
		}
	}
}
