package main

import (
	"slices"
	"strings"
	"testing"
)

// TestOIDCFlags: --oidc-issuer turns the provider on, the audience
// defaults to the client id, and every bad OIDC flag is reported at once.
func TestOIDCFlags(t *testing.T) {
	getenv := func(string) string { return "" }
	o := defaultServeOptions()
	o.upstream = "http://127.0.0.1:1"
	c, err := o.complete(getenv)
	if err != nil || c.oidc != nil {
		t.Fatalf("without --oidc-issuer: %+v %v", c.oidc, err)
	}
	o.oidc.issuer, o.oidc.clientID, o.oidc.allowedDomains = "http://127.0.0.1:5556/dex", "gatehouse", []string{"Example.com"}
	c, err = o.complete(getenv)
	if err != nil || c.oidc.Audience != "gatehouse" || c.oidc.UsernameClaim != "preferred_username" ||
		c.oidc.GroupsClaim != "groups" || !slices.Equal(c.oidc.AllowedDomains, []string{"example.com"}) {
		t.Fatalf("%+v %v", c.oidc, err)
	}
	for _, tc := range []struct {
		issuer, clientID string
		domains          []string
		want             []string
	}{
		{"http://idp.example.com", "", nil, []string{`--oidc-issuer "http://idp.example.com"`, "--oidc-client-id is required"}},
		{"idp.example.com", "g", []string{"a@b"}, []string{`--oidc-issuer "idp.example.com"`, `--oidc-allowed-domains "a@b"`}},
		{"", "g", nil, []string{"need --oidc-issuer"}},
	} {
		o.oidc.issuer, o.oidc.clientID, o.oidc.allowedDomains = tc.issuer, tc.clientID, tc.domains
		_, err := o.complete(getenv)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: the error %v lacks %q", tc, err, w)
			}
		}
	}
}
