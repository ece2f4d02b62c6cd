package policy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestReplayCountsMatchSyntheticLog: a log of random allow and deny lines
// for known, unknown and anonymous users, mixed with lines a replay must
// skip, is replayed with the golden change of the ZenML preset; the
// counts are those the test works out on its own from what the change
// does (write taken off the stack routes, guest given PUT of runs).
func TestReplayCountsMatchSyntheticLog(t *testing.T) {
	older, newer := zenmlStacksChange(t)
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	since := now.Add(-720 * time.Hour)
	roles := map[string]string{"ada": "admin", "gus": "guest", "wendy": "write", "nora": "", "zed": "?", "": "anonymous"}
	users := []string{"ada", "gus", "wendy", "nora", "zed", ""}
	type route struct{ method, path, need string }
	routes := []route{
		{"GET", "/api/v1/stacks/s1", "read"},
		{"PUT", "/api/v1/stacks/s1", "write"},
		{"DELETE", "/api/v1/stacks/s1", "write"},
		{"POST", "/api/v1/workspaces/default/stacks", "write"},
		{"PUT", "/api/v1/runs/r1", "write"},
		{"HEAD", "/health", "public"},
		{"GET", "/api/v1/pipelines", "read"},
	}
	holds := func(user, need string) bool {
		switch need {
		case "public":
			return true
		case "read":
			return roles[user] == "admin" || roles[user] == "guest"
		case "write":
			return roles[user] == "admin" || roles[user] == "write"
		}
		return false
	}
	// What the test expects, worked out from the change alone.
	type flips struct{ a2d, d2a int }
	wantUsers, wantRoutes := map[string]*flips{}, map[string]*flips{}
	var want Replay
	unknown, notReproduced := 0, 0

	rng := rand.New(rand.NewPCG(1, 2))
	var log strings.Builder
	for i := range 2000 {
		u, r := users[rng.IntN(len(users))], routes[rng.IntN(len(routes))]
		at := now.Add(-time.Duration(rng.IntN(40*24)) * time.Hour)
		old := holds(u, r.need)
		recorded := old
		if rng.IntN(20) == 0 {
			recorded = !old // a role from the database, say
		}
		switch rng.IntN(25) {
		case 0:
			log.WriteString("not json at all\n")
		case 1:
			log.WriteString(`{"time":"` + at.Format(time.RFC3339Nano) + `","level":"AUDIT","msg":"login","audit":"login","user":"ada","success":true}` + "\n")
		case 2: // a cross-origin refusal: no decision of the policy
			fmt.Fprintf(&log, `{"time":%q,"audit":"deny","status":403,"user":"","method":"POST","path":"/api/v1/stacks/s1","reason":"cross-origin request with the session cookie"}`+"\n", at.Format(time.RFC3339Nano))
		}
		kind, status := "allow", 0
		if !recorded {
			kind, status = "deny", 403
			if u == "" {
				status = 401
			}
			if i%7 == 0 && u != "" {
				kind = "would_deny"
			}
		}
		line := map[string]any{"time": at.Format(time.RFC3339Nano), "level": "AUDIT", "audit": kind, "request_id": fmt.Sprint(i),
			"user": u, "method": r.method, "path": r.path, "client": "192.0.2.1"}
		if status != 0 {
			line["status"] = status
		}
		b, _ := json.Marshal(line)
		log.Write(append(b, '\n'))
		if at.Before(since) {
			continue
		}
		want.Records++
		if u == "zed" {
			unknown++
			continue
		}
		want.Replayed++
		if recorded != old {
			notReproduced++
		}
		next := old
		switch {
		case strings.HasPrefix(r.path, "/api/v1/stacks/") && r.method != "GET", strings.HasSuffix(r.path, "/stacks") && r.method == "POST":
			next = false
		case r.path == "/api/v1/runs/r1" && roles[u] == "guest":
			next = true
		}
		if next == old {
			continue
		}
		if wantUsers[u] == nil {
			wantUsers[u] = &flips{}
		}
		rk := r.method + " " + r.path
		if wantRoutes[rk] == nil {
			wantRoutes[rk] = &flips{}
		}
		for _, f := range []*flips{wantUsers[u], wantRoutes[rk]} {
			if old {
				f.a2d++
			} else {
				f.d2a++
			}
		}
		if old {
			want.AllowToDeny++
		} else {
			want.DenyToAllow++
		}
	}

	recs, skipped, err := ReadAuditLog(strings.NewReader(log.String()), since)
	if err != nil {
		t.Fatal(err)
	}
	if skipped == 0 {
		t.Fatal("no line was skipped: the log lacks the lines a replay must leave out")
	}
	res, err := Diff(loadSide(t, older, "old"), loadSide(t, newer, "new"), DiffOptions{Replay: true, Audit: recs})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Replay
	if got.Records != want.Records || got.Replayed != want.Replayed || got.AllowToDeny != want.AllowToDeny ||
		got.DenyToAllow != want.DenyToAllow || got.NotReproduced != notReproduced {
		t.Errorf("records %d, replayed %d, %d allow → deny, %d deny → allow, %d not reproduced; want %d, %d, %d, %d, %d",
			got.Records, got.Replayed, got.AllowToDeny, got.DenyToAllow, got.NotReproduced,
			want.Records, want.Replayed, want.AllowToDeny, want.DenyToAllow, notReproduced)
	}
	if want.AllowToDeny == 0 || want.DenyToAllow == 0 {
		t.Fatalf("the log makes no flip of some direction: %+v", want)
	}
	if len(got.Unknown) != 1 || got.Unknown[0] != (UserCount{User: "zed", Records: unknown}) {
		t.Errorf("unknown users %v, want zed with %d records", got.Unknown, unknown)
	}
	if len(got.Users) != len(wantUsers) {
		t.Errorf("users with flips %v, want %d", got.Users, len(wantUsers))
	}
	for _, u := range got.Users {
		if w := wantUsers[u.User]; w == nil || u.AllowToDeny != w.a2d || u.DenyToAllow != w.d2a {
			t.Errorf("user %q: %+v, want %+v", u.User, u.Flips, w)
		}
	}
	if len(got.Routes) != len(wantRoutes) {
		t.Errorf("routes with flips %v, want %d", got.Routes, len(wantRoutes))
	}
	for i, r := range got.Routes {
		if w := wantRoutes[r.Method+" "+r.Path]; w == nil || r.AllowToDeny != w.a2d || r.DenyToAllow != w.d2a {
			t.Errorf("route %s %s: %+v, want %+v", r.Method, r.Path, r.Flips, w)
		}
		if i > 0 && got.Routes[i-1].Total() < r.Total() {
			t.Errorf("routes not ordered by flips: %v", got.Routes)
		}
	}
}

