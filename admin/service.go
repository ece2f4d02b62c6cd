package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// Config configures the control plane.
type Config struct {
	TokenTTL    time.Duration // lifetime of access tokens
	InviteTTL   time.Duration // lifetime of invitation tokens
	DefaultRole string        // role of new users created without roles
	PublicURL   string        // base URL of invitation links, without a trailing slash
	// AdminUsername and AdminPassword create the first admin on an empty
	// store; with no password, an invitation is logged instead.
	AdminUsername string
	AdminPassword Secret
	// TokenCacheSize bounds the cache of verified tokens.
	TokenCacheSize int
	// NameReservation is how long a username given up by a rename or a
	// deletion stays reserved for its old user; 0 reserves nothing.
	NameReservation time.Duration
	// OIDC, when set, accepts bearer tokens of an identity provider.
	OIDC *OIDCConfig
}

// Secret is a string that never appears in logs.
type Secret string

// LogValue redacts the secret.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// String redacts the secret in formatted output.
func (Secret) String() string { return "[redacted]" }

// Service is the control plane. Every change to a user, role or assignment
// runs in one transaction with its policy lines (policy.Engine.Update) and
// updates the in-memory directory before the next change starts.
type Service struct {
	db   *gorm.DB
	eng  *policy.Engine
	log  *slog.Logger
	cfg  Config
	keys *keyring
	dir  *directory
	auth *Authenticator
	idp  *idp // nil without Config.OIDC
	now  func() time.Time

	// apiKeys holds every API key (by hash and id) that authentication
	// reads; lastUsedEvery is how often their last uses are written.
	apiKeys       *keyDirectory
	lastUsedEvery time.Duration

	// applied is the id of the last change record in force here; it is
	// guarded by the engine's serialization of changes (Update, Exclusive).
	applied uint64
	// rereadAfter: records up to it are older than the directory's load,
	// so replaying them need not re-read users. Guarded like applied.
	rereadAfter uint64
	repl        replicationState

	hashSlots chan struct{} // bounds argon2id work in flight (withHashSlot)
	hashTurns *turns        // one hash at a time per client (withHashSlot)
	gcPending atomic.Bool   // a collection after the last hash is due (collectAfterHashes)
	hashWait  time.Duration // how long to wait for a slot

	logins  *limiter // failed logins per username and client address
	clients *limiter // failed logins per client address
	invites *limiter // wrong invitation tokens per client address
	// signInFailures counts refused single sign-on callbacks per client
	// address.
	signInFailures *limiter
	// checksPerClient bounds the password checks a client causes, failed
	// or not; verifiedPerUser bounds a user's verified passwords (logins,
	// current-password checks), whoever sends them.
	checksPerClient, verifiedPerUser *limiter
}

