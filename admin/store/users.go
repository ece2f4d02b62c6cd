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

// upgradeUsers brings rows written by earlier versions up to date: a
// user's state (an inactive user with a password could only have been
// deactivated) and the identity keys.
func upgradeUsers(ctx context.Context, db *gorm.DB) error {
	db = db.WithContext(ctx)
	if err := db.Model(&User{}).Where("active = ? AND password_hash <> ? AND deactivated = ?", false, "", false).
		Update("deactivated", true).Error; err != nil {
		return err
	}
	var rows []User
	if err := db.Where("username_key IS NULL OR (email <> ? AND email_key IS NULL)", "").Order("created_at").Find(&rows).Error; err != nil {
		return err
	}
	var clashes []error
	for i := range rows {
		u := &rows[i]
		u.SetIdentity(u.Username, u.Email)
		err := db.Model(u).Select("username_key", "email_key").Updates(u).Error
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			clashes = append(clashes, fmt.Errorf("user %q: its name or email differs only in case from another user's", u.Username))
			continue
		}
		if err != nil {
			return err
		}
	}
	if len(clashes) > 0 {
		return fmt.Errorf("%w; rename or change them with the version that created them, then start again", errors.Join(clashes...))
	}
	return nil
}
