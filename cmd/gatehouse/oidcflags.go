package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/admin"
)

// oidcOptions are the flags of bearer tokens from an OpenID Connect
// provider; --oidc-issuer turns them on.
type oidcOptions struct {
	issuer, clientID, audience string
	clientSecretFile           string
	scopes                     []string
	usernameClaim, groupsClaim string
	allowedDomains             []string
	ssoOnly                    bool
	sessionMaxAge              time.Duration
}

// envClientSecret holds the client secret itself, for platforms that
// hand secrets over as environment variables; --oidc-client-secret-file is
// the other way. Never a flag: a flag's value shows in ps.
const envClientSecret = "GATEHOUSE_OIDC_CLIENT_SECRET"

func defaultOIDCOptions() oidcOptions {
	return oidcOptions{usernameClaim: "preferred_username", groupsClaim: "groups",
		scopes: []string{"openid", "profile", "email", "groups"}, sessionMaxAge: 24 * time.Hour}
}

func (o *oidcOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.issuer, "oidc-issuer", o.issuer, "issuer URL of an OpenID Connect provider; turns on its bearer tokens (https, or http on a loopback address)")
	fs.StringVar(&o.clientID, "oidc-client-id", o.clientID, "Gatehouse's client id at the provider (required with --oidc-issuer)")
	fs.StringVar(&o.clientSecretFile, "oidc-client-secret-file", o.clientSecretFile, "file holding the client secret (or set "+envClientSecret+"); none for a public client")
	fs.StringSliceVar(&o.scopes, "oidc-scopes", o.scopes, "scopes requested at browser sign-in (openid among them)")
	fs.StringVar(&o.audience, "oidc-audience", o.audience, "the aud an IdP token must carry (default: --oidc-client-id)")
	fs.StringVar(&o.usernameClaim, "oidc-username-claim", o.usernameClaim, "claim that names the user; email when it is absent")
	fs.StringVar(&o.groupsClaim, "oidc-groups-claim", o.groupsClaim, `claim that lists the user's groups; policy lines "g, oidc:GROUP, ROLE" map them to roles`)
	fs.StringSliceVar(&o.allowedDomains, "oidc-allowed-domains", o.allowedDomains, "email domains IdP users must be in (empty: any)")
	fs.BoolVar(&o.ssoOnly, "sso-only", o.ssoOnly, "turn password login and sign-up off: people sign in with the identity provider, service accounts use API keys")
	fs.DurationVar(&o.sessionMaxAge, "session-max-age", o.sessionMaxAge, "longest a browser session lasts after sign-in; its cookie is renewed while in use, each time for --token-ttl")
}

// complete checks the flags and returns the provider's configuration, nil
// without --oidc-issuer, or every problem found.
func (o *oidcOptions) complete(getenv env) (*admin.OIDCConfig, []error) {
	if o.issuer == "" {
		var errs []error
		if o.clientID != "" || o.audience != "" || len(o.allowedDomains) > 0 || o.clientSecretFile != "" || o.ssoOnly {
			errs = append(errs, errors.New("--oidc-client-id, --oidc-client-secret-file, --oidc-audience, --oidc-allowed-domains and --sso-only need --oidc-issuer"))
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
	if !slices.Contains(o.scopes, "openid") {
		errs = append(errs, fmt.Errorf("--oidc-scopes %q: must include openid", strings.Join(o.scopes, ",")))
	}
	if o.sessionMaxAge <= 0 {
		errs = append(errs, errors.New("--session-max-age must be positive"))
	}
	secret, err := o.clientSecret(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	c := &admin.OIDCConfig{
		Issuer: o.issuer, ClientID: o.clientID, ClientSecret: secret, Audience: o.audience,
		Scopes: o.scopes, UsernameClaim: o.usernameClaim, GroupsClaim: o.groupsClaim,
		SSOOnly: o.ssoOnly, SessionMaxAge: o.sessionMaxAge,
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

// clientSecret reads the client secret from --oidc-client-secret-file or
// $GATEHOUSE_OIDC_CLIENT_SECRET (one of them, or neither for a public
// client). A file's trailing newline is not part of the secret.
func (o *oidcOptions) clientSecret(getenv env) (admin.Secret, error) {
	fromEnv := getenv(envClientSecret)
	switch {
	case o.clientSecretFile != "" && fromEnv != "":
		return "", fmt.Errorf("--oidc-client-secret-file and %s are both set: set one", envClientSecret)
	case fromEnv != "":
		return admin.Secret(fromEnv), nil
	case o.clientSecretFile == "":
		return "", nil
	}
	b, err := os.ReadFile(o.clientSecretFile)
	if err != nil {
		return "", fmt.Errorf("--oidc-client-secret-file: %w", err)
	}
	secret := strings.TrimRight(string(b), "\r\n")
	if secret == "" {
		return "", fmt.Errorf("--oidc-client-secret-file %q is empty", o.clientSecretFile)
	}
	return admin.Secret(secret), nil
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
