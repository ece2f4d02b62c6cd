package admin

import "time"

// OIDCConfig turns on single sign-on with an OpenID Connect provider (the
// IdP): people sign in in the browser (the authorization code flow with
// PKCE, SignInPath) and get a session cookie, and a token the provider
// signed is accepted as a bearer token, verified against its published
// keys. Either stands for a Gatehouse user, created on first use.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL, exactly as its tokens' iss
	// claim says it; its discovery document is read from
	// Issuer/.well-known/openid-configuration.
	Issuer string
	// ClientID and ClientSecret are Gatehouse's client at the provider;
	// the secret is empty for a public client (PKCE alone).
	ClientID     string
	ClientSecret Secret
	// RedirectURL is the browser sign-in's callback, PublicURL +
	// CallbackPath when empty.
	RedirectURL string
	// Scopes are requested at sign-in; "openid" is always among them.
	Scopes []string
	// Audience is the aud a bearer token must carry; the client id when
	// empty. An ID token from the browser sign-in must name the client id.
	Audience string
	// UsernameClaim names the claim that holds the user's name; email is
	// used when it is absent.
	UsernameClaim string
	// GroupsClaim names the claim that lists the user's groups, which
	// policy lines "g, oidc:GROUP, ROLE" map to roles.
	GroupsClaim string
	// AllowedDomains, when not empty, are the email domains a user's
	// email must be in (lowercase).
	AllowedDomains []string
	// SSOOnly turns password login off: people sign in with the provider;
	// service accounts keep their API keys.
	SSOOnly bool
	// SessionMaxAge bounds a browser session: its cookie is renewed while
	// it is used, but never past this long after the sign-in (default
	// 24h).
	SessionMaxAge time.Duration
}
