package main

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// readyz reports whether this replica can serve. It needs its policy and
// users in memory, which it has from the start. When the store is
// unreachable it still answers 200, marked degraded: decisions continue
// from memory (what was allowed stays allowed, what was revoked stays
// revoked) while logins and admin changes answer 503. Failing readiness
// here would take every replica out of the Service at once. A rejected
// policy reload is reported too, still with 200: the last good policy
// stays in force.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rep := s.svc.Replication()
	st := readiness{
		storeErr:  s.svc.Ready(r.Context()),
		revision:  s.eng.Revision(),
		sinceSync: time.Since(rep.LastSync),
		listening: !s.listening || rep.Listening,
		shadow:    !s.cfg.enforce,
	}
	st.sso, st.ssoErr = s.svc.SSOStatus()
	if s.watcher != nil {
		st.reload = s.watcher.LastReload()
	}
	st.write(w, time.Now())
}

// readiness is what /readyz reports.
type readiness struct {
	storeErr  error               // why the store does not answer, or nil
	revision  string              // the policy revision in force
	reload    policy.ReloadStatus // the last reload of --policy-dir
	sinceSync time.Duration       // since the last sync with other replicas
	listening bool                // the change listener runs, or none is needed
	shadow    bool                // --enforce=false
	sso       bool                // --oidc-issuer is set
	ssoErr    error               // why the identity provider is not reached, or nil
}

// maxReadyProblems bounds the problems of a rejected reload that /readyz
// lists; the log line of the rejection has all of them.
const maxReadyProblems = 10

// write writes the body of /readyz: the status (ok or degraded), then a
// line per part. now is the time the reload's age is measured from.
func (st readiness) write(w io.Writer, now time.Time) {
	status, storeLine := "ok", "store: ok"
	if st.storeErr != nil {
		status, storeLine = "degraded", fmt.Sprintf("store: unreachable (%v); deciding from memory, logins and admin changes answer 503", st.storeErr)
	}
	replLine := fmt.Sprintf("replication: last sync %s ago", st.sinceSync.Round(time.Millisecond))
	if !st.listening {
		status = "degraded"
		replLine += ", change listener reconnecting"
	}
	if st.sso && st.ssoErr != nil {
		status = "degraded"
	}
	fmt.Fprintf(w, "%s\n%s\npolicy: revision %s\n", status, storeLine, st.revision)
	if r := st.reload; r.Rejected {
		problems := fmt.Sprintf("%d problems", len(r.Problems))
		if len(r.Problems) == 1 {
			problems = "1 problem"
		}
		fmt.Fprintf(w, "policy reload: failed %s ago (%s); revision %s stays in force until the files are fixed:\n",
			now.Sub(r.At).Round(time.Second), problems, st.revision)
		for i, p := range r.Problems {
			if i == maxReadyProblems {
				fmt.Fprintf(w, "  … and %d more (the log line \"policy reload rejected\" lists them all)\n", len(r.Problems)-i)
				break
			}
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	fmt.Fprintln(w, replLine)
	if st.sso && st.ssoErr != nil {
		fmt.Fprintf(w, "sso: degraded: identity provider unreachable (%v); retrying, its tokens answer 503, local users and API keys work\n", st.ssoErr)
	} else if st.sso {
		fmt.Fprintln(w, "sso: ok")
	}
	if st.shadow {
		fmt.Fprintln(w, "enforce: false (shadow mode: denials are logged as would_deny, not refused)")
	}
}
