// Package store opens Gatehouse's database and defines its tables: users
// (people and service accounts), roles, teams, signing keys, invitations
// and API keys. Policy lines live beside them in gorm-adapter's casbin_rule table,
// owned by package policy.
package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strings"
	"time"

	gormadapter "github.com/casbin/gorm-adapter/v3"
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
	// Active: the user can log in. An inactive user is either invited
	// (has not signed up yet) or Deactivated by an admin; only an invited
	// user may sign up.
	Active      bool `gorm:"not null"`
	Deactivated bool `gorm:"not null;default:false"`
	// UsernameKey and EmailKey are Username and Email as IdentityKey
	// folds them (EmailKey nil when there is no email): the unique indexes
	// that keep two users from names or emails that differ only in case or
	// Unicode form.
	UsernameKey *string `gorm:"size:64;uniqueIndex"`
	EmailKey    *string `gorm:"size:254;uniqueIndex"`
	// EmailVerified is false for an email the user set themselves, true
	// for one an admin set.
	EmailVerified bool `gorm:"not null;default:false"`
	// TokenVersion is carried in every token; bumping it (password change,
	// deactivation) ends every token issued before.
	TokenVersion int64 `gorm:"not null;default:1"`
	// Kind is KindUser for a person, KindServiceAccount for a machine
	// identity: it has no password and no invitation, and authenticates
	// with API keys.
	Kind string `gorm:"size:32;not null;default:user"`
	// Description says what a service account is for.
	Description string `gorm:"size:256"`
	// IdPSubject is "ISSUER SUB" for a user an identity provider's token
	// created (nil otherwise): later tokens of that subject are this user.
	IdPSubject *string `gorm:"column:idp_subject;size:512;uniqueIndex"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Kinds of users.
const (
	KindUser           = "user"
	KindServiceAccount = "service_account"
)

// APIKey is a service account's API key. Only the SHA-256 of the key is
// stored: keys are 256 random bits, so a fast hash is safe, and the
// store never holds one in clear.
type APIKey struct {
	ID     string `gorm:"primaryKey;size:36"`
	UserID string `gorm:"size:36;not null;uniqueIndex:idx_api_keys_user_name"`
	// Name is unique per account. A key kept by a rotation with a
	// retention window is renamed (RetiredName) to free the name.
	Name string `gorm:"size:100;not null;uniqueIndex:idx_api_keys_user_name"`
	// Hash is the hex SHA-256 of the whole key.
	Hash string `gorm:"size:64;not null;uniqueIndex"`
	// Prefix is the key's first characters, to recognize it in lists and
	// logs.
	Prefix string `gorm:"size:16;not null"`
	// Roles narrow the account's roles (comma-separated); empty means all
	// of the account's.
	Roles  string `gorm:"size:1024;not null;default:''"`
	Active bool   `gorm:"not null"`
	// Lifetime is the lifetime the key was created with, in seconds (0:
	// none); a rotation gives the new key the same.
	Lifetime int64 `gorm:"not null;default:0"`
	// ExpiresAt is nil for a key that does not expire.
	ExpiresAt *time.Time
	// RetainedUntil is set on an old key kept valid by a rotation.
	RetainedUntil *time.Time
	CreatedAt     time.Time
	LastUsedAt    *time.Time
}

// Role is a role created through the API. Its permissions are g lines.
type Role struct {
	Name      string `gorm:"primaryKey;size:64"`
	CreatedAt time.Time
}

// Team is a named group of users, made through the API. Its members and
// roles are g lines (g, user:U, team:NAME and g, team:NAME, ROLE).
type Team struct {
	ID   string `gorm:"primaryKey;size:36"`
	Name string `gorm:"size:64;not null;uniqueIndex"`
	// NameKey is Name as IdentityKey folds it: the unique index that keeps
	// two teams from names that differ only in case or Unicode form, as
	// for usernames.
	NameKey   string `gorm:"size:64;not null;uniqueIndex"`
	CreatedAt time.Time
	UpdatedAt time.Time
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

// ReleasedName is a username or an email given up by a change or a
// deletion. It stays reserved for the user who had it
// (Config.NameReservation) so that nobody else takes over the identity the
// upstream knew by it, unless an admin reuses it on purpose. NameKey is
// the IdentityKey of a username, or "email:" and that of an email.
type ReleasedName struct {
	NameKey    string    `gorm:"primaryKey;size:300"`
	Name       string    `gorm:"size:254;not null"`
	UserID     string    `gorm:"size:36;not null"`
	ReleasedAt time.Time `gorm:"not null"`
}

// Change is one committed change, kept for a while so that every replica
// sharing the database can apply it (see admin's replication). Payload is
// JSON.
type Change struct {
	ID        uint64    `gorm:"primaryKey;autoIncrement"`
	Payload   []byte    `gorm:"not null"`
	CreatedAt time.Time `gorm:"index"`
}

// Tables lists every table the store owns, for migrations.
var tables = []any{&User{}, &Role{}, &Team{}, &SigningKey{}, &Invitation{}, &ReleasedName{}, &Change{}, &APIKey{}}

// Pool configures the connection pool of a PostgreSQL store.
type Pool struct {
	MaxOpen     int           // connections at most; 0 means 10
	MaxIdle     int           // idle connections kept; 0 means 5
	MaxLifetime time.Duration // a connection's lifetime; 0 means 30m
}

// Open connects to the database named by dsn ("sqlite:PATH" or
// "postgres://…") and creates or updates the schema. Several replicas may
// start at once: on PostgreSQL the schema changes run under an advisory
// lock.
func Open(ctx context.Context, dsn string, pool ...Pool) (*gorm.DB, error) {
	dial, err := dialector(dsn)
	if err != nil {
		return nil, err
	}
	path, isFile := sqlitePath(dsn)
	if isFile {
		if err := createPrivate(path); err != nil {
			return nil, err
		}
	}
	// fail says what failed; for a SQLite file this user may not write,
	// in the file system's words rather than SQLite's.
	fail := func(doing string, err error) error {
		if isFile {
			if e := explainSQLite(path, err); e != nil {
				return e
			}
		}
		return fmt.Errorf("store: %s: %w", doing, err)
	}
	db, err := gorm.Open(dial, &gorm.Config{Logger: logger.Discard, TranslateError: true})
	if err != nil {
		return nil, fail("opening "+Redact(dsn), err)
	}
	if err := Ping(ctx, db); err != nil {
		return nil, fail("connecting to "+Redact(dsn), err)
	}
	sqlDB, _ := db.DB()
	if IsPostgres(db) {
		p := Pool{MaxOpen: 10, MaxIdle: 5, MaxLifetime: 30 * time.Minute}
		if len(pool) > 0 {
			p = pool[0].withDefaults()
		}
		sqlDB.SetMaxOpenConns(p.MaxOpen)
		sqlDB.SetMaxIdleConns(p.MaxIdle)
		sqlDB.SetConnMaxLifetime(p.MaxLifetime)
	} else {
		// SQLite allows one writer; one connection avoids "database is
		// locked" between our own goroutines, WAL keeps readers going.
		sqlDB.SetMaxOpenConns(1)
	}
	err = WithLock(ctx, db, "migrate", func() error {
		// Rows written before users had a state are brought up to date
		// once, when the column arrives.
		hadState := db.Migrator().HasColumn(&User{}, "deactivated")
		if err := db.WithContext(ctx).AutoMigrate(tables...); err != nil {
			return err
		}
		if err := upgradeUsers(ctx, db, !hadState); err != nil {
			return err
		}
		// gorm-adapter creates its table and unique index when missing.
		_, err := gormadapter.NewAdapterByDBUseTableName(db.WithContext(ctx), "", "casbin_rule")
		return err
	})
	if err != nil {
		sqlDB.Close()
		return nil, fail("migrating schema", err)
	}
	return db, nil
}

func (p Pool) withDefaults() Pool {
	if p.MaxOpen <= 0 {
		p.MaxOpen = 10
	}
	if p.MaxIdle <= 0 {
		p.MaxIdle = 5
	}
	if p.MaxIdle > p.MaxOpen {
		p.MaxIdle = p.MaxOpen
	}
	if p.MaxLifetime <= 0 {
		p.MaxLifetime = 30 * time.Minute
	}
	return p
}

// IsPostgres reports whether db is a PostgreSQL store.
func IsPostgres(db *gorm.DB) bool { return db.Dialector.Name() == "postgres" }

// lockKey derives a 64-bit advisory lock key from a name.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("gatehouse:" + name))
	return int64(h.Sum64())
}

// WithLock runs fn while holding the named lock across every replica that
// shares a PostgreSQL database (a session advisory lock on a connection of
// its own). On SQLite, a single-replica store, it just runs fn.
func WithLock(ctx context.Context, db *gorm.DB, name string, fn func() error) error {
	if !IsPostgres(db) {
		return fn()
	}
	sqlDB, err := db.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lockKey(name)); err != nil {
		return fmt.Errorf("taking lock %q: %w", name, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey(name))
	return fn()
}

// LockWrites serializes the transaction tx with every other writing
// transaction of every replica (a transaction advisory lock, released at
// commit or rollback). On SQLite it does nothing: the single replica
// serializes its writers itself.
func LockWrites(tx *gorm.DB) error {
	if !IsPostgres(tx) {
		return nil
	}
	return tx.Exec("SELECT pg_advisory_xact_lock(?)", lockKey("writes")).Error
}

// Notify sends payload on channel to every listening replica when tx
// commits; nothing is sent if it rolls back. On SQLite it does nothing.
func Notify(tx *gorm.DB, channel, payload string) error {
	if !IsPostgres(tx) {
		return nil
	}
	return tx.Exec("SELECT pg_notify(?, ?)", channel, payload).Error
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
