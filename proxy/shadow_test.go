package proxy

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// shadowUser is the principal of the shadow mode tests.
type shadowUser struct{}

func (shadowUser) UserID() string   { return "u-gus" }
func (shadowUser) Username() string { return "gus" }
func (shadowUser) Subject() string  { return "user:gus" }

func (shadowUser) IdentityHeaders() IdentityHeaders {
	return IdentityHeaders{User: []string{"gus"}, ID: []string{"u-gus"}, Groups: []string{"guest"}}
}

// shadowHandler builds a data plane in front of an upstream that answers
// 200 "upstream" to everything. Tokens: "good" is gus, anything else is
// invalid. The policy allows /allowed only and cannot decide /broken.
func shadowHandler(t *testing.T, shadow bool) (*Handler, *prometheus.Registry, *bytes.Buffer) {
	t.Helper()
	return shadowHandlerWith(t, func(c *Config) { c.Shadow = shadow })
}

// shadowHandlerWith is shadowHandler with the configuration set by set.
func shadowHandlerWith(t *testing.T, set func(*Config)) (*Handler, *prometheus.Registry, *bytes.Buffer) {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "upstream "+r.Header.Get("X-Forwarded-User"))
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	cfg := Config{
		Upstream: u,
		Authenticator: AuthenticatorFunc(func(c Credential) (Principal, error) {
			if c.Value == "good" {
				return shadowUser{}, nil
			}
			return nil, nil
		}),
		Authorizer: AuthorizerFunc(func(p Principal, method, path string) (Decision, error) {
			switch path {
			case "/allowed":
				return Decision{Allowed: true, Permission: "read"}, nil
			case "/broken":
				return Decision{}, errors.New("no decision")
			}
			return Decision{}, nil
		}),
		Metrics: NewMetrics(reg),
		// As --log-level warn: audit lines stay, info lines go.
		Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	set(&cfg)
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, reg, &logs
}

func shadowCount(t *testing.T, reg *prometheus.Registry, decision string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "decision" && l.GetValue() == decision {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestShadowModeRelaxesOnlyThePolicy(t *testing.T) {
	cases := []struct {
		name, token, path string
		shadow            bool
		status            int
		decision          string // the gatehouse_requests_total decision counted
	}{
		{"denied, enforced", "good", "/denied", false, http.StatusForbidden, "deny"},
		{"denied, shadow", "good", "/denied", true, http.StatusOK, "would_deny"},
		{"allowed, shadow", "good", "/allowed", true, http.StatusOK, "allow"},
		{"anonymous denied, shadow", "", "/denied", true, http.StatusUnauthorized, "unauthenticated"},
		{"bad token, shadow", "bad", "/allowed", true, http.StatusUnauthorized, "unauthenticated"},
		{"undecidable, shadow", "good", "/broken", true, http.StatusServiceUnavailable, "error"},
		{"unreadable path, shadow", "good", "/a%2Fb", true, http.StatusBadRequest, "bad_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, reg, logs := shadowHandler(t, c.shadow)
			req := httptest.NewRequest("GET", c.path, nil)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			if got := shadowCount(t, reg, c.decision); got != 1 {
				t.Errorf("decision %q counted %v times", c.decision, got)
			}
			if c.decision != "allow" && shadowCount(t, reg, "allow") != 0 {
				t.Error("counted as allowed too")
			}
			// Audit lines name the client without its port (httptest's
			// peer is 192.0.2.1:1234), as the control plane's do.
			if c.decision == "deny" || c.decision == "would_deny" {
				if !strings.Contains(logs.String(), `"client":"192.0.2.1"`) {
					t.Errorf("the %s line does not name the client 192.0.2.1, without a port:\n%s", c.decision, logs)
				}
			}
			wouldDeny := c.decision == "would_deny"
			if got := strings.Contains(logs.String(), `"msg":"would_deny"`); got != wouldDeny {
				t.Errorf("would_deny logged = %v, want %v:\n%s", got, wouldDeny, logs)
			}
			if wouldDeny {
				if !strings.HasPrefix(rec.Body.String(), "upstream gus") {
					t.Errorf("upstream did not get the request with identity: %q", rec.Body)
				}
				for _, want := range []string{`"level":"` + LevelAudit.String() + `"`, `"audit":"would_deny"`, `"user":"gus"`, `"method":"GET"`, `"path":"/denied"`} {
					if !strings.Contains(logs.String(), want) {
						t.Errorf("would_deny log lacks %s:\n%s", want, logs)
					}
				}
			}
		})
	}
}
