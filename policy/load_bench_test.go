package policy

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"gorm.io/gorm"
)

// BenchmarkPolicyLoad measures building an engine (the start of a replica,
// or a full reload) over database layers of 10 000, 100 000 and 300 000
// lines: three roles for each of a third as many users.
func BenchmarkPolicyLoad(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 300_000} {
		b.Run(fmt.Sprintf("lines=%d", n), func(b *testing.B) {
			db := sqliteDB(b)
			if _, err := New(context.Background(), db, nil, nil); err != nil { // creates the table
				b.Fatal(err)
			}
			seedLines(b, db, n)
			b.ReportAllocs()
			var heap uint64
			for b.Loop() {
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				e, err := New(context.Background(), db, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				heap = after.HeapAlloc - before.HeapAlloc
				runtime.KeepAlive(e)
			}
			b.ReportMetric(float64(heap)/float64(n), "heap-B/line")
		})
	}
}

func seedLines(b *testing.B, db *gorm.DB, n int) {
	b.Helper()
	roles := []string{"guest", "admin", "team1", "team2", "team3"}
	rows := make([]map[string]any, 0, 1000)
	err := db.Transaction(func(tx *gorm.DB) error {
		for i := 0; i < n; i++ {
			rows = append(rows, map[string]any{"ptype": "g", "v0": fmt.Sprintf("user:u%07d", i/3), "v1": roles[(i%3)+(i/3)%3]})
			if len(rows) == cap(rows) || i == n-1 {
				if err := tx.Table(casbinTable).Create(rows).Error; err != nil {
					return err
				}
				rows = rows[:0]
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkParseCSV reads a policy file of 300 000 lines, users' roles
// and rules mixed (target: at most 0.3 s and 200 bytes allocated a line).
func BenchmarkParseCSV(b *testing.B) {
	const n = 300_000
	var sb strings.Builder
	for i := 0; i < n; i++ {
		if i%10 == 0 {
			fmt.Fprintf(&sb, "p, role%d, /api/v1/things/{id}/part%d, GET|HEAD\n", i%50, i)
		} else {
			fmt.Fprintf(&sb, "g, user:u%07d, role%d\n", i, i%50)
		}
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		lines, errs := ParseCSV("policy.csv", data)
		if len(errs) > 0 || len(lines) != n {
			b.Fatalf("%d lines, %v", len(lines), errs)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	ParseCSV("policy.csv", data)
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.TotalAlloc-before)/n, "B/line")
}
