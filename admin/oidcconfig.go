package admin

// OIDCConfig turns on bearer tokens from an OpenID Connect provider (the
// IdP): a token it signed is verified against its published keys and
// stands for a Gatehouse user, created on its first use.
type OIDCConfig struct {
	// Issuer is the provider's issuer URL, exactly as its tokens' iss
	// claim says it; its discovery document is read from
	// Issuer/.well-known/openid-configuration.
	Issuer string
	// ClientID is Gatehouse's client at the provider.
	ClientID string
	// Audience is the aud a token must carry; the client id when empty.
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
}