// TestReadAuditLog: which lines are decisions, and what each records.
func TestReadAuditLog(t *testing.T) {
	const log = `{"time":"2026-11-30T10:00:00Z","audit":"allow","user":"gus","method":"GET","path":"/a","permission":"read"}
{"time":"2026-11-30T10:00:01Z","audit":"deny","status":401,"user":"","method":"GET","path":"/b"}
{"time":"2026-11-30T10:00:02Z","audit":"deny","status":302,"user":"","method":"GET","path":"/c","reason":"sent to sign in"}
{"time":"2026-11-30T10:00:03Z","audit":"would_deny","user":"gus","method":"POST","path":"/d"}
{"time":"2026-11-30T10:00:04Z","audit":"deny","status":403,"user":"","method":"POST","path":"/e","reason":"cross-origin request with the session cookie"}
{"time":"2026-11-30T10:00:05Z","audit":"admin_change","actor":"ada"}
{"time":"2026-11-30T10:00:06Z","level":"INFO","msg":"listening"}
plain text
{"time":"2026-11-01T10:00:00Z","audit":"allow","user":"old","method":"GET","path":"/f"}
{"audit":"allow","user":"notime","method":"GET","path":"/g"}
{"time":"2026-11-30T10:00:07Z","audit":"deny","status":403,"user":"","method":"DELETE","path":"/h"}
`
	recs, skipped, err := ReadAuditLog(strings.NewReader(log), time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s %s %s %v", r.User, r.Method, r.Path, r.Allowed))
	}
	want := []string{"gus GET /a true", " GET /b false", " GET /c false", "gus POST /d false", " DELETE /h false"}
	if strings.Join(got, "|") != strings.Join(want, "|") || skipped != 6 {
		t.Errorf("records %q, skipped %d; want %q, 6", got, skipped, want)
	}
	all, _, _ := ReadAuditLog(strings.NewReader(log), time.Time{})
	if len(all) != 7 {
		t.Errorf("without since: %d records, want 7", len(all))
	}
}

// TestReadAuditLogLongLine: a line longer than MaxAuditLine is skipped as
// a whole, and the lines after it are read.
func TestReadAuditLogLongLine(t *testing.T) {
	long := `{"audit":"allow","user":"gus","method":"GET","path":"/` + strings.Repeat("a", MaxAuditLine) + `"}`
	log := long + "\n" + `{"audit":"deny","status":403,"user":"gus","method":"PUT","path":"/b"}` + "\n" + long
	recs, skipped, err := ReadAuditLog(strings.NewReader(log), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Path != "/b" || skipped != 2 {
		t.Errorf("%d records (%v), %d skipped; want /b alone, 2 skipped", len(recs), len(recs) > 0 && recs[0].Path == "/b", skipped)
	}
}
