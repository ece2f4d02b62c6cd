package admin

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// APIKey is an API key as the API shows it. Key, the key itself, is set
// only in the answer that creates it (a creation or a rotation).
type APIKey struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	ServiceAccount string `json:"service_account"`
	// Prefix is the key's first characters, to recognize it.
	Prefix string `json:"prefix"`
	// Roles narrow the account's roles; empty: all of them.
	Roles     []string   `json:"roles"`
	Active    bool       `json:"active"`
	ExpiresAt *time.Time `json:"expires_at"`
	CreatedAt time.Time  `json:"created_at"`
	// LastUsedAt is written at most once a minute (see flushLastUsed).
	LastUsedAt *time.Time `json:"last_used_at"`
	// RetainedUntil is set on an old key a rotation kept valid.
	RetainedUntil *time.Time `json:"retained_until"`
	Key           Secret     `json:"key,omitempty"`
}

// CreateAPIKey is the input of a key creation: a name unique for the
// account, an optional lifetime ("90d", "36h": Go durations, plus d for
// days) and optional roles, a subset of the account's, that narrow it.
type CreateAPIKey struct {
	Name      string   `json:"name"`
	ExpiresIn string   `json:"expires_in,omitempty"`
	Roles     []string `json:"roles,omitempty"`
}

// UpdateAPIKey changes a key: only deactivation (Active false), for good.
type UpdateAPIKey struct {
	Active *bool `json:"active,omitempty"`
}

// RotateAPIKey is the input of a rotation: how long the old key stays
// valid ("24h"; none: it ends at once).
type RotateAPIKey struct {
	Retain string `json:"retain,omitempty"`
}

// maxLifetime bounds what a duration field may say.
const maxLifetime = 100 * 365 * 24 * time.Hour

// parseLifetime reads a duration in Go's syntax with days (d) in front:
// "90d", "1d12h", "36h".
func parseLifetime(field, s string) (time.Duration, error) {
	bad := fieldErr(field, "must be a duration such as 90d, 36h or 1d12h")
	var days int64
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 || n > int64(maxLifetime/(24*time.Hour)) {
			return 0, bad
		}
		days, s = n, s[i+1:]
	}
	var d time.Duration
	if s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, bad
		}
	}
	d += time.Duration(days) * 24 * time.Hour
	if d < 0 {
		return 0, fieldErr(field, "must not be negative")
	}
	if d > maxLifetime {
		return 0, fieldErr(field, "must be at most 100 years")
	}
	return d, nil
}

func (s *Service) keyView(account string, k *store.APIKey) APIKey {
	v := APIKey{
		ID: k.ID, Name: k.Name, ServiceAccount: account, Prefix: k.Prefix, Roles: splitRoles(k.Roles),
		Active: k.Active, ExpiresAt: utcPtr(k.ExpiresAt), CreatedAt: k.CreatedAt.UTC(),
		LastUsedAt: utcPtr(k.LastUsedAt), RetainedUntil: utcPtr(k.RetainedUntil),
	}
	if v.Roles == nil {
		v.Roles = []string{}
	}
	// This replica may know of a use not written yet.
	if seen := s.apiKeys.lastUsed(k.ID); !seen.IsZero() && (v.LastUsedAt == nil || seen.After(*v.LastUsedAt)) {
		v.LastUsedAt = &seen
	}
	return v
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// findKey looks a key of the account up by name, then by id.
func findKey(db *gorm.DB, u *store.User, ref string) (*store.APIKey, error) {
	var k store.APIKey
	err := db.Where("user_id = ? AND name = ?", u.ID, ref).Take(&k).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		err = db.Where("user_id = ? AND id = ?", u.ID, ref).Take(&k).Error
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFoundf("API key %s of service account %q not found", quote(ref), u.Username)
	}
	return &k, dbErr(err, "API key")
}

// auditKey registers the audit line of a change to an API key, written
// after the change commits. It names the key's prefix, never the key.
func (t *tx) auditKey(ctx context.Context, action, account string, k *store.APIKey) {
	id, name, prefix := k.ID, k.Name, k.Prefix
	t.OnCommit(func() {
		t.s.audit(ctx, AuditAdminChange, "admin change", slog.String("action", action),
			slog.String("target", account+"/"+name), slog.String("key_id", id), slog.String("key_prefix", prefix))
	})
}

