package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// sqlitePath returns the file of a "sqlite:PATH" store; PATH may be a
// "file:" URI, as SQLite takes it.
func sqlitePath(dsn string) (string, bool) {
	path, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok || path == "" || strings.HasPrefix(path, "file::memory:") || path == ":memory:" {
		return "", false
	}
	path, _, _ = strings.Cut(path, "?")
	if p, ok := strings.CutPrefix(path, "file://"); ok {
		path = p
	} else {
		path = strings.TrimPrefix(path, "file:")
	}
	return path, path != ""
}

// createPrivate creates a new SQLite store file readable by its owner only
// (it holds the signing keys and the password hashes); SQLite gives its
// -wal and -shm files the mode of the database file. An existing file is
// left as it is (see Exposed). A missing or unusable directory is an error
// that says so, rather than SQLite's "out of memory (14)".
func createPrivate(path string) error {
	dir := filepath.Dir(path)
	switch st, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist):
		return pathError(path, "the directory %s does not exist; create it, or choose another path", dir)
	case errors.Is(err, fs.ErrPermission):
		return pathError(path, "the directory %s cannot be reached by this user (uid %d): %w", dir, os.Getuid(), err)
	case errors.Is(err, syscall.ENOTDIR) || (err == nil && !st.IsDir()):
		return pathError(path, "%s is not a directory", dir)
	case err != nil:
		return pathError(path, "%w", err)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return pathError(path, "%s is a directory; name the store's file in it, for example sqlite:%s", path, filepath.Join(path, "gatehouse.db"))
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		// SQLite would open a store it may not write, and fail at the
		// first change.
		if f, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
			if why := notWritable(path, err); why != "" {
				return pathError(path, "the file %s %s", path, why)
			}
			return fmt.Errorf("store: opening %s: %w", path, err)
		}
	case err != nil:
		if why := notWritable(dir, err); why != "" {
			return pathError(path, "the directory %s %s", dir, why)
		}
		return fmt.Errorf("store: creating %s: %w", path, err)
	}
	return f.Close()
}

// explainSQLite says why SQLite could not open or write the store file
// path, when the file system can tell: SQLite creates PATH-wal and
// PATH-shm beside the store (and removes them when the last connection
// closes), so the directory must be writable too. SQLite itself says
// "attempt to write a readonly database". It returns nil when it finds no
// reason.
func explainSQLite(path string, sqliteErr error) error {
	dir := filepath.Dir(path)
	probe, err := os.CreateTemp(dir, ".gatehouse-write-check-*")
	if err != nil {
		if why := notWritable(dir, err); why != "" {
			return pathError(path, "the directory %s %s: SQLite creates the store's -wal and -shm files beside it (%w)", dir, why, sqliteErr)
		}
		return nil
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// notWritable says why err means that this user may not write name, or
// returns "" when it does not mean that.
func notWritable(name string, err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("is not writable by this user (uid %d)", os.Getuid())
	case errors.Is(err, syscall.EROFS):
		return "is on a read-only file system"
	}
	return ""
}

// pathError is an error about the store file of "sqlite:PATH"; format
// may wrap an error with %w.
func pathError(path, format string, args ...any) error {
	return fmt.Errorf("store: --db sqlite:%s: "+format, append([]any{path}, args...)...)
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
