package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/url"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// Invitation is a new invitation, returned once.
type Invitation struct {
	URL       string    `json:"invitation_url"`
	ExpiresAt time.Time `json:"expires_at"`
	token     string
}

// SignupPath is where invitation links point.
const SignupPath = "/gatehouse/signup"

func hashToken(t string) string {
	h := sha256.Sum256([]byte(t))
	return hex.EncodeToString(h[:])
}

// newInvitation stores a new invitation for a user, replacing (voiding)
// any earlier one, and returns it.
func (s *Service) newInvitation(db *gorm.DB, userID string) (*Invitation, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	tok := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now().UTC()
	row := store.Invitation{UserID: userID, TokenHash: hashToken(tok), ExpiresAt: now.Add(s.cfg.InviteTTL), CreatedAt: now}
	err := db.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "user_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"token_hash", "expires_at", "created_at", "used_at"}),
	}).Create(&row).Error
	if err != nil {
		return nil, dbErr(err, "invitation")
	}
	return &Invitation{URL: s.cfg.PublicURL + SignupPath + "?token=" + url.QueryEscape(tok), ExpiresAt: row.ExpiresAt, token: tok}, nil
}

// Invite issues a new invitation for a user (by name or id); the previous
// one stops working.
func (s *Service) Invite(ctx context.Context, ref string) (*Invitation, error) {
	var inv *Invitation
	err := s.update(ctx, func(c *tx) error {
		u, err := s.findUser(c.DB(), ref)
		if err != nil {
			return err
		}
		if u.Kind == store.KindServiceAccount {
			return fieldErr("kind", "%s is a service account: it has no password and is never invited", quote(u.Username))
		}
		if u.Deactivated {
			return conflictf("user %q is deactivated; reactivate it first (user update --active=true)", u.Username)
		}
		c.auditChange(ctx, "user.invite", u.Username, policy.UserSubject(u.Username), policy.UserSubject(u.Username))
		inv, err = s.newInvitation(c.DB(), u.ID)
		return err
	})
	return inv, err
}

// lookupInvitation finds the pending invitation for a token: ErrInvalid
// (rate-limited per client) for an unknown token, ErrGone for a used or
// expired one.
func (s *Service) lookupInvitation(db *gorm.DB, token, client string) (*store.Invitation, *store.User, error) {
	now := s.now()
	if wait := s.invites.check(client, now); wait > 0 {
		return nil, nil, &RateLimitError{RetryAfter: wait}
	}
	var inv store.Invitation
	err := db.Where("token_hash = ?", hashToken(token)).Take(&inv).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		s.invites.fail(client, now)
		return nil, nil, fieldErr("token", "is not a valid invitation token")
	}
	if err != nil {
		return nil, nil, dbErr(err, "invitation")
	}
	if inv.UsedAt != nil {
		return nil, nil, errors.Join(ErrGone, errors.New("this invitation was already used"))
	}
	if !now.Before(inv.ExpiresAt) {
		return nil, nil, errors.Join(ErrGone, errors.New("this invitation has expired; ask for a new one"))
	}
	var u store.User
	if err := db.Where("id = ?", inv.UserID).Take(&u).Error; err != nil {
		return nil, nil, dbErr(err, "user")
	}
	if u.Deactivated {
		// Deactivation voids the invitation; this holds even if one
		// survived.
		return nil, nil, errors.Join(ErrGone, errors.New("this account was deactivated"))
	}
	return &inv, &u, nil
}

// InvitedUser returns the username an invitation token is for, without
// using the invitation.
func (s *Service) InvitedUser(ctx context.Context, token, client string) (string, error) {
	if s.SSOOnly() {
		return "", errSSOOnlySignup
	}
	_, u, err := s.lookupInvitation(s.db.WithContext(ctx), token, client)
	if err != nil {
		return "", err
	}
	return u.Username, nil
}

// Signup uses an invitation: the user gets the password and becomes active.
// Earlier tokens of the user end.
func (s *Service) Signup(ctx context.Context, token, password, client string) (User, error) {
	if s.SSOOnly() {
		return User{}, errSSOOnlySignup
	}
	// Check the token (and the client's rate limit) before the costly hash;
	// the transaction checks it again.
	_, invited, err := s.lookupInvitation(s.db.WithContext(ctx), token, client)
	if err != nil {
		return User{}, err
	}
	if err := validatePassword("password", password, invited.Username); err != nil {
		return User{}, err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	var out *store.User
	err = s.update(ctx, func(c *tx) error {
		inv, u, err := s.lookupInvitation(c.DB(), token, client)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		res := c.DB().Model(&store.Invitation{}).Where("user_id = ? AND used_at IS NULL", inv.UserID).Update("used_at", now)
		if res.Error != nil {
			return dbErr(res.Error, "invitation")
		}
		if res.RowsAffected != 1 {
			return errors.Join(ErrGone, errors.New("this invitation was already used"))
		}
		u.PasswordHash, u.Active = hash, true
		u.TokenVersion++
		out = u
		c.OnCommit(func() { s.audit(ctx, AuditSignup, "invitation used", slog.String("user", u.Username)) })
		return s.saveUser(c, u)
	})
	if err != nil {
		return User{}, err
	}
	return s.view(out), nil
}