// auditKeyRefused writes the audit line of a refused key-shaped
// credential (Authenticator.keyRefused).
func (s *Service) auditKeyRefused(kind, shown, reason string) {
	s.audit(context.Background(), AuditLogin, "API key refused", slog.String("credential", kind),
		slog.String("key_prefix", shown), slog.String("reason", reason), slog.Bool("success", false))
}

// CreateAPIKey creates a key for a service account and returns it with
// the key itself, shown this once.
func (s *Service) CreateAPIKey(ctx context.Context, account string, in CreateAPIKey) (APIKey, error) {
	if err := checkName("name", in.Name); err != nil {
		return APIKey{}, err
	}
	var lifetime time.Duration
	if in.ExpiresIn != "" {
		var err error
		if lifetime, err = parseLifetime("expires_in", in.ExpiresIn); err != nil {
			return APIKey{}, err
		}
		if lifetime <= 0 {
			return APIKey{}, fieldErr("expires_in", "must be in the future")
		}
	}
	var out APIKey
	err := s.update(ctx, func(c *tx) error {
		u, err := s.findAccount(c.DB(), account)
		if err != nil {
			return err
		}
		if !u.Active {
			return conflictf("service account %q is deactivated", u.Username)
		}
		held := s.eng.Parents(policy.UserSubject(u.Username))
		for _, r := range in.Roles {
			if !slices.Contains(held, r) {
				return fieldErr("roles", "service account %q does not hold the role %s; a key can only narrow its account's roles", u.Username, quote(r))
			}
		}
		row := &store.APIKey{Name: in.Name, Roles: strings.Join(sortedRoles(in.Roles), ","), Lifetime: int64(lifetime / time.Second)}
		out, err = s.insertKey(ctx, c, u, row, "api-key.create")
		return err
	})
	return out, err
}

// insertKey stores row as a new key of u (a new id and key, active, its
// expiry from its lifetime), audited as action. It returns the key's view
// with the key itself.
func (s *Service) insertKey(ctx context.Context, c *tx, u *store.User, row *store.APIKey, action string) (APIKey, error) {
	if err := c.DB().Where("user_id = ? AND name = ?", u.ID, row.Name).Take(&store.APIKey{}).Error; err == nil {
		return APIKey{}, conflictf("service account %q already has an API key named %q", u.Username, row.Name)
	} else if !errors.Is(err, gorm.ErrRecordNotFound) {
		return APIKey{}, dbErr(err, "API key")
	}
	key, hash, err := newKey()
	if err != nil {
		return APIKey{}, err
	}
	now := s.now().UTC()
	row.ID, row.UserID, row.Hash, row.Prefix = uuid.NewString(), u.ID, hash, keyDisplay(key)
	row.Active, row.CreatedAt, row.ExpiresAt, row.RetainedUntil, row.LastUsedAt = true, now, nil, nil, nil
	if row.Lifetime > 0 {
		exp := now.Add(time.Duration(row.Lifetime) * time.Second)
		row.ExpiresAt = &exp
	}
	if err := c.DB().WithContext(ctx).Create(row).Error; err != nil {
		return APIKey{}, dbErr(err, "API key "+quote(row.Name))
	}
	c.apiKeyChanged(row)
	c.auditKey(ctx, action, u.Username, row)
	v := s.keyView(u.Username, row)
	v.Key = Secret(key)
	return v, nil
}

// keyChange runs fn as one change, with the service account and its key
// that account and ref name.
func (s *Service) keyChange(ctx context.Context, account, ref string, fn func(c *tx, u *store.User, k *store.APIKey) error) error {
	return s.update(ctx, func(c *tx) error {
		u, err := s.findAccount(c.DB(), account)
		if err != nil {
			return err
		}
		k, err := findKey(c.DB(), u, ref)
		if err != nil {
			return err
		}
		return fn(c, u, k)
	})
}

// ListAPIKeys returns the keys of a service account, oldest first.
func (s *Service) ListAPIKeys(ctx context.Context, account string) ([]APIKey, error) {
	db := s.db.WithContext(ctx)
	u, err := s.findAccount(db, account)
	if err != nil {
		return nil, err
	}
	var rows []store.APIKey
	if err := db.Where("user_id = ?", u.ID).Order("created_at, name").Find(&rows).Error; err != nil {
		return nil, dbErr(err, "API keys")
	}
	out := make([]APIKey, len(rows))
	for i := range rows {
		out[i] = s.keyView(u.Username, &rows[i])
	}
	return out, nil
}

