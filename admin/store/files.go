package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// sqlitePath returns the file of a "sqlite:PATH" store.
func sqlitePath(dsn string) (string, bool) {
	path, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok || path == "" || strings.HasPrefix(path, "file::memory:") || path == ":memory:" {
		return "", false
	}
	path, _, _ = strings.Cut(path, "?")
	return path, true
}

// createPrivate creates a new SQLite store file readable by its owner only
// (it holds the signing keys and the password hashes); SQLite gives its
// -wal and -shm files the mode of the database file. An existing file is
// left as it is (see Exposed). A missing directory is an error that says
// so, rather than SQLite's "out of memory (14)".
func createPrivate(path string) error {
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return fmt.Errorf("store: --db sqlite:%s: the directory %s does not exist", path, filepath.Dir(path))
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("store: creating %s: %w", path, err)
	}
	return f.Close()
}

// Exposed reports the files of a SQLite store that other users of the
// machine may read (group or world permissions), for a warning at start.
// It reports nothing for PostgreSQL.
func Exposed(dsn string) []string {
	path, ok := sqlitePath(dsn)
	if !ok {
		return nil
	}
	var out []string
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o077 != 0 {
			out = append(out, fmt.Sprintf("%s (%s)", p, st.Mode().Perm()))
		}
	}
	return out
}
