package policy

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
)

// Reload timing.
const (
	// reloadDebounce is how long the directory must be quiet before it is
	// re-read: editors and kubelet change several entries in a row.
	reloadDebounce = 150 * time.Millisecond
	// reloadMaxDelay bounds the wait when events never stop coming.
	reloadMaxDelay = time.Second
	// resyncInterval is how often the directory is re-read without an
	// event, in case one was lost (a queue overflow, a directory replaced
	// as a whole).
	resyncInterval = 10 * time.Second
	// pollInterval is the re-read interval when the directory cannot be
	// watched at all (for example when inotify instances run out).
	pollInterval = time.Second
)

// Watcher keeps an engine's file layer in step with a policy directory.
//
// It watches the directory itself, not the files in it, so it sees plain
// writes, editors' rename-writes and the atomic swap of the "..data" link
// that Kubernetes uses to update a mounted ConfigMap. Any event re-reads
// the directory once it has been quiet for a moment; the content's
// revision (a hash) says whether anything changed. A valid change is put
// in force; an invalid one is logged with every problem and counted, and
// the last good policy stays in force.
type Watcher struct {
	eng  *Engine
	dir  string
	fsys fs.FS
	log  *slog.Logger
	fsw  *fsnotify.Watcher // nil when the directory is polled

	debounce, maxDelay, resync time.Duration

	reloadsOK, reloadsFailed prometheus.Counter
	lastOK                   prometheus.Gauge

	// last is the revision (or read error) of the content last tried, good
	// or bad, so that each change is applied or reported once. Only Run's
	// goroutine uses it.
	last string

	mu       sync.Mutex   // guards rejected
	rejected ReloadStatus // the last rejected change, while it is on disk
}

// ReloadStatus says whether the policy files on disk are in force.
type ReloadStatus struct {
	// Rejected is true while the files on disk are a change the watcher
	// refused: the last good policy (the engine's revision) stays in
	// force until the files are fixed or put back.
	Rejected bool
	// At is when the rejected change was read.
	At time.Time
	// Problems are the change's problems, FILE:LINE: message, sorted.
	Problems []string
}

// LastReload reports whether the last change of the directory was
// rejected, and why. It is safe to call while Run runs.
func (w *Watcher) LastReload() ReloadStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rejected
}

// setRejected records the outcome of a reload: problems of a rejected
// change, or none once the files on disk are in force.
func (w *Watcher) setRejected(problems []string) {
	st := ReloadStatus{}
	if problems != nil {
		st = ReloadStatus{Rejected: true, At: time.Now(), Problems: problems}
	}
	w.mu.Lock()
	w.rejected = st
	w.mu.Unlock()
}

// NewWatcher prepares a watcher of dir for eng, which must have been
// loaded from dir. It registers the reload metrics with reg (when not
// nil): gatehouse_policy_reloads_total{result="ok"|"error"} and
// gatehouse_policy_last_reload_successful. Call Run to start watching.
func NewWatcher(eng *Engine, dir string, reg prometheus.Registerer, log *slog.Logger) (*Watcher, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reloads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gatehouse_policy_reloads_total",
		Help: "Reloads of the policy directory by result: ok (put in force) or error (rejected; the last good policy stays).",
	}, []string{"result"})
	lastOK := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "gatehouse_policy_last_reload_successful",
		Help: "1 when the policy files on disk are the ones in force, 0 after a rejected change.",
	})
	lastOK.Set(1)
	if reg != nil {
		if err := reg.Register(reloads); err != nil {
			return nil, fmt.Errorf("policy: registering metrics: %w", err)
		}
		if err := reg.Register(lastOK); err != nil {
			return nil, fmt.Errorf("policy: registering metrics: %w", err)
		}
	}
	w := &Watcher{
		eng: eng, dir: dir, fsys: os.DirFS(dir), log: log,
		debounce: reloadDebounce, maxDelay: reloadMaxDelay, resync: resyncInterval,
		reloadsOK: reloads.WithLabelValues("ok"), reloadsFailed: reloads.WithLabelValues("error"),
		lastOK: lastOK,
		last:   eng.Revision(),
	}
	fsw, err := fsnotify.NewWatcher()
	if err == nil {
		if err = fsw.Add(dir); err != nil {
			fsw.Close()
		}
	}
	if err != nil {
		log.Warn("policy: cannot watch the policy directory; polling it instead", "dir", dir, "interval", pollInterval.String(), "error", err)
		w.resync = pollInterval
		return w, nil
	}
	w.fsw = fsw
	return w, nil
}