// New loads the control plane from the store. On an empty store it creates
// the first admin (see Config).
func New(ctx context.Context, db *gorm.DB, eng *policy.Engine, cfg Config, log *slog.Logger) (*Service, error) {
	if cfg.TokenTTL <= 0 || cfg.InviteTTL <= 0 {
		return nil, errors.New("admin: token and invitation lifetimes must be positive")
	}
	if cfg.TokenCacheSize <= 0 {
		cfg.TokenCacheSize = 1 << 16
	}
	if cfg.AdminUsername == "" {
		cfg.AdminUsername = policy.RoleAdmin
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	s := &Service{
		db: db, eng: eng, log: log, cfg: cfg,
		dir:     newDirectory(eng),
		apiKeys: newKeyDirectory(),
		now:     time.Now,
		// At most one write per key and minute, on every replica.
		lastUsedEvery: time.Minute,
		logins:        newLimiter(10, 5*time.Minute, 1<<16),
		clients:       newLimiter(100, 5*time.Minute, 1<<16),
		invites:       newLimiter(20, 5*time.Minute, 1<<16),
		// A person's sign-in fails rarely; a client failing more is
		// probing or flooding.
		signInFailures: newLimiter(30, 5*time.Minute, 1<<16),
		// A user logs in a few times a minute at most; a client address
		// can be a whole office.
		verifiedPerUser: newLimiter(20, time.Minute, 1<<16),
		checksPerClient: newLimiter(300, time.Minute, 1<<16),
		hashSlots:       make(chan struct{}, maxConcurrentHashes),
		hashTurns:       newTurns(),
		hashWait:        defaultHashWait,
	}
	keys, err := newKeyring(ctx, db, cfg.TokenTTL, func() time.Time { return s.now() })
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	s.keys = keys
	s.auth = &Authenticator{
		keys: keys, cache: newTokenCache(cfg.TokenCacheSize), dir: s.dir, now: s.now,
		apiKeys: s.apiKeys, metrics: newAuthMetrics(), keyRefused: s.auditKeyRefused,
	}
	if cfg.OIDC != nil {
		oc := *cfg.OIDC
		if oc.RedirectURL == "" {
			oc.RedirectURL = cfg.PublicURL + CallbackPath
		}
		if oc.SessionMaxAge <= 0 {
			oc.SessionMaxAge = 24 * time.Hour
		}
		s.idp = newIdP(oc, log, func() time.Time { return s.now() })
		s.auth.idp, s.auth.signIn, s.auth.idpRefused = s.idp, s.signInIdP, s.auditIdPRefused
		// Local users keep working while the provider is unreachable;
		// RunSSO keeps trying.
		if err := s.idp.discover(); err != nil {
			log.Warn("identity provider unreachable at start; its tokens answer 503 until it is reached", "issuer", cfg.OIDC.Issuer, "err", err)
		}
	}
	eng.SetSelfResolver(s.dir.idOf)
	if err := s.validateDefaultRole(); err != nil {
		return nil, err
	}
	// Replicas starting at once on an empty store make one key and one
	// first admin.
	err = store.WithLock(ctx, db, "bootstrap", func() error {
		if err := s.keys.ensure(ctx); err != nil {
			return err
		}
		if err := s.initialLoad(ctx); err != nil {
			return fmt.Errorf("loading users: %w", err)
		}
		return s.bootstrap(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	s.repl.lastSync.Store(time.Now().UnixNano())
	return s, nil
}

// setClock replaces the clock, for tests.
func (s *Service) setClock(now func() time.Time) {
	s.now = now
	s.auth.now = now
}

// SSOStatus reports whether an identity provider is configured and, if it
// is, why its tokens cannot be checked now (nil: they can).
func (s *Service) SSOStatus() (configured bool, err error) {
	if s.idp == nil {
		return false, nil
	}
	return true, s.idp.Status()
}

// RunSSO retries the identity provider's discovery until it succeeds or
// ctx ends; without a provider, or once it is reached, it returns.
func (s *Service) RunSSO(ctx context.Context) {
	if s.idp != nil {
		s.idp.runDiscovery(ctx)
	}
}

// Authenticator returns the authenticator of bearer tokens, API keys and
// Basic credentials.
func (s *Service) Authenticator() *Authenticator { return s.auth }

// HasPermission reports whether id reaches the permission perm, directly
// or through its roles, under the policy in force.
func (s *Service) HasPermission(id *Identity, perm string) bool {
	if id.key != nil && !id.key.reaches(s.eng, perm) {
		return false // a narrowed key: its roles must reach perm too
	}
	return s.eng.Reaches(id.Subject(), perm)
}

// PublicURL returns the base URL invitation links point at, without a
// trailing slash (Config.PublicURL).
func (s *Service) PublicURL() string { return s.cfg.PublicURL }

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error { return store.Ping(ctx, s.db) }

func (s *Service) validateDefaultRole() error {
	if s.cfg.DefaultRole == "" {
		return nil
	}
	if ok, err := s.roleExists(s.cfg.DefaultRole); err != nil {
		return fmt.Errorf("admin: checking --default-role: %w", err)
	} else if !ok {
		return fmt.Errorf("admin: --default-role %q is not a known role", s.cfg.DefaultRole)
	}
	return nil
}

// bootstrap creates the first admin on an empty store. Without a password
// it creates the admin inactive and logs a one-time sign-up URL; it does so
// again on later starts while no admin has signed up.
func (s *Service) bootstrap(ctx context.Context) error {
	var n int64
	if err := s.db.WithContext(ctx).Model(&store.User{}).Count(&n).Error; err != nil {
		return fmt.Errorf("counting users: %w", err)
	}
	if n == 0 {
		in := CreateUser{Username: s.cfg.AdminUsername, Roles: &[]string{policy.RoleAdmin}}
		if s.cfg.AdminPassword != "" {
			in.Password = string(s.cfg.AdminPassword)
		}
		u, inv, err := s.createUser(ctx, in)
		var fe *FieldError
		switch {
		case errors.As(err, &fe) && fe.Field == "password":
			return fmt.Errorf("GATEHOUSE_ADMIN_PASSWORD %s: a new password needs at least %d characters and must not be a common, repeated or sequential string (NIST SP 800-63B)", fe.Msg, MinPasswordLen)
		case err != nil:
			return fmt.Errorf("creating the first admin from GATEHOUSE_ADMIN_USERNAME/GATEHOUSE_ADMIN_PASSWORD: %w", err)
		}
		if inv == nil {
			s.log.Info("created the first admin", "user", u.Username)
			return nil
		}
		s.log.Warn("created the first admin without a password; open the sign-up URL to choose one (shown once)",
			"user", u.Username, "signup_url", inv.URL, "expires_at", inv.ExpiresAt)
		return nil
	}
	if s.activeAdmin(s.eng.Holders(policy.RoleAdmin), "") {
		return nil
	}
	first := s.dir.get(s.dir.idOf(s.cfg.AdminUsername))
	switch {
	case first == nil:
		s.log.Error("no active admin, and no user named by GATEHOUSE_ADMIN_USERNAME to invite", "user", s.cfg.AdminUsername)
		return nil
	case first.active:
		// Never hand out a link that sets an active user's password.
		s.log.Error("no active admin; the user named by GATEHOUSE_ADMIN_USERNAME is active but does not hold admin", "user", s.cfg.AdminUsername)
		return nil
	}
	inv, err := s.Invite(ctx, first.id)
	if err != nil {
		return fmt.Errorf("inviting the first admin: %w", err)
	}
	s.log.Warn("no admin has signed up yet; a new sign-up URL voids the previous one (shown once)",
		"user", s.cfg.AdminUsername, "signup_url", inv.URL, "expires_at", inv.ExpiresAt)
	return nil
}

// activeAdmin reports whether holders (subjects that reach the admin role,
// directly or through other roles) include an active person (not a
// service account) other than the one named except.
func (s *Service) activeAdmin(holders []string, except string) bool {
	for _, name := range s.activeAdmins(holders) {
		if name != except {
			return true
		}
	}
	return false
}

// dbErr maps store errors to the control plane's sentinels.
func dbErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return notFoundf("%s not found", what)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return conflictf("%s already exists", what)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}
