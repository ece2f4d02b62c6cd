//go:build unix

package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenExplainsUnwritableSQLite: a store this user may not write says
// so, naming the file or the directory and the user, instead of SQLite's
// "attempt to write a readonly database" or "out of memory (14)". Root
// writes anywhere, so as root the test runs itself again as nobody.
func TestOpenExplainsUnwritableSQLite(t *testing.T) {
	if os.Geteuid() == 0 {
		runAsNobody(t, "TestOpenExplainsUnwritableSQLite")
		return
	}
	base := t.TempDir()
	// dir makes a directory with a store in it (when store is set), then
	// gives it mode; the mode is restored for the clean-up.
	dir := func(name string, store bool, mode os.FileMode) string {
		d := filepath.Join(base, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if store {
			db, err := Open(context.Background(), "sqlite:"+filepath.Join(d, "g.db"))
			if err != nil {
				t.Fatal(err)
			}
			closeDB(db)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(d, 0o700) })
		return d
	}
	newInRO := dir("read-only", false, 0o500)
	oldInRO := dir("read-only-with-store", true, 0o500)
	readOnlyFile := dir("read-only-file", true, 0o700)
	if err := os.Chmod(filepath.Join(readOnlyFile, "g.db"), 0o400); err != nil {
		t.Fatal(err)
	}
	unreachable := dir("unreachable", false, 0o700)
	if err := os.Mkdir(filepath.Join(unreachable, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(unreachable, 0); err != nil {
		t.Fatal(err)
	}
	uid := fmt.Sprintf("(uid %d)", os.Getuid())
	for _, c := range []struct{ name, path, want string }{
		{"a new store in a read-only directory", filepath.Join(newInRO, "g.db"),
			"the directory " + newInRO + " is not writable by this user " + uid},
		{"a store in a read-only directory", filepath.Join(oldInRO, "g.db"),
			"the directory " + oldInRO + " is not writable by this user " + uid + ": SQLite creates the store's -wal and -shm files beside it ("},
		{"a read-only store", filepath.Join(readOnlyFile, "g.db"),
			"the file " + filepath.Join(readOnlyFile, "g.db") + " is not writable by this user " + uid},
		{"a directory that cannot be reached", filepath.Join(unreachable, "sub", "g.db"),
			"the directory " + filepath.Join(unreachable, "sub") + " cannot be reached by this user " + uid + ": "},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, err := Open(context.Background(), "sqlite:"+c.path)
			if err == nil {
				closeDB(db)
				t.Fatalf("opened %s", c.path)
			}
			want := "store: --db sqlite:" + c.path + ": " + c.want
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error:\n%v\nwant it to start with:\n%s", err, want)
			}
			if strings.Contains(err.Error(), "out of memory") {
				t.Errorf("SQLite's misleading words reached the message: %v", err)
			}
		})
	}
}

// runAsNobody runs the test named name again, in a copy of this test
// binary, as the user nobody (65534), and fails with its output when it
// fails. It skips when this process may not change its user.
func runAsNobody(t *testing.T, name string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The copy and the child's temporary directory must be reachable by
	// nobody; go test's own build directory is not.
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	for _, err := range []error{os.Chmod(filepath.Dir(dir), 0o755), os.Chmod(dir, 0o755), os.Mkdir(tmp, 0o777), os.Chmod(tmp, 0o777)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "store.test")
	if err := copyFile(self, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Dir, cmd.Env = tmp, []string{"TMPDIR=" + tmp, "HOME=" + tmp}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if errors.Is(err, syscall.EPERM) {
		t.Skipf("cannot run the test as nobody: %v", err)
	}
	if err != nil || !strings.Contains(out.String(), "--- PASS: "+name) {
		t.Fatalf("as nobody: %v\n%s", err, out.String())
	}
	t.Logf("ran as nobody:\n%s", out.String())
}

func copyFile(from, to string, mode os.FileMode) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
