package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// idpAlgs are the signature algorithms an identity provider's token may
// use: public-key ones only, so that neither "none" nor an HMAC keyed with
// the provider's public key is ever accepted.
var idpAlgs = []string{oidc.RS256, oidc.ES256, oidc.EdDSA}

// errIdPUnavailable means the identity provider's discovery document has
// not been read yet, so its tokens cannot be checked.
var errIdPUnavailable = fmt.Errorf("%w: the identity provider is unreachable", ErrUnavailable)

// idp verifies an OpenID Connect provider's tokens. Its discovery document
// is read at start and, while the provider is unreachable, again in the
// background (runDiscovery); its signing keys are fetched from the key set
// it advertises, cached, and fetched again when a token names an unknown
// key id (go-oidc's remote key set).
type idp struct {
	cfg    OIDCConfig
	log    *slog.Logger
	client *http.Client
	now    func() time.Time
	// verifier is nil until discovery succeeds.
	verifier atomic.Pointer[oidc.IDTokenVerifier]

	mu      sync.Mutex // guards lastErr
	lastErr error      // why discovery failed last, nil once it succeeded
}

// keySetEvery is how often the provider's key set may be fetched at most.
// A token naming an unknown kid makes go-oidc fetch the key set again;
// without a bound, anyone could make Gatehouse hammer the provider with
// made-up kids. A real rotation waits this long at worst.
const keySetEvery = 10 * time.Second

func newIdP(cfg OIDCConfig, log *slog.Logger, now func() time.Time) *idp {
	t := &spacedTransport{base: http.DefaultTransport, every: keySetEvery}
	return &idp{cfg: cfg, log: log, now: now, client: &http.Client{Timeout: 10 * time.Second, Transport: t},
		lastErr: errors.New("discovery not attempted yet")}
}

// spacedTransport lets requests for the provider's key set through at
// most once per every (the first at once); the discovery document, read
// at start and on retries, is not held back.
type spacedTransport struct {
	base  http.RoundTripper
	every time.Duration

	mu   sync.Mutex // guards last
	last time.Time  // when the key set was last requested
}

func (t *spacedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/.well-known/openid-configuration") {
		return t.base.RoundTrip(r)
	}
	t.mu.Lock()
	now := time.Now()
	if !t.last.IsZero() && now.Sub(t.last) < t.every {
		t.mu.Unlock()
		return nil, fmt.Errorf("the identity provider's keys were fetched less than %s ago", t.every)
	}
	t.last = now
	t.mu.Unlock()
	return t.base.RoundTrip(r)
}

// discover reads the provider's discovery document. The key set it
// builds lives as long as the process, so it is given a context that
// never ends; the client's timeout bounds each request.
func (p *idp) discover() error {
	ctx := oidc.ClientContext(context.Background(), p.client)
	prov, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	p.mu.Lock()
	p.lastErr = err
	p.mu.Unlock()
	if err != nil {
		return err
	}
	p.verifier.Store(prov.Verifier(&oidc.Config{
		ClientID: p.cfg.Audience, SupportedSigningAlgs: idpAlgs, Now: p.now,
	}))
	return nil
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
	for p.verifier.Load() == nil {
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

// verify checks the token's signature, algorithm, issuer, audience and
// lifetime, and returns its claims.
func (p *idp) verify(token string) (*idpClaims, error) {
	v := p.verifier.Load()
	if v == nil {
		return nil, errIdPUnavailable
	}
	t, err := v.Verify(context.Background(), token)
	if err != nil {
		return nil, fmt.Errorf("%w: identity provider token: %v", ErrUnauthenticated, err)
	}
	var m map[string]any
	if err := t.Claims(&m); err != nil {
		return nil, fmt.Errorf("%w: identity provider token claims: %v", ErrUnauthenticated, err)
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
	return c, nil
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
