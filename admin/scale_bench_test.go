package admin

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// scalePolicy returns the default policy plus n route rules spread over ten
// permissions, all held by the seeded team roles.
func scalePolicy(tb testing.TB, n int) *policy.Files {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`p, read, /*, GET|HEAD
p, write, /*, POST|PUT|PATCH|DELETE
p, me, /api/v1/users/{self}, GET|PUT|PATCH
g, admin, read
g, admin, write
g, admin, me
g, guest, read
g, guest, me
`)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "p, perm%d, /api/v1/kind%d/{id}/deploy, POST\n", i%10, i)
	}
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "g, team%d, perm%d\n", i, i)
	}
	lines, errs := policy.ParseCSV("policy.csv", []byte(b.String()))
	if len(errs) > 0 {
		tb.Fatal(errs[0])
	}
	return &policy.Files{Model: policy.DefaultModel(), ModelName: "model.conf", Lines: lines, Revision: fmt.Sprint(n)}
}

// BenchmarkDecisionScale shows the decision path (a cached token →
// allow/deny) staying flat from 100 to 100 000 users and from 5 to 200
// route rules: tokens of 1 000 random users in turn, each request's path
// matching the last rule. Run: make bench.
func BenchmarkDecisionScale(b *testing.B) {
	for _, users := range []int{100, 100_000} {
		db := scaleStore(b, users)
		for _, rules := range []int{5, 200} {
			b.Run(fmt.Sprintf("users=%d/rules=%d", users, rules), func(b *testing.B) {
				toks, decide := scaleFixture(b, db, users, rules)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					decide(toks[i%len(toks)])
					i++
				}
			})
		}
		sqlDB, _ := db.DB()
		sqlDB.Close()
	}
}

// BenchmarkDecisionScaleRatio is BenchmarkDecisionScale's users comparison
// made robust to a busy machine: the 100-user and the 100 000-user
// services run in the same process, alternating in short bursts, so that
// whatever else takes the CPU slows both alike. It reports each one's time
// per decision and their ratio (users-ratio, the flatness: 1.0 is flat).
func BenchmarkDecisionScaleRatio(b *testing.B) {
	const rules = 200
	type side struct {
		toks    []string
		decide  func(string) bool
		elapsed time.Duration
		n       int
	}
	var sides [2]*side
	for i, users := range []int{100, 100_000} {
		db := scaleStore(b, users)
		b.Cleanup(func() { sqlDB, _ := db.DB(); sqlDB.Close() })
		toks, decide := scaleFixture(b, db, users, rules)
		sides[i] = &side{toks: toks, decide: decide}
	}
	const burst = 20_000 // decisions, a few milliseconds
	b.ResetTimer()
	for b.Loop() {
		for _, s := range sides {
			t0 := time.Now()
			for j := 0; j < burst; j++ {
				s.decide(s.toks[(s.n+j)%len(s.toks)])
			}
			s.elapsed += time.Since(t0)
			s.n += burst
		}
	}
	small := float64(sides[0].elapsed.Nanoseconds()) / float64(sides[0].n)
	large := float64(sides[1].elapsed.Nanoseconds()) / float64(sides[1].n)
	b.ReportMetric(small, "ns/decision-100")
	b.ReportMetric(large, "ns/decision-100k")
	b.ReportMetric(large/small, "users-ratio")
}

// scaleStore returns a SQLite store seeded with users.
func scaleStore(b *testing.B, users int) *gorm.DB {
	dsn := "sqlite:" + filepath.Join(b.TempDir(), "scale.db")
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	seedUsers(b, db, users)
	return db
}

// scaleFixture builds a service on db with the scale policy of rules route
// rules and returns the tokens of 1 000 random users (each verified once,
// so that the caches are filled) and a decision through the service.
func scaleFixture(b *testing.B, db *gorm.DB, users, rules int) ([]string, func(string) bool) {
	ctx := context.Background()
	eng, err := policy.New(ctx, db, scalePolicy(b, rules), nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(ctx, db, eng, Config{TokenTTL: time.Hour, InviteTTL: time.Hour, DefaultRole: policy.RoleGuest, AdminPassword: testAdminPW}, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, uint64(users)))
	toks := make([]string, 1000)
	now := time.Now()
	for i := range toks {
		j := rng.IntN(users)
		u := &store.User{ID: storetest.SeedUserID(j), TokenVersion: 1}
		if toks[i], _, err = s.keys.issue(u, "", time.Hour, now); err != nil {
			b.Fatal(err)
		}
	}
	path := fmt.Sprintf("/api/v1/kind%d/x1/deploy", rules-1)
	decide := func(tok string) bool {
		id, err := s.auth.Authenticate(tok)
		if err != nil {
			b.Fatal(err)
		}
		d, _ := id.Decide("POST", path)
		return d.Allowed
	}
	allowed := 0
	for _, t := range toks { // verify each token once, fill the caches
		if decide(t) {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(toks) {
		b.Fatalf("%d of %d users allowed: want a mix of allow and deny", allowed, len(toks))
	}
	return toks, decide
}

// BenchmarkCreateUser measures user creation through the service: with a
// password (an argon2id hash dominates) and without one (an invitation).
func BenchmarkCreateUser(b *testing.B) {
	s := conformanceService(&testing.T{}, "sqlite:"+filepath.Join(b.TempDir(), "create.db"))
	ctx := context.Background()
	for _, withPassword := range []bool{true, false} {
		name := "invitation"
		if withPassword {
			name = "password"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				in := CreateUser{Username: fmt.Sprintf("%s-%d", name, i)}
				if withPassword {
					in.Password = "benchmark-password"
				}
				if _, err := s.CreateUser(ctx, in); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
