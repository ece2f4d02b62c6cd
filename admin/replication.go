package admin

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// How replicas that share a PostgreSQL database stay in step:
//
//   - Every change runs in one transaction that first takes a transaction
//     advisory lock (store.LockWrites), so writers of every replica are
//     serialized, then applies what other replicas committed before it
//     (catch-up), then makes its own change and records it in the changes
//     table (an outbox) with pg_notify, which PostgreSQL delivers at commit.
//   - Each replica listens on notifyChannel with a connection of its own and
//     catches up on every notification: line changes are applied
//     incrementally, changed users are re-read, new keys loaded.
//   - A periodic full reload reads the whole state in one consistent
//     snapshot and heals anything missed; the listener reconnects with
//     backoff and catches up after every reconnect.
//
// On SQLite (a single replica) the same code runs without the lock, the
// notification and the listener.

// notifyChannel is the PostgreSQL channel that announces changes.
const notifyChannel = "gatehouse_changes"

// changeRetention is how long change records are kept for replicas that
// were briefly away; the full reload covers longer absences.
const changeRetention = time.Hour

// changeRecord is what a change tells other replicas.
type changeRecord struct {
	Add   [][]string `json:"add,omitempty"`   // policy lines added: type, values…
	Del   [][]string `json:"del,omitempty"`   // policy lines removed
	Users []string   `json:"users,omitempty"` // ids of users changed or deleted: re-read them
	Keys  bool       `json:"keys,omitempty"`  // the signing keys changed
	// APIKeys are the ids of API keys changed or deleted: re-read them.
	APIKeys []string `json:"api_keys,omitempty"`
}

func (r *changeRecord) empty() bool {
	return len(r.Add) == 0 && len(r.Del) == 0 && len(r.Users) == 0 && !r.Keys && len(r.APIKeys) == 0
}

func encodeLines(ls []policy.Line) [][]string {
	out := make([][]string, len(ls))
	for i, l := range ls {
		out[i] = append([]string{l.Ptype}, l.Fields...)
	}
	return out
}

func decodeLines(rows [][]string) []policy.Line {
	var out []policy.Line
	for _, r := range rows {
		if len(r) >= 2 {
			out = append(out, policy.Line{Ptype: r[0], Fields: r[1:]})
		}
	}
	return out
}

// tx is one change of the control plane: a policy change (its database
// transaction and its lines) plus what it tells other replicas.
type tx struct {
	*policy.Change
	s   *Service
	rec changeRecord
}

// userChanged records that u was written; every replica's directory gets
// it after the commit.
func (t *tx) userChanged(u *store.User) {
	t.rec.Users = append(t.rec.Users, u.ID)
	cp := *u
	t.OnCommit(func() { t.s.dir.put(&cp) })
}

// userDeleted records that a user is gone.
func (t *tx) userDeleted(id string) {
	t.rec.Users = append(t.rec.Users, id)
	t.OnCommit(func() { t.s.dir.remove(id) })
}

// apiKeyChanged records that k was written; every replica's key
// directory gets it after the commit.
func (t *tx) apiKeyChanged(k *store.APIKey) {
	t.rec.APIKeys = append(t.rec.APIKeys, k.ID)
	cp := *k
	t.OnCommit(func() { t.s.apiKeys.put(&cp) })
}

// apiKeyDeleted records that an API key is gone.
func (t *tx) apiKeyDeleted(id string) {
	t.rec.APIKeys = append(t.rec.APIKeys, id)
	t.OnCommit(func() { t.s.apiKeys.remove(id) })
}

// update runs fn as one change (see the comment at the top of this file).
func (s *Service) update(ctx context.Context, fn func(t *tx) error) error {
	err := s.eng.Update(ctx, func(c *policy.Change) error {
		t := &tx{Change: c, s: s}
		if err := store.LockWrites(c.DB()); err != nil {
			return err
		}
		if err := s.catchUp(ctx, c); err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		return s.record(t)
	})
	return s.storeErr(ctx, err)
}

// record writes the change record and its notification.
func (s *Service) record(t *tx) error {
	add, del := t.Pending()
	t.rec.Add, t.rec.Del = encodeLines(add), encodeLines(del)
	if t.rec.empty() {
		return nil
	}
	payload, err := json.Marshal(t.rec)
	if err != nil {
		return err
	}
	row := store.Change{Payload: payload, CreatedAt: s.now().UTC()}
	if err := t.DB().Create(&row).Error; err != nil {
		return err
	}
	if err := store.Notify(t.DB(), notifyChannel, strconv.FormatUint(row.ID, 10)); err != nil {
		return err
	}
	t.OnCommit(func() { s.applied = row.ID })
	return nil
}

