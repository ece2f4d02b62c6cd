package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
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

// dummyHash is checked against when the user does not exist, so that an
// unknown user takes as long as a wrong password.
var dummyHash = sync.OnceValue(func() string {
	h, _ := hashPassword("gatehouse-timing-equalizer")
	return h
})

// Login checks a username and password and issues an access token.
// Failures are rate-limited per username and client address.
func (s *Service) Login(ctx context.Context, username, password, client string) (Token, error) {
	now := s.now()
	pairKey := username + "\x00" + client
	if wait := max(s.logins.check(pairKey, now), s.clients.check(client, now)); wait > 0 {
		s.auditLogin(ctx, username, client, "rate_limited")
		return Token{}, &RateLimitError{RetryAfter: wait}
	}
	if username == "" || password == "" || len(password) > maxPasswordLen {
		s.failLogin(ctx, pairKey, username, client, now, "malformed")
		return Token{}, errBadLogin
	}
	var u store.User
	err := s.db.WithContext(ctx).Where("username = ?", username).Take(&u).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		_, _ = checkPassword(dummyHash(), password)
		s.failLogin(ctx, pairKey, username, client, now, "unknown_user")
		return Token{}, errBadLogin
	case err != nil:
		s.auditLogin(ctx, username, client, "store_unavailable")
		return Token{}, dbErr(err, "user")
	}
	hash := u.PasswordHash
	if hash == "" {
		hash = dummyHash()
	}
	ok, err := checkPassword(hash, password)
	if err != nil || !ok || !u.Active || u.PasswordHash == "" {
		reason := "wrong_password"
		if ok && !u.Active {
			reason = "inactive"
		}
		s.failLogin(ctx, pairKey, username, client, now, reason)
		return Token{}, errBadLogin
	}
	s.logins.reset(pairKey)
	s.auditLogin(ctx, username, client, "success")
	tok, exp, err := s.keys.issue(&u, s.cfg.TokenTTL, now)
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(exp.Sub(now) / time.Second)}, nil
}

func (s *Service) failLogin(ctx context.Context, pairKey, username, client string, now time.Time, reason string) {
	s.logins.fail(pairKey, now)
	s.clients.fail(client, now)
	s.auditLogin(ctx, username, client, reason)
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
	tok, exp, err := s.keys.issue(u, s.cfg.TokenTTL, now)
	if err != nil {
		return Token{}, err
	}
	return Token{AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(exp.Sub(now) / time.Second)}, nil
}
