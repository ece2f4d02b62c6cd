package main

import (
	"fmt"
	"net/http"
	"time"
)

// readyz reports whether this replica can serve. It needs its policy and
// users in memory, which it has from the start. When the store is
// unreachable it still answers 200, marked degraded: decisions continue
// from memory (what was allowed stays allowed, what was revoked stays
// revoked) while logins and admin changes answer 503. Failing readiness
// here would take every replica out of the Service at once.
func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	status, storeLine := "ok", "store: ok"
	if err := s.svc.Ready(r.Context()); err != nil {
		status, storeLine = "degraded", fmt.Sprintf("store: unreachable (%v); deciding from memory, logins and admin changes answer 503", err)
	}
	rep := s.svc.Replication()
	replLine := fmt.Sprintf("replication: last sync %s ago", time.Since(rep.LastSync).Round(time.Millisecond))
	if s.listening && !rep.Listening {
		status = "degraded"
		replLine += ", change listener reconnecting"
	}
	fmt.Fprintf(w, "%s\n%s\npolicy: revision %s\n%s\n", status, storeLine, s.eng.Revision(), replLine)
	if !s.opts.enforce {
		fmt.Fprintln(w, "enforce: false (shadow mode: denials are logged as would_deny, not refused)")
	}
}
