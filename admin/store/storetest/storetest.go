// Package storetest gives tests the stores to run against: a fresh SQLite
// file always, and a fresh PostgreSQL schema when GATEHOUSE_TEST_POSTGRES_DSN
// names a server. Tests loop over Stores so one suite covers both.
package storetest

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver for schema setup
)

// PostgresEnv names the variable holding a PostgreSQL URL for tests.
const PostgresEnv = "GATEHOUSE_TEST_POSTGRES_DSN"

// Store is one backend a test runs against.
type Store struct {
	Name string // "sqlite" or "postgres"
	DSN  string // a --db value
}

// Stores returns a fresh SQLite store and, when PostgresEnv is set, a fresh
// PostgreSQL schema; both are removed when the test ends. Without the
// variable it logs that PostgreSQL is skipped.
func Stores(t testing.TB) []Store {
	t.Helper()
	out := []Store{SQLite(t)}
	if pg, ok := Postgres(t); ok {
		out = append(out, pg)
	}
	return out
}

// SQLite returns a store in a new file under the test's temp dir.
func SQLite(t testing.TB) Store {
	return Store{Name: "sqlite", DSN: "sqlite:" + filepath.Join(t.TempDir(), "gatehouse.db")}
}

// Postgres returns a store in a new schema of the PostgreSQL server named by
// PostgresEnv, or false (with a log line) when it is not set.
func Postgres(t testing.TB) (Store, bool) {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Logf("PostgreSQL skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", PostgresEnv)
		return Store{}, false
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	defer db.Close()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "gh_test_" + hex.EncodeToString(b)
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("creating schema in %s: %v", PostgresEnv, err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return Store{Name: "postgres", DSN: u.String()}, true
}
