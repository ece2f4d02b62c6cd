package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/admin/store/storetest"
)

// TestOpenAddsServiceAccounts: a store of a version before service
// accounts gains their columns and the API keys table on both backends;
// its users are people.
func TestOpenAddsServiceAccounts(t *testing.T) {
	ctx := context.Background()
	for _, st := range storetest.Stores(t) {
		t.Run(st.Name, func(t *testing.T) {
			db, err := store.Open(ctx, st.DSN)
			if err != nil {
				t.Fatal(err)
			}
			m := db.Migrator()
			if err := m.DropTable(&store.APIKey{}); err != nil {
				t.Fatal(err)
			}
			for _, col := range []string{"kind", "description"} {
				if err := m.DropColumn(&store.User{}, col); err != nil {
					t.Fatal(err)
				}
			}
			now := time.Now()
			if err := db.Exec("INSERT INTO users (id, username, password_hash, active, token_version, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
				"00000000-0000-0000-0000-000000000001", "alice", "h", true, now, now).Error; err != nil {
				t.Fatal(err)
			}
			sqlDB, _ := db.DB()
			sqlDB.Close()
			if db, err = store.Open(ctx, st.DSN); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if sqlDB, err := db.DB(); err == nil {
					sqlDB.Close()
				}
			})
			var alice store.User
			if err := db.Take(&alice, "username = ?", "alice").Error; err != nil || alice.Kind != store.KindUser {
				t.Errorf("alice after the upgrade: kind %q, %v; want %q", alice.Kind, err, store.KindUser)
			}
			if !db.Migrator().HasTable(&store.APIKey{}) {
				t.Error("no api_keys table after the upgrade")
			}
		})
	}
}
