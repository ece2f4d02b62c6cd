// Package store opens Gatehouse's database and defines its tables: users,
// roles, signing keys and invitations. Policy lines live beside them in
// gorm-adapter's casbin_rule table, owned by package policy.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// User is a Gatehouse user.
type User struct {
	ID           string `gorm:"primaryKey;size:36"`
	Username     string `gorm:"size:64;not null;uniqueIndex"`
	Email        string `gorm:"size:254"`
	FullName     string `gorm:"size:128"`
	PasswordHash string `gorm:"size:255"`
	Active       bool   `gorm:"not null"`
	// TokenVersion is carried in every token; bumping it (password change,
	// deactivation) ends every token issued before.
	TokenVersion int64 `gorm:"not null;default:1"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Role is a role created through the API. Its permissions are g lines.
type Role struct {
	Name      string `gorm:"primaryKey;size:64"`
	CreatedAt time.Time
}

// SigningKey is a token signing key, shared by every replica.
type SigningKey struct {
	ID        string `gorm:"primaryKey;size:32"`
	Secret    []byte `gorm:"not null"`
	CreatedAt time.Time
}

// Invitation is a pending invitation; only the token's hash is stored. A
// user has at most one, so a new invitation voids the old one.
type Invitation struct {
	UserID    string `gorm:"primaryKey;size:36"`
	TokenHash string `gorm:"size:64;not null;uniqueIndex"`
	ExpiresAt time.Time
	CreatedAt time.Time
	UsedAt    *time.Time
}

// Tables lists every table the store owns, for migrations.
var tables = []any{&User{}, &Role{}, &SigningKey{}, &Invitation{}}

// Open connects to the database named by dsn ("sqlite:PATH" or
// "postgres://…") and creates or updates the schema.
func Open(ctx context.Context, dsn string) (*gorm.DB, error) {
	dial, err := dialector(dsn)
	if err != nil {
		return nil, err
	}
	db, err := gorm.Open(dial, &gorm.Config{Logger: logger.Discard, TranslateError: true})
	if err != nil {
		return nil, fmt.Errorf("store: opening %s: %w", Redact(dsn), err)
	}
	if err := Ping(ctx, db); err != nil {
		return nil, fmt.Errorf("store: connecting to %s: %w", Redact(dsn), err)
	}
	if db.Dialector.Name() == "sqlite" {
		sqlDB, _ := db.DB()
		// SQLite allows one writer; one connection avoids "database is
		// locked" between our own goroutines, WAL keeps readers going.
		sqlDB.SetMaxOpenConns(1)
	}
	if err := db.WithContext(ctx).AutoMigrate(tables...); err != nil {
		return nil, fmt.Errorf("store: migrating schema: %w", err)
	}
	return db, nil
}

func dialector(dsn string) (gorm.Dialector, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New(`store: --db sqlite: needs a path, for example "sqlite:gatehouse.db"`)
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		return sqlite.Open(path + sep + "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)"), nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		if _, err := url.Parse(dsn); err != nil {
			return nil, fmt.Errorf("store: --db is not a valid PostgreSQL URL: %v", errors.Unwrap(err))
		}
		return postgres.Open(dsn), nil
	}
	return nil, fmt.Errorf(`store: --db %q: want "sqlite:PATH" or "postgres://USER@HOST/DB"`, Redact(dsn))
}

// Ping checks that the database answers.
func Ping(ctx context.Context, db *gorm.DB) error {
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return sqlDB.PingContext(ctx)
}

// Redact hides the password of a database URL, for logs and errors.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
