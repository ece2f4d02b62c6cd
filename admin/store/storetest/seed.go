package storetest

import (
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/gatehouse-dev/gatehouse/admin/store"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// SeedUsername and SeedUserID name the i-th seeded user.
func SeedUsername(i int) string { return fmt.Sprintf("u%07d", i) }

// SeedUserID returns the id of the i-th seeded user.
func SeedUserID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// SeedUsers writes n active users straight into a store, all with the
// given password hash, each with three roles: guest; admin for every tenth
// user, else one of the roles team0–team6; and one of team7–team9. The ten
// team roles hold read. It returns the number of role assignments, for
// benchmarks and load tests of large stores.
func SeedUsers(db *gorm.DB, n int, passwordHash string) (int, error) {
	now := time.Now().UTC()
	assignments := 0
	err := db.Transaction(func(tx *gorm.DB) error {
		for r := 0; r < 10; r++ {
			team := fmt.Sprintf("team%d", r)
			if err := tx.Create(&store.Role{Name: team, CreatedAt: now}).Error; err != nil {
				return err
			}
			if err := tx.Exec("INSERT INTO casbin_rule (ptype, v0, v1) VALUES ('g', ?, 'read')", team).Error; err != nil {
				return err
			}
		}
		const batch = 5000
		for i := 0; i < n; i += batch {
			users := make([]store.User, 0, batch)
			rules := make([]map[string]any, 0, 3*batch)
			for j := i; j < i+batch && j < n; j++ {
				name := SeedUsername(j)
				u := store.User{
					ID: SeedUserID(j), PasswordHash: passwordHash,
					Active: true, TokenVersion: 1, CreatedAt: now, UpdatedAt: now,
				}
				// With its identity key, as Gatehouse writes a user: a
				// row without one is upgraded at the next start, one
				// update at a time (a minute for 100 000 users).
				u.SetIdentity(name, "")
				users = append(users, u)
				second := "admin"
				if j%10 != 9 {
					second = fmt.Sprintf("team%d", j%7)
				}
				for _, role := range []string{"guest", second, fmt.Sprintf("team%d", 7+j%3)} {
					rules = append(rules, map[string]any{"ptype": "g", "v0": policy.UserSubject(name), "v1": role})
				}
			}
			if err := tx.CreateInBatches(users, 1000).Error; err != nil {
				return err
			}
			if err := tx.Table("casbin_rule").CreateInBatches(rules, 1000).Error; err != nil {
				return err
			}
			assignments += len(rules)
		}
		return nil
	})
	return assignments, err
}