// catchUp applies, in order, every change record newer than the last one
// this replica applied. Callers run inside the engine's serialization
// (Update or Exclusive), which also guards s.applied.
func (s *Service) catchUp(ctx context.Context, c *policy.Change) error {
	const batch = 500
	for {
		var rows []store.Change
		if err := c.DB().WithContext(ctx).Where("id > ?", s.applied).Order("id").Limit(batch).Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			if err := s.applyRecord(ctx, c, r); err != nil {
				return err
			}
			s.applied = r.ID
		}
		if len(rows) < batch {
			return nil
		}
	}
}

func (s *Service) applyRecord(ctx context.Context, c *policy.Change, r store.Change) error {
	var rec changeRecord
	if err := json.Unmarshal(r.Payload, &rec); err != nil {
		s.log.Error("replication: skipping an unreadable change record", "id", r.ID, "error", err)
		return nil
	}
	c.ApplyCommitted(decodeLines(rec.Add), decodeLines(rec.Del))
	if r.ID <= s.rereadAfter {
		return nil // the directory was loaded after this record (initialLoad)
	}
	db := c.DB().WithContext(ctx)
	// A new session: each row's query starts from the selection alone.
	users := db.Select(directoryColumns).Session(&gorm.Session{})
	if err := reread(users, rec.Users, s.dir.put, s.dir.remove); err != nil {
		return err
	}
	if err := reread(db, rec.APIKeys, s.apiKeys.put, s.apiKeys.remove); err != nil {
		return err
	}
	if rec.Keys {
		return s.keys.load(ctx, c.DB())
	}
	return nil
}

// reread reads the rows of the ids a change record names through db and
// puts each in memory, or removes those that are gone.
func reread[T any](db *gorm.DB, ids []string, put func(*T), remove func(string)) error {
	for _, id := range ids {
		var row T
		err := db.Where("id = ?", id).Take(&row).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			remove(id)
		case err != nil:
			return err
		default:
			put(&row)
		}
	}
	return nil
}

// initialLoad fills the directory and the keys at start. The policy engine
// loaded its lines a moment before, so every change record still retained
// is replayed: line changes apply idempotently, in order, so the replay
// ends where the log ends; users are re-read only for records newer than
// the snapshot the directory was loaded from.
func (s *Service) initialLoad(ctx context.Context) error {
	return s.eng.Exclusive(ctx, func(c *policy.Change) error {
		var users []store.User
		var apiKeys []store.APIKey
		err := s.snapshot(ctx, func(db *gorm.DB) error {
			var err error
			if err = db.Model(&store.Change{}).Select("COALESCE(MAX(id), 0)").Scan(&s.rereadAfter).Error; err != nil {
				return err
			}
			if users, err = loadUsers(ctx, db); err != nil {
				return err
			}
			if err = db.WithContext(ctx).Find(&apiKeys).Error; err != nil {
				return err
			}
			return s.keys.load(ctx, db)
		})
		if err != nil {
			return err
		}
		s.dir.replaceAll(users)
		s.apiKeys.replaceAll(apiKeys)
		s.applied = 0
		return s.catchUp(ctx, c)
	})
}

// snapshot runs fn in a read-only transaction that sees one consistent
// state of the store.
func (s *Service) snapshot(ctx context.Context, fn func(db *gorm.DB) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if store.IsPostgres(s.db) {
		opts.Isolation = sql.LevelRepeatableRead
	}
	return s.db.WithContext(ctx).Transaction(fn, opts)
}

// Sync applies what other replicas committed since the last sync.
func (s *Service) Sync(ctx context.Context) error {
	return s.eng.Exclusive(ctx, func(c *policy.Change) error { return s.catchUp(ctx, c) })
}

// Reload reads the whole state (policy lines, users, signing keys) in one
// consistent snapshot and puts it in force, healing anything a replica
// missed.
func (s *Service) Reload(ctx context.Context) error {
	return s.eng.Exclusive(ctx, func(c *policy.Change) error {
		return s.snapshot(ctx, func(db *gorm.DB) error {
			var maxID uint64
			if err := db.Model(&store.Change{}).Select("COALESCE(MAX(id), 0)").Scan(&maxID).Error; err != nil {
				return err
			}
			lines, err := s.eng.LoadDatabaseLines(ctx, db)
			if err != nil {
				return err
			}
			users, err := loadUsers(ctx, db)
			if err != nil {
				return err
			}
			var apiKeys []store.APIKey
			if err := db.WithContext(ctx).Find(&apiKeys).Error; err != nil {
				return err
			}
			if err := s.keys.load(ctx, db); err != nil {
				return err
			}
			if err := c.ReplaceDatabaseLines(lines); err != nil {
				return err
			}
			s.dir.replaceAll(users)
			s.apiKeys.replaceAll(apiKeys)
			s.applied = maxID
			return nil
		})
	})
}

func loadUsers(ctx context.Context, db *gorm.DB) ([]store.User, error) {
	var all, batch []store.User
	err := db.WithContext(ctx).Select(directoryColumns).
		FindInBatches(&batch, 10000, func(*gorm.DB, int) error {
			all = append(all, batch...)
			return nil
		}).Error
	return all, err
}

