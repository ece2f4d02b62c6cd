package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// rootModule is the module that holds the product; the e2e and deploy
// modules replace it with their checkout's parent directory.
const rootModule = "github.com/gatehouse-dev/gatehouse"

// built is the binary Binary made for this test binary.
var built struct {
	once sync.Once // runs the build
	dir  string    // the temporary GOBIN
	path string    // dir/gatehouse
	err  error
}

// Binary builds gatehouse once per test binary and returns its path. It
// builds it as the README installs it, `go install ./cmd/gatehouse` from
// the root module's directory into a temporary GOBIN, whichever module the
// calling test belongs to: the root module's own dependency versions, not
// the calling module's, go into the binary. A package whose tests call it
// removes the binary at the end with RemoveBinary in its TestMain.
func Binary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		root, err := rootDir()
		if err != nil {
			built.err = err
			return
		}
		if built.dir, err = os.MkdirTemp("", "gatehouse-e2e-"); err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(built.dir, "gatehouse")
		install := exec.Command("go", "install", "./cmd/gatehouse")
		install.Dir = root
		install.Env = append(os.Environ(), "GOBIN="+built.dir)
		if out, err := install.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go install ./cmd/gatehouse in %s: %v\n%s", root, err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// RemoveBinary removes what Binary built, if anything.
func RemoveBinary() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

// rootDir returns the directory of the root module's checkout, as the go
// command resolves it from the current directory: the main module itself
// there, the target of the replace directive in the e2e and deploy modules.
func rootDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", rootModule).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			err = fmt.Errorf("%v: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("go list -m %s: %w", rootModule, err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("go list -m %s: no directory (is the module replaced by its checkout?)", rootModule)
	}
	return dir, nil
}
