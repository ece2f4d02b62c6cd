package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gorm.io/gorm"
)

// TestOpenExplainsSQLitePaths: a --db sqlite:PATH that cannot be a store
// file says why in the file system's words, never SQLite's "out of memory
// (14)".
func TestOpenExplainsSQLitePaths(t *testing.T) {
	dir := t.TempDir()
	aFile := filepath.Join(dir, "a-file")
	aDir := filepath.Join(dir, "a-dir.db")
	for _, p := range []error{os.WriteFile(aFile, nil, 0o600), os.Mkdir(aDir, 0o700)} {
		if p != nil {
			t.Fatal(p)
		}
	}
	for _, c := range []struct{ name, dsn, want string }{
		{"a missing directory", "sqlite:" + dir + "/missing/g.db",
			"store: --db sqlite:" + dir + "/missing/g.db: the directory " + dir + "/missing does not exist; create it, or choose another path"},
		{"a missing directory, as a file: URI", "sqlite:file:" + dir + "/missing/g.db?cache=shared",
			"store: --db sqlite:" + dir + "/missing/g.db: the directory " + dir + "/missing does not exist; create it, or choose another path"},
		{"a file where the directory should be", "sqlite:" + aFile + "/g.db",
			"store: --db sqlite:" + aFile + "/g.db: " + aFile + " is not a directory"},
		{"a directory where the file should be", "sqlite:" + aDir,
			"store: --db sqlite:" + aDir + ": " + aDir + " is a directory; name the store's file in it, for example sqlite:" + aDir + "/gatehouse.db"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := Open(context.Background(), c.dsn)
			if err == nil {
				closeDB(db)
				t.Fatalf("opened %s", c.dsn)
			}
			if err.Error() != c.want {
				t.Errorf("error:\n%v\nwant:\n%s", err, c.want)
			}
		})
	}
}

// TestOpenFileURI: a file: URI names the same file as a plain path, and
// it is created readable by its owner only.
func TestOpenFileURI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	db, err := Open(context.Background(), "sqlite:file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	closeDB(db)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("the store is not at %s: %v", path, err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("the store's mode is %v, want 0600", st.Mode().Perm())
	}
}

// closeDB closes a store opened by a test.
func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		sqlDB.Close()
	}
}
