package admin

import (
	"context"
	"log/slog"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin/store"
)

// LoginWithKey trades an API key for an access token, as ZenML's clients
// do with ZENML_STORE_API_KEY (the key as the password of a login, with
// the grant type zenml-api-key and no username). username is optional;
// when given it must be the key's account name. The token carries the
// key's id, so it ends with the key and is narrowed by its roles; it
// lives for Config.TokenTTL, or until the key expires if that is sooner.
// Failures count against the client's limit, as failed logins do.
func (s *Service) LoginWithKey(ctx context.Context, username, key, client string) (Token, error) {
	now := s.now()
	if wait := s.clients.attempt(client, now); wait > 0 {
		s.auditKeyLogin(ctx, keyDisplay(key), client, "rate_limited")
		return Token{}, &RateLimitError{RetryAfter: wait}
	}
	var name []byte
	if username != "" {
		name = []byte(username)
	}
	var id *Identity
	var err error
	if len(key) > maxBasicLen {
		id, err = s.auth.refuseKey(kindKeyLogin, key, "too long")
	} else {
		id, err = s.auth.authenticateKey(kindKeyLogin, []byte(key), name, username != "")
	}
	if err != nil {
		s.auditKeyLogin(ctx, keyDisplay(key), client, "refused")
		return Token{}, err
	}
	s.clients.refund(client)
	ttl := s.cfg.TokenTTL
	if id.key.expires != 0 {
		ttl = min(ttl, time.Unix(0, id.key.expires).Sub(now))
	}
	tok, exp, err := s.keys.issue(&store.User{ID: id.id, TokenVersion: id.version}, id.key.id, ttl, now)
	if err != nil {
		return Token{}, err
	}
	s.auditKeyLogin(ctx, keyDisplay(key), client, "success")
	return Token{AccessToken: tok, TokenType: "bearer", ExpiresIn: int64(exp.Sub(now) / time.Second)}, nil
}

// auditKeyLogin writes the audit line of a key traded for a token; shown
// is the key's prefix, never the key.
func (s *Service) auditKeyLogin(ctx context.Context, shown, client, outcome string) {
	s.audit(ctx, AuditLogin, "login", slog.String("credential", "api_key"), slog.String("key_prefix", shown),
		slog.String("login_client", client), slog.String("outcome", outcome), slog.Bool("success", outcome == "success"))
}
