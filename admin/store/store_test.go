package store

import (
	"context"
	"strings"
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
