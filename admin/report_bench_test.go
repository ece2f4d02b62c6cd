package admin

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// seedTeams writes n users straight into a store, each a member of one of
// teams teams (team:t0 …) and holding guest; each team holds one of twenty
// roles, each role one permission of its own besides write.
func seedTeams(b *testing.B, db *gorm.DB, n, teams int) {
	b.Helper()
	now := time.Now().UTC()
	err := db.Transaction(func(tx *gorm.DB) error {
		var rules []map[string]any
		line := func(ptype string, v ...string) {
			m := map[string]any{"ptype": ptype, "v0": v[0], "v1": v[1]}
			if len(v) > 2 {
				m["v2"] = v[2]
			}
			rules = append(rules, m)
		}
		for r := range 20 {
			role, perm := fmt.Sprintf("role%d", r), fmt.Sprintf("perm%d", r)
			if err := tx.Create(&store.Role{Name: role, CreatedAt: now}).Error; err != nil {
				return err
			}
			line("p", perm, fmt.Sprintf("/api/v1/kind%d/{id}", r), "POST")
			line("g", role, perm)
			line("g", role, policy.PermWrite)
		}
		for t := range teams {
			name := fmt.Sprintf("t%d", t)
			if err := tx.Create(&store.Team{ID: fmt.Sprintf("00000000-0000-4000-9000-%012d", t), Name: name, NameKey: name, CreatedAt: now, UpdatedAt: now}).Error; err != nil {
				return err
			}
			line("g", policy.TeamSubject(name), fmt.Sprintf("role%d", t%20))
		}
		users := make([]store.User, 0, n)
		for j := range n {
			name := storetest.SeedUsername(j)
			users = append(users, store.User{ID: storetest.SeedUserID(j), Username: name, Active: true, TokenVersion: 1, Kind: store.KindUser, CreatedAt: now, UpdatedAt: now})
			line("g", policy.UserSubject(name), policy.TeamSubject(fmt.Sprintf("t%d", j%teams)))
			line("g", policy.UserSubject(name), policy.RoleGuest)
		}
		if err := tx.CreateInBatches(users, 1000).Error; err != nil {
			return err
		}
		return tx.Table("casbin_rule").CreateInBatches(rules, 1000).Error
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAccessReport100k times whole access reports of a SQLite store
// of 100 000 users in 500 teams: every (user, permission) row (four per
// user), and a route query (Decide and Explain for every user). Rows are
// counted, not kept. Run: make bench, or
// go test ./admin -run '^$' -bench AccessReport100k -benchtime 3x.
func BenchmarkAccessReport100k(b *testing.B) {
	const users, teams = 100_000, 500
	ctx := context.Background()
	dsn := "sqlite:" + filepath.Join(b.TempDir(), "report.db")
	db, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	// The policy's tables exist once the engine has opened the store.
	if _, err := policy.New(ctx, db, nil, nil); err != nil {
		b.Fatal(err)
	}
	seedTeams(b, db, users, teams)
	eng, err := policy.New(ctx, db, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := New(ctx, db, eng, Config{TokenTTL: time.Hour, InviteTTL: time.Hour, DefaultRole: policy.RoleGuest, AdminPassword: testAdminPW}, discardLog())
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    ReportFilter
	}{
		{"all", ReportFilter{}},
		{"route", ReportFilter{Method: "POST", Path: "/api/v1/kind7/x"}},
		{"team", ReportFilter{Team: "t7"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				rows = 0
				if err := s.AccessReport(ctx, c.f, func(ReportRow) error { rows++; return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows), "rows")
		})
	}
}
