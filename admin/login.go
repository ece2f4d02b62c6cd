package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Token is an issued access token.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
}

// errBadLogin is the one answer for an unknown user, a wrong password and
// an inactive user.
var errBadLogin = fmt.Errorf("%w: invalid username or password", ErrUnauthenticated)

// errSSOOnly and errSSOOnlySignup refuse passwords under
// OIDCConfig.SSOOnly; saying so reveals nothing about any user.
var (
	errSSOOnly       = fmt.Errorf("%w: password login is off on this server (--sso-only): sign in with the identity provider at %s, or use an API key", ErrUnauthenticated, SignInPath)
	errSSOOnlySignup = fmt.Errorf("%w: password sign-up is off on this server (--sso-only): sign in with the identity provider at %s", ErrForbidden, SignInPath)
)

// dummyHash is checked against when the user does not exist, so that an
// unknown user takes as long as a wrong password.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword("gatehouse-timing-equalizer")
	return h
})

// Login checks a username (or a user id, as ZenML's clients may send) and
// password and issues an access token. Attempts are rate-limited per user
// and client address, counted when they start (so concurrent guesses
// cannot exceed the limit) and refunded on success; a user's name and id
// share one count.
//
// A password that starts with KeyPrefix is an API key (LoginWithKey); no
// person's password does (validatePassword).
func (s *Service) Login(ctx context.Context, username, password, client string) (Token, error) {
	if strings.HasPrefix(password, KeyPrefix) {
		return s.LoginWithKey(ctx, username, password, client)
	}
	if s.SSOOnly() {
		s.auditLogin(ctx, policy.Truncate(username), client, "sso_only")
		s.auth.metrics.count(kindLogin, false)
		return Token{}, errSSOOnly
	}
	tok, err := s.login(ctx, username, password, client)
	s.auth.metrics.count(kindLogin, err == nil)
	return tok, err
}

func (s *Service) login(ctx context.Context, username, password, client string) (Token, error) {
	now := s.now()
	if id := s.dir.get(username); id != nil {
		username = id.name // no username looks like an id (validateUsername)
	}
	if !policy.ValidName(username) || password == "" || len(password) > maxPasswordLen {
		// Not a name any user can have: refused without a lookup. The
		// client still pays for the attempt.
		if wait := s.clients.attempt(client, now); wait > 0 {
			return Token{}, &RateLimitError{RetryAfter: wait}
		}
		s.auditLogin(ctx, policy.Truncate(username), client, "malformed")
		return Token{}, errBadLogin
	}
	// Failures count per user and client (refunded on success); every
	// attempt, a success included, counts towards the password checks a
	// client may cause (never refunded), and a user's verified passwords
	// are limited too, so that no valid credential can keep the hashing
	// slots busy. Others' failures never count against a user: that would
	// let anyone lock anyone out.
	pairKey := username + "\x00" + client
	wait := s.verifiedPerUser.check(username, now)
	if wait == 0 {
		wait = attemptAll(now, limitKey{s.logins, pairKey}, limitKey{s.clients, client}, limitKey{s.checksPerClient, client})
	}
	if wait > 0 {
		s.auditLogin(ctx, username, client, "rate_limited")
		return Token{}, &RateLimitError{RetryAfter: wait}
	}
	u, err := s.findUser(s.db.WithContext(ctx), username)
	switch {
	case errors.Is(err, ErrNotFound):
		if _, err := s.check(ctx, dummyHash(), password); err != nil {
			return Token{}, err
		}
		s.auditLogin(ctx, username, client, "unknown_user")
		return Token{}, errBadLogin
	case err != nil:
		s.auditLogin(ctx, username, client, "store_unavailable")
		return Token{}, err // ErrUnavailable
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = dummyHash()
	}
	ok, err := s.check(ctx, hash, password)
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.Canceled) {
		return Token{}, err
	}
	if err != nil || !ok || !u.Active || u.PasswordHash == "" {
		reason := "wrong_password"
		if ok && !u.Active {
			reason = "inactive"
		}
		s.auditLogin(ctx, username, client, reason)
		return Token{}, errBadLogin
	}
	s.logins.reset(pairKey)
	s.clients.refund(client)
	s.verifiedPerUser.fail(username, now) // counts a verified password
	s.auditLogin(ctx, username, client, "success")
	tok, exp, err := s.keys.issue(u, "", s.cfg.TokenTTL, now)
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(exp.Sub(now) / time.Second)}, nil
}

// auditLogin writes the audit line of a login attempt. The outcome says why
// a login failed; the client's answer is the same for every failure.
func (s *Service) auditLogin(ctx context.Context, username, client, outcome string) {
	s.audit(ctx, AuditLogin, "login", slog.String("user", username), slog.String("login_client", client),
		slog.String("outcome", outcome), slog.Bool("success", outcome == "success"))
}

// IssueToken issues a token for a user without a password check, for the
// demo and tests.
func (s *Service) IssueToken(ctx context.Context, username string) (Token, error) {
	u, err := s.findUser(s.db.WithContext(ctx), username)
	if err != nil {
		return Token{}, err
	}
	now := s.now()
	tok, exp, err := s.keys.issue(u, "", s.cfg.TokenTTL, now)
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(exp.Sub(now) / time.Second)}, nil
}
