package proxy

import (
	"net/http"
	"strings"
	"testing"
)

// TestStrippedHeader checks names of every group of strippedList, their
// case and "_" variants and prefix families, and the names that must pass:
// near misses of stripped names included.
func TestStrippedHeader(t *testing.T) {
	for _, c := range []struct {
		names []string
		strip bool
	}{
		{strip: true, names: []string{
			// Gatehouse's family.
			"X-Forwarded-User", "x_forwarded_user", "X-FORWARDED-GROUPS", "X-Forwarded-Preferred-Username",
			"X-Forwarded-Access-Token", "X-Forwarded-Client-Cert", "X-Forwarded-Uri", "X-Forwarded-Method",
			"X-Forwarded-Host", "Forwarded", "x-forwarded-",
			// Other proxies' identity headers.
			"X-Auth-Request-User", "X-Auth-Request-Email", "GAP-Auth",
			"X-Remote-User", "X-Remote-Group", "X-Remote-Extra-Scopes", "Remote-User", "Remote-Groups", "Remote-Email",
			"Impersonate-User", "Impersonate-Group", "Impersonate-Uid", "Impersonate-Extra-Scopes", "impersonate_extra_reason",
			"X-WEBAUTH-USER", "X-Webauth-Email", "X-WEBAUTH-ROLE",
			"X-Consumer-ID", "X-Consumer-Custom-ID", "X-Consumer-Username", "X-Consumer-Groups",
			"X-Credential-Identifier", "X-Credential-Username", "X-Authenticated-User", "X-Authenticated-Userid",
			"X-Authenticated-Scope", "X-Anonymous-Consumer", "X-Anonymous-Groups",
			"X-authentik-username", "X-Pomerium-Claim-Email", "Cf-Access-Authenticated-User-Email",
			"X-Goog-Authenticated-User-Email", "X-Goog-IAP-JWT-Assertion", "X-Amzn-Oidc-Identity",
			"X-MS-CLIENT-PRINCIPAL", "X-MS-CLIENT-PRINCIPAL-NAME", "X-SSL-Client-Cert",
			"X-User", "X-Email", "X-Username", "X-Auth-User", "X-Proxy-User", "Proxy-User", "PROXY_USER",
			"X-Userinfo", "X-ID-Token",
			// Routing hints and method overrides.
			"X-Original-URL", "X-Original-URI", "X-Original-Host", "X-Rewrite-URL", "X-Host", "X-Envoy-Original-Path",
			"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "X-Override-Method", "x_override_method",
			"X-Original-Method",
			// Client addresses.
			"X-Real-IP", "Client-IP", "True-Client-IP", "X-Client-IP", "CF-Connecting-IP", "Cf-Connecting-Ipv6",
			"Fastly-Client-IP", "X-Cluster-Client-IP", "X-Originating-IP", "client_ip", "X-Original-Forwarded-For",
			// A long name in a stripped family.
			"X-Forwarded-" + strings.Repeat("a", 200),
		}},
		{strip: false, names: []string{
			"Accept", "Accept-Encoding", "Authorization", "Content-Type", "Content-Length", "Cookie",
			"Cache-Control", "Connection", "User-Agent", "Referer", "Range", "Priority", "Pragma", "TE",
			"Trailer", "Transfer-Encoding", "Origin", "If-None-Match", "X-Request-Id", "X-Requested-With",
			"X-Auth-Token", "X-Api-Key", "X-Csrf-Token", "X-Forwarded", "X-Userx", "X-Users", "X-Remote",
			"Remote", "Impersonate", "X-Consumer", "Client-IPs", "X-Real-IP-", "X-Hosts", "X-MS-Client",
			"X-Goog-Api-Client", "X", "", "-", "x-", strings.Repeat("x", 300),
		}},
	} {
		for _, k := range c.names {
			if got := strippedHeader(k); got != c.strip {
				t.Errorf("strippedHeader(%q) = %v, want %v", k, got, c.strip)
			}
		}
	}
}

// TestStrippedListForm checks the list's own form: normalized names, and
// prefixes that end at a "-" (the only place headerSet looks for them).
func TestStrippedListForm(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range strippedList {
		name := strings.TrimSuffix(e, "*")
		switch {
		case seen[e]:
			t.Errorf("%q is listed twice", e)
		case len(name) < 2 || len(name) > maxSetName || name != strings.ToLower(name) || strings.Contains(name, "_"):
			t.Errorf("%q is not a normalized name of 2 to %d bytes", e, maxSetName)
		case strings.HasSuffix(e, "*") && !strings.HasSuffix(name, "-"):
			t.Errorf("prefix %q must end in \"-*\"", e)
		case strings.Contains(name, "*"):
			t.Errorf("%q: only a trailing \"-*\" is a pattern", e)
		}
		seen[e] = true
	}
}

// TestScrubConnectionNamesTheList checks that Connection cannot name a
// header of the list, whatever its group, so that ReverseProxy cannot be
// made to delete what Gatehouse sets.
func TestScrubConnectionNamesTheList(t *testing.T) {
	h := http.Header{"Connection": {"keep-alive, X-Forwarded-User, Impersonate-User", "x_real_ip, X-Override-Method, Upgrade"}}
	scrubConnection(h)
	if got := h["Connection"]; len(got) != 1 || got[0] != "keep-alive, Upgrade" {
		t.Errorf("Connection %q, want only keep-alive and Upgrade", got)
	}
}

func TestStrippedHeaderAllocs(t *testing.T) {
	names := []string{"Accept", "X-Request-Id", "X-Forwarded-User", "Impersonate-Extra-Scopes", "x_real_ip",
		"X-Forwarded-" + strings.Repeat("a", 100)}
	if n := testing.AllocsPerRun(100, func() {
		for _, k := range names {
			strippedHeader(k)
		}
	}); n != 0 {
		t.Errorf("strippedHeader allocates %v times per run; want 0", n)
	}
}

func BenchmarkStrippedHeader(b *testing.B) {
	names := []string{"Accept", "Accept-Encoding", "User-Agent", "Content-Type", "Cookie", "Authorization",
		"X-Request-Id", "X-Forwarded-User", "Referer"}
	b.ReportAllocs()
	for b.Loop() {
		for _, k := range names {
			strippedHeader(k)
		}
	}
}