// Run watches until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fsw != nil {
		defer w.fsw.Close()
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	timer := time.NewTimer(w.resync)
	defer timer.Stop()
	var pending time.Time // first event not yet acted on
	schedule := func() {
		now := time.Now()
		if pending.IsZero() {
			pending = now
		}
		timer.Reset(min(w.debounce, w.maxDelay-now.Sub(pending)))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			w.log.Debug("policy directory changed", "dir", w.dir, "event", ev.String())
			schedule()
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			w.log.Warn("policy: watching the policy directory", "dir", w.dir, "error", err)
			schedule() // events may have been lost: re-read
		case <-timer.C:
			if !w.reload() {
				// The content was changing while read: read again once it
				// has been quiet, however long that takes.
				timer.Reset(w.debounce)
				continue
			}
			pending = time.Time{}
			w.rewatch()
			timer.Reset(w.resync)
		}
	}
}

// rewatch watches the directory again when it was removed and re-created.
func (w *Watcher) rewatch() {
	if w.fsw == nil || slices.Contains(w.fsw.WatchList(), w.dir) {
		return
	}
	if err := w.fsw.Add(w.dir); err == nil {
		w.log.Info("policy: watching the policy directory again", "dir", w.dir)
	}
}

// reload re-reads the directory and applies or rejects what changed. It
// returns false when the content changed while it was read, so that the
// caller tries again instead of applying a mix of old and new files.
func (w *Watcher) reload() bool {
	d, err := readDir(w.fsys, w.dir)
	if err == nil {
		again, err2 := readDir(w.fsys, w.dir)
		if err2 != nil || !bytes.Equal(d.model, again.model) || !bytes.Equal(d.policy, again.policy) || (d.model == nil) != (again.model == nil) {
			return false
		}
	}
	if err != nil {
		key := "error: " + err.Error()
		if key != w.last {
			w.last = key
			w.reject([]error{err})
		}
		return true
	}
	f, parseErrs := d.files()
	if f.Revision == w.last {
		return true
	}
	w.last = f.Revision
	if f.Revision == w.eng.Revision() {
		w.setRejected(nil)
		w.lastOK.Set(1)
		w.log.Info("policy files are back to the revision in force", "dir", w.dir, "revision", f.Revision)
		return true
	}
	if len(parseErrs) > 0 {
		w.reject(validateFiles(f, parseErrs))
		return true
	}
	old := w.eng.Revision()
	if err := w.eng.ReplaceFiles(f); err != nil {
		w.reject(Problems(err))
		return true
	}
	w.setRejected(nil)
	w.lastOK.Set(1)
	w.log.Info("policy reloaded", "dir", w.dir, "revision", f.Revision, "previous_revision", old)
	w.reloadsOK.Inc() // last: whoever sees the count sees the rest
	return true
}

// reject logs every problem of a rejected change in one line and counts it.
func (w *Watcher) reject(problems []error) {
	SortProblems(problems)
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Error()
	}
	// Recorded and logged before it is counted, so that whoever sees the
	// count sees the reasons, the gauge and the log line too.
	w.setRejected(msgs)
	w.lastOK.Set(0)
	w.log.Error("policy reload rejected; the last good policy stays in force",
		"dir", w.dir, "revision", w.eng.Revision(), "problems", msgs)
	w.reloadsFailed.Inc()
}
