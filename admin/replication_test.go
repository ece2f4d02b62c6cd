package admin

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/testkit"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// replica is one Gatehouse sharing a PostgreSQL database with others, with
// its own connections, engine and change listener.
type replica struct {
	*Service
	name string
}

func startReplicas(t *testing.T, dsn string, reloadEvery time.Duration, names ...string) []*replica {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	var out []*replica
	for _, n := range names {
		s := conformanceService(t, dsn)
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx, dsn, reloadEvery) }()
		out = append(out, &replica{Service: s, name: n})
	}
	for _, r := range out {
		testkit.WaitFor(t, 5*time.Second, r.name+" listening", func() bool { return r.Replication().Listening })
	}
	return out
}

func postgresOnly(t *testing.T) string {
	t.Helper()
	pg, ok := storetest.Postgres(t)
	if !ok {
		t.Skipf("needs PostgreSQL: set %s", storetest.PostgresEnv)
	}
	return pg.DSN
}

// allowed decides a request for a token on a replica, as the data plane
// does: authenticate, then decide.
func (r *replica) allowed(tok, method, path string) bool {
	id, err := r.auth.Authenticate(tok)
	if err != nil {
		return false
	}
	d, err := r.eng.Decide(id.Subject(), id.UserID(), id.Username(), method, path)
	return err == nil && d.Allowed
}

func TestReplicasConverge(t *testing.T) {
	dsn := postgresOnly(t)
	ctx := context.Background()
	rs := startReplicas(t, dsn, time.Minute, "A", "B", "C")
	a, b, c := rs[0], rs[1], rs[2]

	mustCreate(t, a.Service, CreateUser{Username: "gus", Password: "gus-password", Roles: &[]string{"guest", "admin"}})
	var tok string
	testkit.WaitFor(t, time.Second, "B knows gus", func() bool {
		t, err := b.Login(ctx, "gus", "gus-password", "c")
		tok = t.AccessToken
		return err == nil
	})
	for _, r := range rs {
		testkit.WaitFor(t, time.Second, r.name+" lets admin gus write", func() bool { return r.allowed(tok, "POST", "/api/v1/runs") })
	}

	t.Run("a revoke through A is enforced by B and C", func(t *testing.T) {
		if err := a.Revoke(ctx, "gus", "admin", ""); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*replica{b, c} {
			took := testkit.WaitFor(t, time.Second, r.name+" enforces the revoke", func() bool { return !r.allowed(tok, "POST", "/api/v1/runs") })
			t.Logf("%s enforced the revoke after %s", r.name, took)
			if !r.allowed(tok, "GET", "/api/v1/runs") {
				t.Fatalf("%s lost the guest role too", r.name)
			}
		}
	})
	t.Run("a custom role created on B is usable on C", func(t *testing.T) {
		if _, err := b.CreateRole(ctx, "ops", []string{"read", "write"}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Assign(ctx, "gus", "ops", ""); err != nil {
			t.Fatalf("assign on C: %v", err)
		}
		for _, r := range rs {
			testkit.WaitFor(t, time.Second, r.name+" grants ops", func() bool { return r.allowed(tok, "DELETE", "/api/v1/runs/1") })
		}
	})
	t.Run("a deactivation through A rejects the token on B and C", func(t *testing.T) {
		f := false
		if _, err := a.UpdateUser(ctx, "", "gus", UpdateUser{Active: &f}); err != nil {
			t.Fatal(err)
		}
		for _, r := range []*replica{b, c} {
			took := testkit.WaitFor(t, time.Second, r.name+" rejects the token", func() bool {
				_, err := r.auth.Authenticate(tok)
				return errors.Is(err, ErrUnauthenticated)
			})
			t.Logf("%s rejected the token after %s", r.name, took)
		}
	})
	t.Run("a key rotated on A signs on B; old tokens stay valid", func(t *testing.T) {
		old, err := b.Login(ctx, "admin", testAdminPW, "c")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.RotateKey(ctx); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, time.Second, "B signs with the new key", func() bool {
			b.keys.mu.RLock()
			defer b.keys.mu.RUnlock()
			return b.keys.current == a.keys.current
		})
		fresh, _ := b.Login(ctx, "admin", testAdminPW, "c")
		for _, r := range rs {
			for _, tk := range []string{old.AccessToken, fresh.AccessToken} {
				if _, err := r.auth.Authenticate(tk); err != nil {
					t.Fatalf("%s refuses a token: %v", r.name, err)
				}
			}
		}
	})
}

