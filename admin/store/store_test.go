package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOpenWrongDSN: a wrong --db fails at once with a message that says
// what is wrong, and never shows the password.
func TestOpenWrongDSN(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, c := range []struct{ dsn, want string }{
		{"mysql://root@localhost/x", `want "sqlite:PATH" or "postgres://USER@HOST/DB"`},
		{"gatehouse.db", `want "sqlite:PATH"`},
		{"sqlite:", "needs a path"},
		{"postgres://gatehouse:s3cret-pw@127.0.0.1:1/gatehouse?connect_timeout=2", "postgres://gatehouse:xxxxx@127.0.0.1:1/gatehouse"},
		{"postgres://gatehouse:s3cret-pw@127.0.0.1:1/gatehouse?connect_timeout=2", "connection refused"},
		{"postgres://gatehouse:s3cret-pw@[::1:5432/x", "not a valid PostgreSQL URL"},
		{"sqlite:" + t.TempDir() + "/missing-dir/g.db", "sqlite"},
	} {
		_, err := Open(ctx, c.dsn)
		if err == nil {
			t.Fatalf("%s: opened", c.dsn)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant it to contain %q", c.dsn, err, c.want)
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("%s: the error shows the password: %v", c.dsn, err)
		}
	}
}

func TestRedact(t *testing.T) {
	if got := Redact("postgres://u:p@h/db?sslmode=disable"); got != "postgres://u:xxxxx@h/db?sslmode=disable" {
		t.Fatalf("Redact = %q", got)
	}
	if got := Redact("sqlite:/var/lib/g.db"); got != "sqlite:/var/lib/g.db" {
		t.Fatalf("Redact = %q", got)
	}
}

// TestOpenUpgradesUsers: rows an earlier version wrote (no state column, no
// identity keys) are brought up to date at start: the state once, when the
// column arrives, and the keys; users whose name or email another user
// shares up to case keep no key, do not stop the start, and are listed.
func TestOpenUpgradesUsers(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + t.TempDir() + "/g.db"
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	// As an earlier version had them: no deactivated column, no keys.
	if err := db.Migrator().DropColumn(&User{}, "deactivated"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, u := range []struct {
		id, name, email, hash string
		active                bool
	}{
		{"00000000-0000-0000-0000-000000000001", "Alice", "Alice@Example.com", "h", false}, // deactivated
		{"00000000-0000-0000-0000-000000000002", "bob", "", "", false},                     // invited
		{"00000000-0000-0000-0000-000000000003", "carol", "alice@example.com", "h", true},  // Alice's email, in another case
		{"00000000-0000-0000-0000-000000000004", "ALICE", "", "h", true},                   // Alice's name, in another case
	} {
		if err := db.Exec("INSERT INTO users (id, username, email, password_hash, active, token_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
			u.id, u.name, u.email, u.hash, u.active, now, now).Error; err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Second)
	}
	sqlDB, _ := db.DB()
	sqlDB.Close()
	if db, err = Open(ctx, dsn); err != nil {
		t.Fatalf("opening a store with users that share a name or email: %v", err)
	}
	var alice, bob User
	db.Take(&alice, "username = ?", "Alice")
	db.Take(&bob, "username = ?", "bob")
	switch {
	case alice.UsernameKey == nil || *alice.UsernameKey != "alice" || alice.EmailKey == nil || *alice.EmailKey != "alice@example.com":
		t.Errorf("alice's keys: %v %v", alice.UsernameKey, alice.EmailKey)
	case !alice.Deactivated:
		t.Error("an inactive user with a password is not marked deactivated")
	case bob.Deactivated || bob.EmailKey != nil:
		t.Errorf("bob (invited, no email): %+v", bob)
	}
	clashes, err := IdentityClashes(ctx, db)
	if err != nil || len(clashes) != 2 || !strings.Contains(clashes[0], `user "ALICE": its name`) || !strings.Contains(clashes[1], `user "carol": its email`) {
		t.Errorf("IdentityClashes = %q, %v", clashes, err)
	}

	// The state is brought up to date once: an invitee whose password an
	// admin set (inactive, a password, not deactivated) stays invited.
	if err := db.Model(&bob).Update("password_hash", "h").Error; err != nil {
		t.Fatal(err)
	}
	sqlDB, _ = db.DB()
	sqlDB.Close()
	if db, err = Open(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	db.Take(&bob, "username = ?", "bob")
	if bob.Deactivated {
		t.Error("a later start marked an invitee with a password deactivated")
	}
}

// TestSQLiteFilesArePrivate: a new store and its -wal and -shm files are
// readable by their owner only, whatever the umask; an existing store that
// others can read is reported.
func TestSQLiteFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "g.db")
	db, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&Role{Name: "x"}).Error; err != nil { // a write: the WAL exists
		t.Fatal(err)
	}
	for _, name := range []string{"g.db", "g.db-wal", "g.db-shm"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if p := st.Mode().Perm(); p != 0o600 {
			t.Errorf("%s has mode %s, want -rw-------", name, p)
		}
	}
	if e := Exposed(dsn); len(e) != 0 {
		t.Errorf("a private store reported as exposed: %v", e)
	}
	if err := os.Chmod(filepath.Join(dir, "g.db"), 0o644); err != nil {
		t.Fatal(err)
	}
	if e := Exposed(dsn); len(e) != 1 || !strings.Contains(e[0], "g.db (-rw-r--r--)") {
		t.Errorf("Exposed = %v, want the world-readable g.db", e)
	}
	_, err = Open(context.Background(), "sqlite:"+filepath.Join(dir, "missing", "g.db"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("a store in a missing directory: %v", err)
	}
}
