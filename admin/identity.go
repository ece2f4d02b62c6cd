package admin

import (
	"errors"
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
	old := u.Username
	u.SetIdentity(username, email)
	if err := s.claimIdentity(c, u, p.reuseName); err != nil {
		return err
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
	return s.releaseName(c, old, u.ID)
}

// claimIdentity checks, in c, that u's name and email (as their keys) are
// nobody else's and that the name is not reserved for another user, and
// ends the name's reservation when u takes it. The unique indexes on the
// keys catch what a concurrent replica commits meanwhile.
func (s *Service) claimIdentity(c *tx, u *store.User, reuse bool) error {
	db := c.DB()
	var other store.User
	switch err := db.Where("username_key = ? AND id <> ?", *u.UsernameKey, u.ID).Take(&other).Error; {
	case err == nil:
		return conflictf("user %q already exists", other.Username)
	case !errors.Is(err, gorm.ErrRecordNotFound):
		return dbErr(err, "user")
	}
	if u.EmailKey != nil {
		switch err := db.Where("email_key = ? AND id <> ?", *u.EmailKey, u.ID).Take(&other).Error; {
		case err == nil:
			return conflictf("the email %q belongs to another user", u.Email)
		case !errors.Is(err, gorm.ErrRecordNotFound):
			return dbErr(err, "user")
		}
	}
	var rel store.ReleasedName
	switch err := db.Where("name_key = ?", *u.UsernameKey).Take(&rel).Error; {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil
	case err != nil:
		return dbErr(err, "released name")
	}
	until := rel.ReleasedAt.Add(s.cfg.NameReservation)
	if rel.UserID != u.ID && s.now().Before(until) && !reuse {
		return conflictf("the name %q was given up by another user on %s and is reserved until %s; an admin can reuse it on purpose (reuse_name, or --reuse-name)",
			u.Username, rel.ReleasedAt.UTC().Format(time.DateOnly), until.UTC().Format(time.DateOnly))
	}
	return dbErr(db.Delete(&rel).Error, "released name")
}

// releaseName reserves a name that user gives up (by a rename or its
// deletion) for Config.NameReservation.
func (s *Service) releaseName(c *tx, name, userID string) error {
	if s.cfg.NameReservation <= 0 {
		return nil
	}
	row := store.ReleasedName{NameKey: store.IdentityKey(name), Name: name, UserID: userID, ReleasedAt: s.now().UTC()}
	err := c.DB().Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "name_key"}},
		DoUpdates: clause.AssignmentColumns([]string{"name", "user_id", "released_at"}),
	}).Create(&row).Error
	return dbErr(err, "released name")
}
