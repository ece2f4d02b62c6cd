package admin

import (
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// renameNeedsWrite says why PATCH /me may not change the username without
// the write permission: the username is the identity the upstream sees (in
// X-Forwarded-User, and in {self} rules), so choosing it is choosing whose
// records and rules apply to you. With me alone a user keeps their full
// name, email (marked unverified) and password.
const renameNeedsWrite = "renaming yourself needs the write permission: your username is the identity the upstream sees; ask an admin"

// profile is a change to a user's name, email and full name; nil fields
// stay.
type profile struct {
	username, email, fullName *string
	// reuseName lets an admin give the user a name another user released
	// less than Config.NameReservation ago.
	reuseName bool
	// byAdmin: an admin makes the change, which vouches for the email;
	// one the user sets themselves is unverified.
	byAdmin bool
}

// applyProfile validates and applies a profile change in c: the names and
// emails of two users never differ only in case or Unicode form, a
// released name stays reserved, and a rename moves the user's policy lines.
func (s *Service) applyProfile(c *tx, u *store.User, p profile) error {
	username, email := u.Username, u.Email
	if p.email != nil {
		if err := validateEmail(*p.email); err != nil {
			return err
		}
		if *p.email != u.Email {
			u.EmailVerified = p.byAdmin && *p.email != ""
		}
		email = *p.email
	}
	if p.fullName != nil {
		if err := validateFullName(*p.fullName); err != nil {
			return err
		}
		u.FullName = *p.fullName
	}
	renamed := p.username != nil && *p.username != u.Username
	if renamed {
		if err := validateUsername(*p.username); err != nil {
			return err
		}
		username = *p.username
	}
	old, oldEmail := u.Username, u.Email
	u.SetIdentity(username, email)
	if err := s.claimIdentity(c, u, p.reuseName); err != nil {
		return err
	}
	if oldEmail != "" && store.IdentityKey(oldEmail) != store.IdentityKey(email) {
		if err := s.release(c, emailKey(oldEmail), oldEmail, u.ID); err != nil {
			return err
		}
	}
	if !renamed {
		return nil
	}
	oldSub, newSub := policy.UserSubject(old), policy.UserSubject(username)
	if ls := c.FileLines(oldSub); len(ls) > 0 {
		return conflictf("user %q is named in %s; rename it there first", old, ls[0].Origin())
	}
	// A name that a policy line already names would inherit what the line
	// grants: a user could rename into someone's pre-provisioned roles.
	if l, ok := c.Names(newSub); ok {
		return conflictf("the name %q is used by the policy line %q (%s)", username, l.String(), l.Origin())
	}
	c.RenameSubject(oldSub, newSub)
	return s.release(c, store.IdentityKey(old), old, u.ID)
}

// emailKey is the key under which a released email is reserved.
func emailKey(email string) string { return "email:" + store.IdentityKey(email) }

// claimIdentity checks, in c, that u's name and email (as their keys) are
// nobody else's and that the name is not reserved for another user, and
// ends the name's reservation when u takes it. The unique indexes on the
// keys catch what a concurrent replica commits meanwhile.
func (s *Service) claimIdentity(c *tx, u *store.User, reuse bool) error {
	ended, err := s.identityConflict(c.DB(), u, reuse)
	for _, rel := range ended {
		if err == nil {
			err = dbErr(c.DB().Delete(&rel).Error, "released name")
		}
	}
	return err
}

// identityConflict is claimIdentity's check, reading db only: it returns
// the reservations u's name and email would end.
func (s *Service) identityConflict(db *gorm.DB, u *store.User, reuse bool) ([]store.ReleasedName, error) {
	var other store.User
	switch err := db.Where("username_key = ? AND id <> ?", *u.UsernameKey, u.ID).Take(&other).Error; {
	case err == nil:
		return nil, conflictf("user %q already exists", other.Username)
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return nil, dbErr(err, "user")
	}
	if err := teamConflict(db, u.Username); err != nil {
		return nil, err
	}
	if u.EmailKey != nil {
		switch err := db.Where("email_key = ? AND id <> ?", *u.EmailKey, u.ID).Take(&other).Error; {
		case err == nil:
			return nil, conflictf("the email %q belongs to another user", u.Email)
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return nil, dbErr(err, "user")
		}
	}
	keys := []string{*u.UsernameKey}
	if u.EmailKey != nil {
		keys = append(keys, emailKey(u.Email))
	}
	var rels []store.ReleasedName
	if err := db.Where("name_key IN ?", keys).Find(&rels).Error; err != nil {
		return nil, dbErr(err, "released name")
	}
	for _, rel := range rels {
		until := rel.ReleasedAt.Add(s.cfg.NameReservation)
		if rel.UserID != u.ID && s.now().Before(until) && !reuse {
			what := "name"
			if strings.HasPrefix(rel.NameKey, "email:") {
				what = "email"
			}
			return nil, conflictf("the %s %q was given up by another user on %s and is reserved until %s; an admin can reuse it on purpose (reuse_name, or --reuse-name)",
				what, rel.Name, rel.ReleasedAt.UTC().Format(time.DateOnly), until.UTC().Format(time.DateOnly))
		}
	}
	return rels, nil
}

// release reserves a name or email (under key) that user gives up, by a
// change or its deletion, for Config.NameReservation.
func (s *Service) release(c *tx, key, name, userID string) error {
	if s.cfg.NameReservation <= 0 {
		return nil
	}
	row := store.ReleasedName{NameKey: key, Name: name, UserID: userID, ReleasedAt: s.now().UTC()}
	err := c.DB().Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "name_key"}},
		DoUpdates: clause.AssignmentColumns([]string{"name", "user_id", "released_at"}),
	}).Create(&row).Error
	return dbErr(err, "released name")
}
