package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/oauth2"
)

// idpAlgs are the signature algorithms an identity provider's token may
// use: public-key ones only, so that neither "none" nor an HMAC keyed with
// the provider's public key is ever accepted.
var idpAlgs = []string{oidc.RS256, oidc.ES256, oidc.EdDSA}

// errIdPUnavailable means the identity provider's discovery document has
// not been read yet, so its tokens cannot be checked.
var errIdPUnavailable = fmt.Errorf("%w: the identity provider is unreachable", ErrUnavailable)

// idp verifies an OpenID Connect provider's tokens and runs its browser
// sign-in. Its discovery document is read at start and, while the
// provider is unreachable, again in the background (runDiscovery); its
// signing keys are fetched from the key set it advertises, cached, and
// fetched again when a token names an unknown key id (go-oidc's remote key
// set), at most once per keySetEvery.
type idp struct {
	cfg    OIDCConfig
	log    *slog.Logger
	client *http.Client // discovery and code exchange
	keys   *keySetTransport
	now    func() time.Time
	// found is nil until discovery succeeds.
	found atomic.Pointer[discovered]
	// flows remembers the sign-ins that came back, so that a callback is
	// taken once.
	flows *usedFlows

	mu      sync.Mutex // guards lastErr
	lastErr error      // why discovery failed last, nil once it succeeded
}

// discovered is what discovery gives: verifiers of bearer tokens (whose
// aud is Audience) and of ID tokens from the browser sign-in (whose aud
// is the client id), both on the provider's one key set, and the
// endpoints of the sign-in.
type discovered struct {
	bearer, id *oidc.IDTokenVerifier
	oauth2     oauth2.Config
	endSession string // end_session_endpoint, "" when not advertised
}

// keySetEvery is how often the provider's key set may be fetched at most.
// A token naming an unknown kid makes go-oidc fetch the key set again;
// without a bound, anyone could make Gatehouse hammer the provider with
// made-up kids. A real rotation waits this long at worst.
const keySetEvery = 10 * time.Second

func newIdP(cfg OIDCConfig, log *slog.Logger, now func() time.Time) *idp {
	return &idp{
		cfg: cfg, log: log, now: now,
		client:  &http.Client{Timeout: 10 * time.Second},
		keys:    newKeySetTransport(http.DefaultTransport, keySetEvery),
		flows:   newUsedFlows(maxFlows),
		lastErr: errors.New("discovery not attempted yet"),
	}
}

// keySetTransport lets requests for the provider's key set through at
// most once per every (the first at once), and counts them by result
// (gatehouse_oidc_key_set_fetches_total).
type keySetTransport struct {
	base    http.RoundTripper
	every   time.Duration
	fetches *prometheus.CounterVec

	mu   sync.Mutex // guards last
	last time.Time  // when the key set was last requested
}

func newKeySetTransport(base http.RoundTripper, every time.Duration) *keySetTransport {
	return &keySetTransport{base: base, every: every, fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_oidc_key_set_fetches_total",
		Help: "Fetches of the identity provider's key set (JWKS) by result: ok, error (unreachable or not 200), throttled (asked again within 10s; the token is refused).",
	}, []string{"result"})}
}

func (t *keySetTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.mu.Lock()
	now := time.Now()
	if !t.last.IsZero() && now.Sub(t.last) < t.every {
		t.mu.Unlock()
		t.fetches.WithLabelValues("throttled").Inc()
		return nil, fmt.Errorf("the identity provider's keys were fetched less than %s ago", t.every)
	}
	t.last = now
	t.mu.Unlock()
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.fetches.WithLabelValues("error").Inc()
	} else {
		t.fetches.WithLabelValues("ok").Inc()
	}
	return resp, err
}

// discover reads the provider's discovery document. The key set it
// builds lives as long as the process, so it is given a context that
// never ends; the clients' timeouts bound each request.
func (p *idp) discover() error {
	d, err := p.readDiscovery()
	p.mu.Lock()
	p.lastErr = err
	p.mu.Unlock()
	if err != nil {
		return err
	}
	p.found.Store(d)
	return nil
}