// killListeners ends every change listener's connection.
func killListeners(t *testing.T) int {
	t.Helper()
	db, err := sql.Open("pgx", os.Getenv(storetest.PostgresEnv))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'gatehouse-listener' AND pid <> pg_backend_pid()`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReplicasHealAfterFaults(t *testing.T) {
	dsn := postgresOnly(t)
	ctx := context.Background()
	rs := startReplicas(t, dsn, 500*time.Millisecond, "A", "B", "C")
	a := rs[0]
	mustCreate(t, a.Service, CreateUser{Username: "gus", Password: "gus-password"})
	tok, err := a.Login(ctx, "gus", "gus-password", "c")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		testkit.WaitFor(t, time.Second, r.name+" knows gus", func() bool { return r.allowed(tok.AccessToken, "GET", "/x") })
	}

	// Changes made while the listeners are down arrive after they
	// reconnect.
	if n := killListeners(t); n < 3 {
		t.Fatalf("killed %d listeners, want at least 3", n)
	}
	if _, err := a.Assign(ctx, "gus", "admin", ""); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		testkit.WaitFor(t, 5*time.Second, r.name+" converges after reconnecting", func() bool {
			return r.allowed(tok.AccessToken, "POST", "/x")
		})
	}
	testkit.WaitFor(t, 5*time.Second, "listeners back", func() bool {
		for _, r := range rs {
			if !r.Replication().Listening {
				return false
			}
		}
		return true
	})

	// A change that bypasses the change log (written straight into the
	// database) is healed by the periodic full reload.
	if err := a.db.Exec("DELETE FROM casbin_rule WHERE ptype = 'g' AND v0 = ? AND v1 = 'admin'", policy.UserSubject("gus")).Error; err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		testkit.WaitFor(t, 3*time.Second, r.name+" heals through the periodic reload", func() bool {
			return !r.allowed(tok.AccessToken, "POST", "/x")
		})
	}
}

// TestConcurrentChangesOneWinner changes the same user and role from two
// replicas at once: the database decides, both converge on its answer, and
// no line is duplicated or orphaned.
func TestConcurrentChangesOneWinner(t *testing.T) {
	dsn := postgresOnly(t)
	ctx := context.Background()
	rs := startReplicas(t, dsn, time.Minute, "A", "B")
	a, b := rs[0], rs[1]
	mustCreate(t, a.Service, CreateUser{Username: "gus", Password: "gus-password"})
	testkit.WaitFor(t, time.Second, "B knows gus", func() bool { return b.dir.idOf("gus") != "" })

	for round := 0; round < 5; round++ {
		role := fmt.Sprintf("r%d", round)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, r := range rs {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = r.CreateRole(ctx, role, []string{"read"}) }()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) || !(errors.Is(errs[0], ErrConflict) || errors.Is(errs[1], ErrConflict)) {
			t.Fatalf("create %s twice: %v / %v, want one success and one conflict", role, errs[0], errs[1])
		}
		for i, r := range rs {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = r.Assign(ctx, "gus", role, "") }()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("assign %s twice: %v / %v, want one success", role, errs[0], errs[1])
		}
	}
	// Delete and rename the same user at once: one wins, nothing is left
	// behind under either name.
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = a.DeleteUser(ctx, "", "gus") }()
	go func() {
		defer wg.Done()
		n := "gus2"
		_, errs[1] = b.UpdateUser(ctx, "", "gus", UpdateUser{Username: &n})
	}()
	wg.Wait()
	if errs[0] != nil && errs[1] != nil {
		t.Fatalf("both failed: %v / %v", errs[0], errs[1])
	}

	var dups, orphans int64
	a.db.Raw(`SELECT count(*) FROM (SELECT ptype, v0, v1, count(*) c FROM casbin_rule GROUP BY ptype, v0, v1, v2, v3, v4, v5 HAVING count(*) > 1) d`).Scan(&dups)
	a.db.Raw(`SELECT count(*) FROM casbin_rule r WHERE r.ptype = 'g' AND r.v0 LIKE 'user:%'
		AND NOT EXISTS (SELECT 1 FROM users u WHERE 'user:' || u.username = r.v0)`).Scan(&orphans)
	if dups != 0 || orphans != 0 {
		t.Fatalf("%d duplicated and %d orphaned lines", dups, orphans)
	}
	for _, r := range rs {
		if err := r.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	ga, gb := a.eng.Groupings(), b.eng.Groupings()
	if fmt.Sprint(ga) != fmt.Sprint(gb) {
		t.Fatalf("replicas differ:\nA %v\nB %v", ga, gb)
	}
}

// TestPruneKeepsASuffix: pruning removes a prefix of the change log even
// when writers' clocks disagreed, so no kept record lacks its predecessor.
func TestPruneKeepsASuffix(t *testing.T) {
	for _, st := range storetest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			s := conformanceService(t, st.DSN)
			ctx := context.Background()
			old, recent := time.Now().Add(-2*changeRetention), time.Now()
			// ids 1..4 with a skewed clock: record 2 looks recent, record 3 old.
			for _, at := range []time.Time{old, recent, old, recent} {
				if err := s.db.Create(&store.Change{Payload: []byte(`{}`), CreatedAt: at}).Error; err != nil {
					t.Fatal(err)
				}
			}
			var before []store.Change
			s.db.Order("id").Find(&before)
			if err := s.prune(ctx); err != nil {
				t.Fatal(err)
			}
			var after []store.Change
			s.db.Order("id").Find(&after)
			if len(after) == 0 || after[0].ID != before[len(before)-1].ID || len(after) != 1 {
				t.Fatalf("kept %v of %v: want only the last record (everything up to the newest old one goes)", ids(after), ids(before))
			}
		})
	}
}

func ids(cs []store.Change) []uint64 {
	var out []uint64
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}
