package admin

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// ServiceAccount is a service account as the API shows it: a user of kind
// service_account, which holds roles like a person (its policy subject is
// user:NAME, so role assignments name it as a user) but has no password
// and authenticates with API keys.
type ServiceAccount struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Active      bool      `json:"active"`
	Roles       []string  `json:"roles"`
	CreatedAt   time.Time `json:"created_at"`
}

// CreateServiceAccount is the input of a service account creation. Roles
// nil means the default role, as for a person.
type CreateServiceAccount struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Roles       *[]string `json:"roles,omitempty"`
}

// UpdateServiceAccount is a partial update of a service account; nil
// fields stay.
type UpdateServiceAccount struct {
	Name        *string `json:"name,omitempty"`
	Description *string `json:"description,omitempty"`
	Active      *bool   `json:"active,omitempty"`
}

// maxDescriptionLen bounds a service account's description.
const maxDescriptionLen = 256

func validateDescription(d string) error {
	if err := validateFullName(d); err != nil || len(d) > maxDescriptionLen {
		return fieldErr("description", "must be at most %d characters, without control characters or bidirectional overrides", maxDescriptionLen)
	}
	return nil
}

// asField renames the field of a FieldError (the users' "username" is a
// service account's "name").
func asField(err error, from, to string) error {
	var fe *FieldError
	if errors.As(err, &fe) && fe.Field == from {
		return &FieldError{Field: to, Msg: fe.Msg}
	}
	return err
}

func (s *Service) accountView(u *store.User) ServiceAccount {
	v := s.view(u)
	return ServiceAccount{ID: u.ID, Name: u.Username, Description: u.Description, Active: u.Active, Roles: v.Roles, CreatedAt: v.CreatedAt}
}

// CreateServiceAccount creates an active service account.
func (s *Service) CreateServiceAccount(ctx context.Context, in CreateServiceAccount) (ServiceAccount, error) {
	if err := validateUsername(in.Name); err != nil {
		return ServiceAccount{}, asField(err, "username", "name")
	}
	if err := validateDescription(in.Description); err != nil {
		return ServiceAccount{}, err
	}
	now := s.now().UTC()
	u := &store.User{
		ID: uuid.NewString(), Kind: store.KindServiceAccount, Description: in.Description,
		Active: true, TokenVersion: 1, CreatedAt: now, UpdatedAt: now,
	}
	u.SetIdentity(in.Name, "")
	if _, err := s.insertUser(ctx, u, s.rolesOrDefault(in.Roles), false, "service-account.create"); err != nil {
		return ServiceAccount{}, err
	}
	return s.accountView(u), nil
}

// ListServiceAccounts returns every service account, by name.
func (s *Service) ListServiceAccounts(ctx context.Context) ([]ServiceAccount, error) {
	var rows []store.User
	if err := s.db.WithContext(ctx).Where("kind = ?", store.KindServiceAccount).Order("username").Find(&rows).Error; err != nil {
		return nil, dbErr(err, "service accounts")
	}
	out := make([]ServiceAccount, len(rows))
	for i := range rows {
		out[i] = s.accountView(&rows[i])
	}
	return out, nil
}

// GetServiceAccount returns a service account by name or id.
func (s *Service) GetServiceAccount(ctx context.Context, ref string) (ServiceAccount, error) {
	u, err := s.findAccount(s.db.WithContext(ctx), ref)
	if err != nil {
		return ServiceAccount{}, err
	}
	return s.accountView(u), nil
}

// findAccount looks a service account up by name, then by id.
func (s *Service) findAccount(db *gorm.DB, ref string) (*store.User, error) {
	u, err := s.findUser(db, ref)
	if errors.Is(err, ErrNotFound) || (err == nil && u.Kind != store.KindServiceAccount) {
		return nil, notFoundf("service account %s not found", quote(ref))
	}
	return u, err
}

// UpdateServiceAccount renames, describes, deactivates or reactivates a
// service account. Deactivation ends its tokens and deactivates every key
// of it for good: reactivating the account brings none of them back.
func (s *Service) UpdateServiceAccount(ctx context.Context, ref string, in UpdateServiceAccount) (ServiceAccount, error) {
	if in.Description != nil {
		if err := validateDescription(*in.Description); err != nil {
			return ServiceAccount{}, err
		}
	}
	var out *store.User
	err := s.update(ctx, func(c *tx) error {
		u, err := s.findAccount(c.DB(), ref)
		if err != nil {
			return err
		}
		c.auditChange(ctx, "service-account.update", u.Username, policy.UserSubject(u.Username), policy.UserSubject(pick(in.Name, u.Username)))
		if err := s.applyProfile(c, u, profile{username: in.Name, byAdmin: true}); err != nil {
			return asField(err, "username", "name")
		}
		if in.Description != nil {
			u.Description = *in.Description
		}
		switch {
		case in.Active == nil:
		case !*in.Active && u.Active:
			u.Active, u.Deactivated = false, true
			u.TokenVersion++
			if err := s.deactivateKeys(ctx, c, u); err != nil {
				return err
			}
		case *in.Active:
			u.Active, u.Deactivated = true, false
		}
		out = u
		return s.saveUser(c, u)
	})
	if err != nil {
		return ServiceAccount{}, err
	}
	return s.accountView(out), nil
}

// DeleteServiceAccount deletes a service account, its keys and its
// assignments.
func (s *Service) DeleteServiceAccount(ctx context.Context, ref string) error {
	return s.update(ctx, func(c *tx) error {
		u, err := s.findAccount(c.DB(), ref)
		if err != nil {
			return err
		}
		var keys []store.APIKey
		if err := c.DB().Where("user_id = ?", u.ID).Find(&keys).Error; err != nil {
			return dbErr(err, "API keys")
		}
		for i := range keys {
			if err := c.DB().Delete(&keys[i]).Error; err != nil {
				return dbErr(err, "API key")
			}
			c.apiKeyDeleted(keys[i].ID)
			c.auditKey(ctx, "api-key.delete", u.Username, &keys[i])
		}
		return s.removeUser(ctx, c, u, "service-account.delete")
	})
}

// deactivateKeys deactivates every active key of u in c.
func (s *Service) deactivateKeys(ctx context.Context, c *tx, u *store.User) error {
	var keys []store.APIKey
	if err := c.DB().Where("user_id = ? AND active = ?", u.ID, true).Find(&keys).Error; err != nil {
		return dbErr(err, "API keys")
	}
	for i := range keys {
		keys[i].Active = false
		if err := c.DB().Save(&keys[i]).Error; err != nil {
			return dbErr(err, "API key")
		}
		c.apiKeyChanged(&keys[i])
		c.auditKey(ctx, "api-key.deactivate", u.Username, &keys[i])
	}
	return nil
}

// sortedRoles returns roles sorted, without repeats.
func sortedRoles(roles []string) []string {
	out := slices.Clone(roles)
	slices.Sort(out)
	return slices.Compact(out)
}
