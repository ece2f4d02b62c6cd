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

// TestOpenUpgradesUsers: rows written before users had a state and
// identity keys are brought up to date at start, and users whose names
// differ only in case stop the start with a message naming them.
func TestOpenUpgradesUsers(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + t.TempDir() + "/g.db"
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	// As an earlier version wrote them: no keys, no deactivated flag.
	now := time.Now()
	for _, u := range []User{
		{ID: "00000000-0000-0000-0000-000000000001", Username: "Alice", Email: "Alice@Example.com", PasswordHash: "h", Active: false, CreatedAt: now},
		{ID: "00000000-0000-0000-0000-000000000002", Username: "bob", CreatedAt: now},
	} {
		if err := db.Create(&u).Error; err != nil {
			t.Fatal(err)
		}
	}
	sqlDB, _ := db.DB()
	sqlDB.Close()
	if db, err = Open(ctx, dsn); err != nil {
		t.Fatal(err)
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

	// A twin that differs only in case cannot get a key: the start fails.
	if err := db.Exec("INSERT INTO users (id, username, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
		"00000000-0000-0000-0000-000000000003", "ALICE", true, now, now).Error; err != nil {
		t.Fatal(err)
	}
	sqlDB, _ = db.DB()
	sqlDB.Close()
	_, err = Open(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), `user "ALICE"`) {
		t.Fatalf("opening with case twins: %v", err)
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
