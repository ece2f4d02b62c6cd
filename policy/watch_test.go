package policy

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// applyWithin is how fast a change must be in force.
const applyWithin = 2 * time.Second

const basePolicy = "p, read, /*, GET\np, write, /*, POST|PUT|PATCH|DELETE\n" + adminLines

// watched is a policy directory with an engine and a running watcher.
type watched struct {
	dir string
	eng *Engine
	w   *Watcher
	reg *prometheus.Registry
	log *testkit.LockedBuffer
}

// startWatcher loads dir into an engine and watches it until the test ends.
func startWatcher(t *testing.T, dir string, poll bool) *watched {
	t.Helper()
	files, err := LoadDir(os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	x := &watched{dir: dir, eng: newTestEngine(t, nil, files), reg: prometheus.NewRegistry(), log: &testkit.LockedBuffer{}}
	x.w, err = NewWatcher(x.eng, dir, x.reg, slog.New(slog.NewJSONHandler(x.log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if poll {
		x.w.fsw.Close()
		x.w.fsw, x.w.resync = nil, 50*time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { x.w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return x
}

// allows reports whether an anonymous GET of path is allowed.
func (x *watched) allows(path string) bool {
	d, err := x.eng.Decide("", "", "", "GET", path)
	return err == nil && d.Allowed
}

// reloads returns gatehouse_policy_reloads_total for result.
func (x *watched) reloads(t *testing.T, result string) float64 {
	t.Helper()
	return gathered(t, x.reg, "gatehouse_policy_reloads_total", "result", result)
}

func gathered(t *testing.T, reg prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					if m.Counter != nil {
						return m.Counter.GetValue()
					}
					return m.Gauge.GetValue()
				}
			}
			if label == "" && m.Gauge != nil {
				return m.Gauge.GetValue()
			}
		}
	}
	t.Fatalf("no metric %s{%s=%q}", name, label, value)
	return 0
}

func TestWatcherAppliesPlainEdits(t *testing.T) {
	for _, poll := range []bool{false, true} {
		name := "fsnotify"
		if poll {
			name = "polling"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			testkit.WriteFile(t, filepath.Join(dir, PolicyFile), basePolicy)
			x := startWatcher(t, dir, poll)
			if x.allows("/health") {
				t.Fatal("anonymous GET /health allowed before the edit")
			}
			old := x.eng.Revision()
			testkit.WriteFile(t, filepath.Join(dir, PolicyFile), basePolicy+"p, public, /health, GET\n")
			testkit.WaitFor(t, applyWithin, "plain edit in force", func() bool { return x.allows("/health") })
			if x.eng.Revision() == old {
				t.Error("revision unchanged")
			}
			testkit.WaitFor(t, applyWithin, "reload counted", func() bool { return x.reloads(t, "ok") == 1 })
			if got := gathered(t, x.reg, "gatehouse_policy_last_reload_successful", "", ""); got != 1 {
				t.Errorf("last_reload_successful = %v", got)
			}
		})
	}
}

func TestWatcherAppliesRenameWrites(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, PolicyFile), basePolicy)
	x := startWatcher(t, dir, false)
	// An editor writes a new file beside the old one and renames it over.
	tmp := filepath.Join(dir, ".policy.csv.swp")
	testkit.WriteFile(t, tmp, basePolicy+"p, public, /health, GET\n")
	if err := os.Rename(tmp, filepath.Join(dir, PolicyFile)); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, applyWithin, "rename-write in force", func() bool { return x.allows("/health") })
}

// configMap lays out dir as the kubelet mounts a ConfigMap: the files are
// links through the "..data" link to a timestamped directory.
type configMap struct {
	dir string
	gen int
}

func (c *configMap) publish(t *testing.T, files map[string]string) {
	t.Helper()
	c.gen++
	ts := filepath.Join(c.dir, "..2026_01_01_00_00_0"+string(rune('0'+c.gen)))
	if err := os.Mkdir(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		testkit.WriteFile(t, filepath.Join(ts, name), data)
	}
	tmpLink := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmpLink); err != nil {
		t.Fatal(err)
	}
	old, _ := os.Readlink(filepath.Join(c.dir, "..data"))
	// The atomic swap: rename the new link over the old one.
	if err := os.Rename(tmpLink, filepath.Join(c.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		link := filepath.Join(c.dir, name)
		if _, err := os.Lstat(link); err != nil {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(c.dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWatcherAppliesConfigMapSwaps(t *testing.T) {
	cm := &configMap{dir: t.TempDir()}
	cm.publish(t, map[string]string{PolicyFile: basePolicy})
	x := startWatcher(t, cm.dir, false)
	cm.publish(t, map[string]string{PolicyFile: basePolicy + "p, public, /health, GET\n"})
	testkit.WaitFor(t, applyWithin, "ConfigMap swap in force", func() bool { return x.allows("/health") })
	cm.publish(t, map[string]string{PolicyFile: basePolicy + "p, public, /version, GET\n"})
	testkit.WaitFor(t, applyWithin, "second swap in force", func() bool { return x.allows("/version") && !x.allows("/health") })
	testkit.WaitFor(t, applyWithin, "reloads counted", func() bool { return x.reloads(t, "ok") == 2 })
}

func TestWatcherKeepsLastGoodPolicy(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, PolicyFile), basePolicy+"p, public, /health, GET\n")
	x := startWatcher(t, dir, false)
	good := x.eng.Revision()

	// A broken edit: a bad line, and admin losing write.
	broken := strings.Replace(basePolicy, "g, admin, write\n", "", 1) + "p, public, /health, get\np, public, /version, GET\n"
	testkit.WriteFile(t, filepath.Join(dir, PolicyFile), broken)
	testkit.WaitFor(t, applyWithin, "broken edit rejected", func() bool { return x.reloads(t, "error") == 1 })
	if !x.allows("/health") || x.allows("/version") || x.eng.Revision() != good {
		t.Fatal("the broken edit changed the policy in force")
	}
	if got := gathered(t, x.reg, "gatehouse_policy_last_reload_successful", "", ""); got != 0 {
		t.Errorf("last_reload_successful = %v after a rejected change", got)
	}
	logged := x.log.String()
	for _, want := range []string{"policy reload rejected", filepath.Join(dir, PolicyFile) + ":5: invalid method",
		filepath.Join(dir, PolicyFile) + ":3: the admin role must keep read, write and me; it lacks write", `"revision":"` + good + `"`} {
		if !strings.Contains(logged, want) {
			t.Errorf("log lacks %q:\n%s", want, logged)
		}
	}

	// A broken model.conf is rejected the same way.
	testkit.WriteFile(t, filepath.Join(dir, ModelFile), "[request_definition]\nr = sub, obj, act\n[matchers]\nm = nope(r.sub)\n")
	testkit.WaitFor(t, applyWithin, "broken model rejected", func() bool { return x.reloads(t, "error") == 2 })
	if err := os.Remove(filepath.Join(dir, ModelFile)); err != nil {
		t.Fatal(err)
	}

	// The fix is applied, and both outcomes stay counted.
	testkit.WriteFile(t, filepath.Join(dir, PolicyFile), basePolicy+"p, public, /version, GET\n")
	testkit.WaitFor(t, applyWithin, "fix in force", func() bool { return x.allows("/version") && !x.allows("/health") })
	testkit.WaitFor(t, applyWithin, "fix counted", func() bool { return x.reloads(t, "ok") == 1 })
	if got := x.reloads(t, "error"); got != 2 {
		t.Errorf("error reloads = %v, want 2", got)
	}
}