func (p *idp) readDiscovery() (*discovered, error) {
	prov, err := oidc.NewProvider(oidc.ClientContext(context.Background(), p.client), p.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		JWKS        string   `json:"jwks_uri"`
		EndSession  string   `json:"end_session_endpoint"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := prov.Claims(&meta); err != nil {
		return nil, err
	}
	if meta.JWKS == "" {
		return nil, errors.New("the discovery document has no jwks_uri")
	}
	keyClient := &http.Client{Timeout: 10 * time.Second, Transport: p.keys}
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), keyClient), meta.JWKS)
	verifier := func(aud string) *oidc.IDTokenVerifier {
		return oidc.NewVerifier(p.cfg.Issuer, keys, &oidc.Config{ClientID: aud, SupportedSigningAlgs: idpAlgs, Now: p.now})
	}
	endpoint := prov.Endpoint()
	endpoint.AuthStyle = authStyle(p.cfg.ClientSecret != "", meta.AuthMethods)
	return &discovered{
		bearer: verifier(p.cfg.Audience),
		id:     verifier(p.cfg.ClientID),
		oauth2: oauth2.Config{
			ClientID: p.cfg.ClientID, ClientSecret: string(p.cfg.ClientSecret),
			Endpoint: endpoint, RedirectURL: p.cfg.RedirectURL, Scopes: p.cfg.Scopes,
		},
		endSession: meta.EndSession,
	}, nil
}

// authStyle picks how the client authenticates at the token endpoint:
// HTTP Basic (client_secret_basic, the default of OpenID Connect) unless
// the provider lists only client_secret_post; a public client sends its
// id in the form. Never auto-detected: that sends a code twice when the
// first try is refused.
func authStyle(hasSecret bool, methods []string) oauth2.AuthStyle {
	switch {
	case !hasSecret:
		return oauth2.AuthStyleInParams
	case len(methods) > 0 && !slices.Contains(methods, "client_secret_basic") && slices.Contains(methods, "client_secret_post"):
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

// Status returns why the provider's tokens cannot be checked now, or nil.
func (p *idp) Status() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// runDiscovery retries discovery until it succeeds or ctx ends, waiting
// longer after each failure (up to a minute).
func (p *idp) runDiscovery(ctx context.Context) {
	wait := time.Second
	for p.found.Load() == nil {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := p.discover(); err != nil {
			p.log.Warn("identity provider unreachable; retrying", "issuer", p.cfg.Issuer, "err", err)
			wait = min(2*wait, time.Minute)
			continue
		}
		p.log.Info("identity provider discovered", "issuer", p.cfg.Issuer)
	}
}

// owns reports whether token claims to be this provider's: its payload's
// iss, read without verifying anything, is the issuer. It only routes the
// token to the provider's verification.
func (p *idp) owns(token string) bool {
	parts := strings.SplitN(token, ".", 4)
	if len(parts) != 3 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var c struct {
		Iss string `json:"iss"`
	}
	return json.Unmarshal(raw, &c) == nil && c.Iss == p.cfg.Issuer
}

// idpClaims is what Gatehouse reads from a verified token.
type idpClaims struct {
	subject  string // "ISSUER SUB"
	username string // the username claim, or the email
	email    string
	// emailUnverified: the token says email_verified is false. A token
	// without the claim (Entra ID sends none) is taken at its word.
	emailUnverified bool
	groups          []string
	exp             time.Time
}

// verify checks a bearer token's signature, algorithm, issuer, audience
// and lifetime, and returns its claims.
func (p *idp) verify(token string) (*idpClaims, error) {
	d := p.found.Load()
	if d == nil {
		return nil, errIdPUnavailable
	}
	c, _, err := p.claimsOf(d.bearer, token)
	return c, err
}

// claimsOf verifies token with v and reads Gatehouse's claims from it.
func (p *idp) claimsOf(v *oidc.IDTokenVerifier, token string) (*idpClaims, *oidc.IDToken, error) {
	t, err := v.Verify(context.Background(), token)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: identity provider token: %v", ErrUnauthenticated, err)
	}
	var m map[string]any
	if err := t.Claims(&m); err != nil {
		return nil, nil, fmt.Errorf("%w: identity provider token claims: %v", ErrUnauthenticated, err)
	}
	c := &idpClaims{subject: t.Issuer + " " + t.Subject, exp: t.Expiry}
	c.email, _ = m["email"].(string)
	if v, ok := m["email_verified"].(bool); ok && !v {
		c.emailUnverified = true
	}
	if c.username, _ = m[p.cfg.UsernameClaim].(string); c.username == "" {
		c.username = c.email
	}
	switch g := m[p.cfg.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				c.groups = append(c.groups, s)
			}
		}
	case string:
		c.groups = []string{g}
	}
	return c, t, nil
}

// domainAllowed reports whether c's email is in one of the allowed domains
// (any email, or none, when no domain is configured). An email the
// provider says it has not verified is in none: a user could have typed
// it.
func (p *idp) domainAllowed(c *idpClaims) bool {
	if len(p.cfg.AllowedDomains) == 0 {
		return true
	}
	if c.emailUnverified {
		return false
	}
	email := c.email
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	domain := strings.ToLower(email[at+1:])
	for _, d := range p.cfg.AllowedDomains {
		if domain == d {
			return true
		}
	}
	return false
}