// RotateKey creates a new signing key. New tokens are signed with it; older
// tokens stay valid until they expire. Every replica loads it.
func (s *Service) RotateKey(ctx context.Context) (string, error) {
	var kid string
	err := s.update(ctx, func(t *tx) error {
		var err error
		if kid, err = s.keys.create(ctx, t.DB()); err != nil {
			return err
		}
		t.rec.Keys = true
		t.auditChange(ctx, "signing-key.rotate", kid, "", "")
		t.OnCommit(func() { _ = s.keys.load(ctx, s.db) })
		return nil
	})
	return kid, err
}

// storeErr turns failures of an unreachable store into ErrUnavailable;
// the control plane's own errors pass through.
func (s *Service) storeErr(ctx context.Context, err error) error {
	var fe *FieldError
	var rl *RateLimitError
	var ro *policy.ReadOnlyError
	switch {
	case err == nil, errors.As(err, &fe), errors.As(err, &rl), errors.As(err, &ro),
		errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict), errors.Is(err, ErrGone),
		errors.Is(err, ErrInvalid), errors.Is(err, ErrUnauthenticated), errors.Is(err, ErrForbidden),
		errors.Is(err, ErrUnavailable):
		return err
	}
	if perr := store.Ping(ctx, s.db); perr != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

// Replication reports the state of the change listener.
type Replication struct {
	Listening bool      // the listener is connected (PostgreSQL only)
	LastSync  time.Time // the last successful sync or reload
}

// replicationState is read by /readyz.
type replicationState struct {
	listening atomic.Bool
	lastSync  atomic.Int64 // unix nanoseconds
}

// Replication returns the listener's state.
func (s *Service) Replication() Replication {
	return Replication{Listening: s.repl.listening.Load(), LastSync: time.Unix(0, s.repl.lastSync.Load())}
}

// Run keeps this replica in step until ctx ends: on PostgreSQL it listens
// for changes (reconnecting with backoff); everywhere it reloads fully every
// reloadEvery, prunes old change records and writes the API keys' last
// uses (flushLastUsed), once more when ctx ends. It returns once ctx has ended
// and the listener has stopped too, so that nothing it started uses the
// store after it returns.
func (s *Service) Run(ctx context.Context, listenDSN string, reloadEvery time.Duration) {
	var listener sync.WaitGroup
	defer listener.Wait()
	if listenDSN != "" {
		listener.Go(func() { s.listen(ctx, listenDSN) })
	}
	if reloadEvery <= 0 {
		reloadEvery = time.Minute
	}
	reload := time.NewTicker(reloadEvery)
	defer reload.Stop()
	prune := time.NewTicker(10 * time.Minute)
	defer prune.Stop()
	lastUsed := time.NewTicker(s.lastUsedEvery)
	defer lastUsed.Stop()
	for {
		select {
		case <-ctx.Done():
			// The uses seen since the last flush, before the store closes.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			if err := s.flushLastUsed(fctx); err != nil {
				s.log.Warn("API keys: writing last uses failed", "error", err)
			}
			return
		case <-lastUsed.C:
			if err := s.flushLastUsed(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("API keys: writing last uses failed", "error", err)
			}
		case <-reload.C:
			if err := s.Reload(ctx); err != nil {
				if ctx.Err() != nil {
					return // stopped mid-reload: nothing failed
				}
				s.log.Warn("replication: periodic reload failed; serving from memory", "error", err)
				continue
			}
			s.repl.lastSync.Store(time.Now().UnixNano())
		case <-prune.C:
			if err := s.prune(ctx); err != nil {
				s.log.Warn("replication: pruning change records failed", "error", err)
			}
		}
	}
}

// prune deletes change records older than changeRetention. It deletes a
// prefix of the log (everything up to the newest old record), never a
// record with a newer one before it kept: writers' clocks may differ, and
// a replica replaying the log at start needs it without holes.
func (s *Service) prune(ctx context.Context) error {
	cut := s.now().Add(-changeRetention)
	newestOld := s.db.Model(&store.Change{}).Select("MAX(id)").Where("created_at < ?", cut)
	return s.db.WithContext(ctx).Where("id <= (?)", newestOld).Delete(&store.Change{}).Error
}

// listen holds a LISTEN connection and syncs on every notification and
// after every (re)connect.
func (s *Service) listen(ctx context.Context, dsn string) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, dsn, func() { backoff = 100 * time.Millisecond })
		s.repl.listening.Store(false)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("replication: change listener disconnected; reconnecting", "error", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Service) listenOnce(ctx context.Context, dsn string, connected func()) error {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = "gatehouse-listener"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	s.repl.listening.Store(true)
	connected()
	for {
		// Catch up first: changes may have committed while we were away.
		if err := s.Sync(ctx); err != nil {
			s.log.Warn("replication: sync failed", "error", err)
		} else {
			s.repl.lastSync.Store(time.Now().UnixNano())
		}
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
	}
}
