package admin

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// BenchmarkPropagation measures how long a change made through replica A
// takes to be enforced by replica B, over 200 changes (role assign and
// revoke, alternating). Run: make bench-replicas.
func BenchmarkPropagation(b *testing.B) {
	pg, ok := storetest.Postgres(b)
	if !ok {
		b.Skipf("needs PostgreSQL: set %s", storetest.PostgresEnv)
	}
	ctx := context.Background()
	var rs []*Service
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := 0; i < 2; i++ {
		s := benchService(b, pg.DSN)
		go s.Run(runCtx, pg.DSN, time.Minute)
		rs = append(rs, s)
	}
	a, o := rs[0], rs[1]
	for !a.Replication().Listening || !o.Replication().Listening {
		time.Sleep(time.Millisecond)
	}
	if _, err := a.CreateUser(ctx, CreateUser{Username: "gus", Password: "gus-password"}); err != nil {
		b.Fatal(err)
	}
	sub := policy.UserSubject("gus")
	const changes = 200
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		lat := make([]time.Duration, 0, changes)
		for i := 0; i < changes; i++ {
			want := i%2 == 0
			start := time.Now()
			var err error
			if want {
				_, err = a.Assign(ctx, "gus", policy.RoleAdmin, "")
			} else {
				err = a.Revoke(ctx, "gus", policy.RoleAdmin, "")
			}
			if err != nil {
				b.Fatal(err)
			}
			for o.eng.Reaches(sub, "write") != want {
				if time.Since(start) > 5*time.Second {
					b.Fatalf("change %d not propagated in 5s", i)
				}
				runtime.Gosched()
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	}
}

// BenchmarkStartup100k measures a replica's start (schema check, policy
// and users loaded, ready to decide) with 100 000 users and 300 000 role
// assignments in the store. Run: make bench-replicas.
func BenchmarkStartup100k(b *testing.B) {
	for _, st := range storetest.Stores(b) {
		b.Run(st.Name, func(b *testing.B) {
			ctx := context.Background()
			db, err := store.Open(ctx, st.DSN)
			if err != nil {
				b.Fatal(err)
			}
			seedUsers(b, db, 100_000)
			sqlDB, _ := db.DB()
			sqlDB.Close()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				start := time.Now()
				s := benchService(b, st.DSN)
				took := time.Since(start)
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				b.ReportMetric(took.Seconds(), "start-s")
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MB")
				if d, _ := s.eng.Decide(policy.UserSubject(storetest.SeedUsername(99_999)), "", storetest.SeedUsername(99_999), "POST", "/api/v1/runs"); !d.Allowed {
					b.Fatal("seeded user cannot write")
				}
				sqlDB, _ := s.db.DB()
				sqlDB.Close()
			}
		})
	}
}

func benchService(b *testing.B, dsn string) *Service {
	b.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := policy.New(ctx, db, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(ctx, db, eng, Config{TokenTTL: time.Hour, InviteTTL: time.Hour, DefaultRole: policy.RoleGuest, AdminPassword: testAdminPW}, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// seedUsers writes n users with three roles each into the store.
func seedUsers(b *testing.B, db *gorm.DB, n int) {
	b.Helper()
	hash, _ := hashPassword("seeded-password")
	if _, err := storetest.SeedUsers(db, n, hash); err != nil {
		b.Fatal(err)
	}
}
