package store

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
	"gorm.io/gorm"
)

// IdentityKey folds a username or an email for comparison: Unicode NFKC,
// then case folding, so that "Admin", "admin" and "ａｄｍｉｎ" (full width)
// are one name.
func IdentityKey(s string) string {
	return cases.Fold().String(norm.NFKC.String(s))
}

// SetIdentity sets u's username and email and the keys that keep them
// unique.
func (u *User) SetIdentity(username, email string) {
	u.Username, u.Email = username, email
	k := IdentityKey(username)
	u.UsernameKey = &k
	u.EmailKey = nil
	if email != "" {
		e := IdentityKey(email)
		u.EmailKey = &e
	}
}

// upgradeUsers brings rows written by earlier versions up to date. When
// the state column is new, an inactive user with a password is marked
// deactivated (earlier versions made one no other way). Every user without
// identity keys gets them, unless another user holds the same key (two
// users with one email were allowed before): those keep none and are
// listed by IdentityClashes, for a warning at start.
func upgradeUsers(ctx context.Context, db *gorm.DB, backfillState bool) error {
	db = db.WithContext(ctx)
	if backfillState {
		if err := db.Model(&User{}).Where("active = ? AND password_hash <> ?", false, "").
			Update("deactivated", true).Error; err != nil {
			return err
		}
	}
	var rows []User
	if err := db.Where("username_key IS NULL OR (email <> ? AND email_key IS NULL)", "").Order("created_at").Find(&rows).Error; err != nil {
		return err
	}
	for i := range rows {
		u := &rows[i]
		// The keys one at a time: a clash on one keeps the other.
		for _, col := range []string{"username_key", "email_key"} {
			u.SetIdentity(u.Username, u.Email)
			err := db.Model(u).Select(col).Updates(u).Error
			if err != nil && !errors.Is(err, gorm.ErrDuplicatedKey) {
				return err
			}
		}
	}
	return nil
}

// IdentityClashes lists the users whose name or email another user also
// has, up to case and Unicode form: left from versions that allowed it,
// they have no identity key, and creating or renaming users cannot detect
// a clash with them. Rename them or change their email to resolve it.
func IdentityClashes(ctx context.Context, db *gorm.DB) ([]string, error) {
	var rows []User
	err := db.WithContext(ctx).Where("username_key IS NULL OR (email <> ? AND email_key IS NULL)", "").Order("username").Find(&rows).Error
	out := make([]string, 0, len(rows))
	for _, u := range rows {
		what := "email " + u.Email
		if u.UsernameKey == nil {
			what = "name"
		}
		out = append(out, fmt.Sprintf("user %q: its %s is another user's too (up to case)", u.Username, what))
	}
	return out, err
}