// GetAPIKey returns a key of a service account, by name or id.
func (s *Service) GetAPIKey(ctx context.Context, account, ref string) (APIKey, error) {
	db := s.db.WithContext(ctx)
	u, err := s.findAccount(db, account)
	if err != nil {
		return APIKey{}, err
	}
	k, err := findKey(db, u, ref)
	if err != nil {
		return APIKey{}, err
	}
	return s.keyView(u.Username, k), nil
}

// UpdateAPIKey deactivates a key (Active false). A deactivated key stays
// so: reactivating is refused.
func (s *Service) UpdateAPIKey(ctx context.Context, account, ref string, in UpdateAPIKey) (APIKey, error) {
	var out APIKey
	err := s.keyChange(ctx, account, ref, func(c *tx, u *store.User, k *store.APIKey) error {
		switch {
		case in.Active != nil && *in.Active && !k.Active:
			return fieldErr("active", "a deactivated key stays deactivated; create or rotate a key instead")
		case in.Active != nil && !*in.Active && k.Active:
			k.Active = false
			if err := c.DB().Save(k).Error; err != nil {
				return dbErr(err, "API key")
			}
			c.apiKeyChanged(k)
			c.auditKey(ctx, "api-key.deactivate", u.Username, k)
		}
		out = s.keyView(u.Username, k)
		return nil
	})
	return out, err
}

// DeleteAPIKey deletes a key.
func (s *Service) DeleteAPIKey(ctx context.Context, account, ref string) error {
	return s.keyChange(ctx, account, ref, func(c *tx, u *store.User, k *store.APIKey) error {
		if err := c.DB().Delete(k).Error; err != nil {
			return dbErr(err, "API key")
		}
		c.apiKeyDeleted(k.ID)
		c.auditKey(ctx, "api-key.delete", u.Username, k)
		return nil
	})
}

// RotateAPIKey replaces a key with a new one of the same name, roles and
// lifetime, returned with the key itself. Without a retention the old key
// ends at once (it is deleted); with one it stays valid until then (never
// past its own expiry), renamed (RetiredName) to free its name.
func (s *Service) RotateAPIKey(ctx context.Context, account, ref string, in RotateAPIKey) (APIKey, error) {
	var retain time.Duration
	if in.Retain != "" {
		var err error
		if retain, err = parseLifetime("retain", in.Retain); err != nil {
			return APIKey{}, err
		}
	}
	var out APIKey
	err := s.keyChange(ctx, account, ref, func(c *tx, u *store.User, old *store.APIKey) error {
		now := s.now().UTC()
		if !old.Active || (old.ExpiresAt != nil && !now.Before(*old.ExpiresAt)) || old.RetainedUntil != nil {
			return conflictf("API key %q is deactivated, expired or already rotated; create a new key instead", old.Name)
		}
		row := &store.APIKey{Name: old.Name, Roles: old.Roles, Lifetime: old.Lifetime}
		if err := s.retire(c, old, now, retain); err != nil {
			return err
		}
		var err error
		out, err = s.insertKey(ctx, c, u, row, "api-key.rotate")
		return err
	})
	return out, err
}

// retire ends a rotated key: at once (deleted) without a retention, else
// at now+retain at the latest, under RetiredName.
func (s *Service) retire(c *tx, old *store.APIKey, now time.Time, retain time.Duration) error {
	if retain <= 0 {
		if err := c.DB().Delete(old).Error; err != nil {
			return dbErr(err, "API key")
		}
		c.apiKeyDeleted(old.ID)
		return nil
	}
	until := now.Add(retain)
	if old.ExpiresAt != nil && old.ExpiresAt.Before(until) {
		until = *old.ExpiresAt
	}
	old.Name = RetiredName(old.Name, old.ID)
	old.ExpiresAt, old.RetainedUntil = &until, &until
	if err := c.DB().Save(old).Error; err != nil {
		return dbErr(err, "API key")
	}
	c.apiKeyChanged(old)
	return nil
}

// RetiredName is the name a rotation gives the old key it keeps: the name,
// "~" (which no name has) and the start of the key's id.
func RetiredName(name, id string) string { return name + "~" + id[:min(len(id), 8)] }
