package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// keyWrites counts the writes of api_keys rows through db's updates, and
// when they happened by clock.
type keyWrites struct {
	mu sync.Mutex // guards at
	at []time.Time
}

func (w *keyWrites) watch(t *testing.T, db *gorm.DB, clock *testClock) {
	t.Helper()
	err := db.Callback().Update().After("gorm:update").Register("test:count_key_writes", func(tx *gorm.DB) {
		if tx.Statement.Table == "api_keys" && tx.RowsAffected > 0 {
			w.mu.Lock()
			w.at = append(w.at, clock.now())
			w.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLastUsedWrites: two replicas sharing a store use a key every second
// for ten minutes and flush every ten seconds; the key's row is written
// at most once a minute between them, and last_used_at ends within a
// minute of the last use.
func TestLastUsedWrites(t *testing.T) {
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "g.db")
	a, b := conformanceService(t, dsn), conformanceService(t, dsn)
	clock := newTestClock(a)
	b.setClock(clock.now)
	var writes keyWrites
	writes.watch(t, a.db, clock)
	writes.watch(t, b.db, clock)
	mustAccount(t, a, "ci", policy.RoleGuest)
	key := string(mustKey(t, a, "ci", CreateAPIKey{Name: "deploy"}).Key)
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	const uses = 600
	for i := 1; i <= uses; i++ {
		clock.advance(time.Second)
		for _, s := range []*Service{a, b} {
			if !allows(t, s, bearer(key), "GET", "/api/v1/pipelines") {
				t.Fatal("the key is refused")
			}
		}
		if i%10 == 0 {
			for _, s := range []*Service{a, b} {
				if err := s.flushLastUsed(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	writes.mu.Lock()
	defer writes.mu.Unlock()
	if n := len(writes.at); n < uses/60-1 || n > uses/60+1 {
		t.Errorf("%d writes for %d uses over %d minutes on two replicas, want about one a minute", n, 2*uses, uses/60)
	}
	for i := 1; i < len(writes.at); i++ {
		if d := writes.at[i].Sub(writes.at[i-1]); d < time.Minute {
			t.Errorf("writes %d and %d are %s apart, less than a minute", i-1, i, d)
		}
	}
	var row store.APIKey
	if err := a.db.Where("name = ?", "deploy").Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	if row.LastUsedAt == nil || clock.now().Sub(*row.LastUsedAt) > time.Minute {
		t.Errorf("last_used_at = %v, want within a minute of %v", row.LastUsedAt, clock.now())
	}
	k, err := a.GetAPIKey(ctx, "ci", "deploy")
	if err != nil || k.LastUsedAt == nil || !k.LastUsedAt.Equal(clock.now().Truncate(time.Second).UTC()) {
		t.Errorf("GetAPIKey last_used_at = %v, %v; want this replica's last use %v", k.LastUsedAt, err, clock.now())
	}
}

// TestStoreHoldsNoKey reads the SQLite files after keys are created and
// rotated: the keys are not there, their hashes are.
func TestStoreHoldsNoKey(t *testing.T) {
	dir := t.TempDir()
	s := conformanceService(t, "sqlite:"+filepath.Join(dir, "gatehouse.db"))
	mustAccount(t, s, "ci", policy.RoleGuest)
	k := mustKey(t, s, "ci", CreateAPIKey{Name: "deploy"})
	r, err := s.RotateAPIKey(context.Background(), "ci", "deploy", RotateAPIKey{Retain: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	var files strings.Builder
	for _, name := range []string{"gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files.Write(b)
	}
	for _, key := range []Secret{k.Key, r.Key} {
		if strings.Contains(files.String(), string(key)) || strings.Contains(files.String(), string(key)[len(KeyPrefix):]) {
			t.Errorf("the store holds the key %s… in clear", key[:keyDisplayLen])
		}
		sum := sha256.Sum256([]byte(key))
		if !strings.Contains(files.String(), hex.EncodeToString(sum[:])) {
			t.Errorf("the store does not hold the hash of %s…: did the test read it?", key[:keyDisplayLen])
		}
	}
}

// TestAuthenticationsCounted: gatehouse_authentications_total counts each
// kind of credential, accepted and refused.
func TestAuthenticationsCounted(t *testing.T) {
	ctx := context.Background()
	s := conformanceService(t, "sqlite:"+filepath.Join(t.TempDir(), "g.db"))
	mustAccount(t, s, "ci", policy.RoleGuest)
	key := string(mustKey(t, s, "ci", CreateAPIKey{Name: "deploy"}).Key)
	tok, err := s.Login(ctx, "admin", testAdminPW, "client")
	if err != nil {
		t.Fatal(err)
	}
	allows(t, s, bearer(key), "GET", "/x")
	allows(t, s, bearer(KeyPrefix+"nope"), "GET", "/x")
	allows(t, s, basic("ci", key), "GET", "/x")
	allows(t, s, basic("ci", "a-password"), "GET", "/x")
	allows(t, s, bearer(tok.AccessToken), "GET", "/x")
	if _, err := s.Login(ctx, "", key, "client"); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Login(ctx, "admin", "wrong-password", "client")

	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collector())
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "gatehouse_authentications_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var kind, result string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "kind":
					kind = l.GetValue()
				case "result":
					result = l.GetValue()
				}
			}
			got[kind+"/"+result] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"api_key/ok": 1, "api_key/refused": 1, "basic/ok": 1, "basic/refused": 1,
		"token/ok": 1, "key_login/ok": 1, "login/ok": 1, "login/refused": 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
}

// TestKeysUnderConcurrentUse: requests with keys, their last uses being
// written, a reload and a deactivation run at once (for the race
// detector); once the deactivation returns, the key is refused.
func TestKeysUnderConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := conformanceService(t, "sqlite:"+filepath.Join(t.TempDir(), "g.db"))
	mustAccount(t, s, "ci", policy.RoleAdmin, policy.RoleGuest)
	full := string(mustKey(t, s, "ci", CreateAPIKey{Name: "full"}).Key)
	narrow := string(mustKey(t, s, "ci", CreateAPIKey{Name: "narrow", Roles: []string{policy.RoleGuest}}).Key)
	authn, authz := s.DataPlane()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, key := range []string{full, narrow, full, narrow} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if p, err := authn.Authenticate(bearer(key)); err == nil && p != nil {
					_, _ = authz.Authorize(p, "GET", "/api/v1/pipelines")
					p.IdentityHeaders()
				}
			}
		})
	}
	for range 3 {
		if err := s.flushLastUsed(ctx); err != nil {
			t.Error(err)
		}
		if err := s.Reload(ctx); err != nil {
			t.Error(err)
		}
	}
	if _, err := s.UpdateAPIKey(ctx, "ci", "full", UpdateAPIKey{Active: new(false)}); err != nil {
		t.Error(err)
	}
	if p, _ := authn.Authenticate(bearer(full)); p != nil {
		t.Error("the deactivated key is accepted")
	}
	close(stop)
	wg.Wait()
}
