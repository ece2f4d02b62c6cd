package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// oidcOptions are the flags of bearer tokens from an OpenID Connect
// provider; --oidc-issuer turns them on.
type oidcOptions struct {
	issuer, clientID, audience string
	usernameClaim, groupsClaim string
	allowedDomains             []string
}

func defaultOIDCOptions() oidcOptions {
	return oidcOptions{usernameClaim: "preferred_username", groupsClaim: "groups"}
}

func (o *oidcOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.issuer, "oidc-issuer", o.issuer, "issuer URL of an OpenID Connect provider; turns on its bearer tokens (https, or http on a loopback address)")
	fs.StringVar(&o.clientID, "oidc-client-id", o.clientID, "Gatehouse's client id at the provider (required with --oidc-issuer)")
	fs.StringVar(&o.audience, "oidc-audience", o.audience, "the aud an IdP token must carry (default: --oidc-client-id)")
	fs.StringVar(&o.usernameClaim, "oidc-username-claim", o.usernameClaim, "claim that names the user; email when it is absent")
	fs.StringVar(&o.groupsClaim, "oidc-groups-claim", o.groupsClaim, `claim that lists the user's groups; policy lines "g, oidc:GROUP, ROLE" map them to roles`)
	fs.StringSliceVar(&o.allowedDomains, "oidc-allowed-domains", o.allowedDomains, "email domains IdP users must be in (empty: any)")
}

// complete checks the flags and returns the provider's configuration, nil
// without --oidc-issuer, or every problem found.
func (o *oidcOptions) complete() (*admin.OIDCConfig, []error) {
	if o.issuer == "" {
		var errs []error
		if o.clientID != "" || o.audience != "" || len(o.allowedDomains) > 0 {
			errs = append(errs, errors.New("--oidc-client-id, --oidc-audience and --oidc-allowed-domains need --oidc-issuer"))
		}
		return nil, errs
	}
	var errs []error
	if err := checkIssuer(o.issuer); err != nil {
		errs = append(errs, err)
	}
	if o.clientID == "" {
		errs = append(errs, errors.New("--oidc-client-id is required with --oidc-issuer"))
	}
	if o.usernameClaim == "" || o.groupsClaim == "" {
		errs = append(errs, errors.New("--oidc-username-claim and --oidc-groups-claim must not be empty"))
	}
	c := &admin.OIDCConfig{
		Issuer: o.issuer, ClientID: o.clientID, Audience: o.audience,
		UsernameClaim: o.usernameClaim, GroupsClaim: o.groupsClaim,
	}
	if c.Audience == "" {
		c.Audience = o.clientID
	}
	for _, d := range o.allowedDomains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || strings.ContainsAny(d, "@/ ") {
			errs = append(errs, fmt.Errorf("--oidc-allowed-domains %q: want domains like example.com", d))
			continue
		}
		c.AllowedDomains = append(c.AllowedDomains, d)
	}
	return c, errs
}

// checkIssuer checks --oidc-issuer: an https URL with a host, or http on a
// loopback address (a provider on the same machine, as in tests). Tokens
// are verified with the keys read from it, so it must not be forgeable on
// the way.
func checkIssuer(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--oidc-issuer %q: want an https:// URL with a host", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("--oidc-issuer %q: want an https:// URL (http only on a loopback address)", s)
}
