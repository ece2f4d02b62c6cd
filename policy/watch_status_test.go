package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// TestWatcherReportsRejectedReload: LastReload says that the files on disk
// were rejected, with every problem, until they are put back or fixed.
// Reloads are driven by hand (no Run, no file events), so nothing here
// waits on time.
func TestWatcherReportsRejectedReload(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, PolicyFile)
	good := basePolicy + "p, public, /health, GET\n"
	testkit.WriteFile(t, name, good)
	files, err := LoadDir(os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	eng := newTestEngine(t, nil, files)
	w, err := NewWatcher(eng, dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.fsw != nil {
		defer w.fsw.Close()
	}
	reload := func(what string) ReloadStatus {
		t.Helper()
		if !w.reload() {
			t.Fatalf("%s: the files changed while read", what)
		}
		return w.LastReload()
	}
	if st := w.LastReload(); st.Rejected {
		t.Fatalf("rejected before any change: %+v", st)
	}

	// A broken change: two problems, both reported.
	testkit.WriteFile(t, name, good+"p, public, /a{, GET\np, public, /b, get\n")
	st := reload("broken change")
	n := strings.Count(good, "\n") // the line before the first new one
	want := []string{fmt.Sprintf("%s:%d: invalid path pattern", name, n+1), fmt.Sprintf("%s:%d: invalid method", name, n+2)}
	if !st.Rejected || st.At.IsZero() || len(st.Problems) != len(want) {
		t.Fatalf("after a broken change: %+v; want rejected, with a time and %d problems", st, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(st.Problems[i], w) {
			t.Errorf("problem %d is %q; want it to start with %q", i+1, st.Problems[i], w)
		}
	}
	if eng.Revision() != files.Revision {
		t.Fatal("the broken change was put in force")
	}

	// The files put back as they were: nothing is rejected any more.
	testkit.WriteFile(t, name, good)
	if st := reload("files put back"); st.Rejected {
		t.Errorf("after the files were put back: %+v; want not rejected", st)
	}

	// Broken again, then fixed with a new policy.
	testkit.WriteFile(t, name, good+"p, public, /a{, GET\n")
	if st := reload("broken again"); !st.Rejected || !slices.ContainsFunc(st.Problems, func(p string) bool { return strings.HasPrefix(p, want[0]) }) {
		t.Fatalf("after a second broken change: %+v", st)
	}
	testkit.WriteFile(t, name, good+"p, public, /version, GET\n")
	if st := reload("fix"); st.Rejected {
		t.Errorf("after a valid change: %+v; want not rejected", st)
	}
	if eng.Revision() == files.Revision {
		t.Error("the valid change is not in force")
	}
}
