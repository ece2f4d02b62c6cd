package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// TestReadyzBody: /readyz's body, line by line. A rejected policy reload
// keeps the status ok (the replica serves its last good policy) and says
// that the reload failed, when, and why.
func TestReadyzBody(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	many := make([]string, 12)
	for i := range many {
		many[i] = fmt.Sprintf("policy/policy.csv:%d: invalid method \"get\"", i+1)
	}
	cases := []struct {
		name string
		st   readiness
		want string
	}{
		{"all well", readiness{revision: "3f2a9c1b7d4e", sinceSync: 2 * time.Millisecond, listening: true},
			"ok\nstore: ok\npolicy: revision 3f2a9c1b7d4e\nreplication: last sync 2ms ago\n"},
		{"a rejected reload", readiness{revision: "3f2a9c1b7d4e", sinceSync: 2 * time.Millisecond, listening: true,
			reload: policy.ReloadStatus{Rejected: true, At: now.Add(-12 * time.Second), Problems: []string{
				`policy/policy.csv:3: the admin role must keep read, write and me; it lacks write (add g, admin, write)`,
				`policy/policy.csv:9: invalid method "get" in "get": use upper-case names separated by |`,
			}}},
			"ok\nstore: ok\npolicy: revision 3f2a9c1b7d4e\n" +
				"policy reload: failed 12s ago (2 problems); revision 3f2a9c1b7d4e stays in force until the files are fixed:\n" +
				"  policy/policy.csv:3: the admin role must keep read, write and me; it lacks write (add g, admin, write)\n" +
				"  policy/policy.csv:9: invalid method \"get\" in \"get\": use upper-case names separated by |\n" +
				"replication: last sync 2ms ago\n"},
		{"a rejected reload with many problems", readiness{revision: "3f2a9c1b7d4e", listening: true,
			reload: policy.ReloadStatus{Rejected: true, At: now.Add(-time.Second), Problems: many}},
			"ok\nstore: ok\npolicy: revision 3f2a9c1b7d4e\n" +
				"policy reload: failed 1s ago (12 problems); revision 3f2a9c1b7d4e stays in force until the files are fixed:\n" +
				"  " + strings.Join(many[:10], "\n  ") + "\n" +
				"  … and 2 more (the log line \"policy reload rejected\" lists them all)\n" +
				"replication: last sync 0s ago\n"},
		{"store down, listener down, shadow mode", readiness{revision: "3f2a9c1b7d4e", storeErr: errors.New("connection refused"), shadow: true},
			"degraded\nstore: unreachable (connection refused); deciding from memory, logins and admin changes answer 503\n" +
				"policy: revision 3f2a9c1b7d4e\nreplication: last sync 0s ago, change listener reconnecting\n" +
				"enforce: false (shadow mode: denials are logged as would_deny, not refused)\n"},
		{"sso reached", readiness{revision: "3f2a9c1b7d4e", listening: true, sso: true},
			"ok\nstore: ok\npolicy: revision 3f2a9c1b7d4e\nreplication: last sync 0s ago\nsso: ok\n"},
		{"sso unreachable", readiness{revision: "3f2a9c1b7d4e", listening: true, sso: true, ssoErr: errors.New("connection refused")},
			"degraded\nstore: ok\npolicy: revision 3f2a9c1b7d4e\nreplication: last sync 0s ago\n" +
				"sso: degraded: identity provider unreachable (connection refused); retrying, its tokens answer 503, local users and API keys work\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b strings.Builder
			c.st.write(&b, now)
			if b.String() != c.want {
				t.Errorf("body:\n%s\nwant:\n%s", b.String(), c.want)
			}
		})
	}
}
