package policy

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"time"
)

// AuditRecord is a decision the data plane recorded in an audit line.
type AuditRecord struct {
	Time         time.Time // zero when the line has none
	User         string    // "" for an anonymous request
	Method, Path string    // Path as decided: canonical
	Allowed      bool
}

// auditLine is the part of a JSON log line a replay reads.
type auditLine struct {
	Time   string `json:"time"`
	Audit  string `json:"audit"`
	Status int    `json:"status"`
	User   string `json:"user"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// AuditReasonCrossOrigin is the reason of the deny line the data plane
// writes when it refuses a change that carries the session cookie but
// comes from another site's page: a refusal made before the policy
// decides, which a replay leaves out.
const AuditReasonCrossOrigin = "cross-origin request with the session cookie"

// ReadAuditLog reads Gatehouse's JSON log lines and returns the decisions
// its audit lines record: "allow" lines (serve --audit-allowed), "deny"
// lines and shadow mode's "would_deny" lines. A deny whose reason is
// AuditReasonCrossOrigin is a cross-origin refusal of a request carrying
// the session cookie, made before the policy decides, and is not a
// decision; a 401
// (or a sign-in redirect, 302) is an anonymous request, or one whose
// credentials were not valid, and is read as anonymous. Lines that are
// not JSON, not audit lines of these kinds, or that lack a method or a
// path are skipped, and so are lines longer than MaxAuditLine and, when
// since is not zero, lines older than since or without a time. skipped
// counts the lines left out.
func ReadAuditLog(r io.Reader, since time.Time) (recs []AuditRecord, skipped int, err error) {
	br := bufio.NewReaderSize(r, MaxAuditLine)
	for {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Too long for an audit line: skip the rest of it.
			skipped++
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			raw = nil
		}
		if line := strings.TrimSpace(string(raw)); line != "" {
			if rec, ok := parseAuditLine(line, since); ok {
				recs = append(recs, rec)
			} else {
				skipped++
			}
		}
		if errors.Is(err, io.EOF) {
			return recs, skipped, nil
		}
		if err != nil {
			return nil, 0, err
		}
	}
}

// MaxAuditLine bounds the length of a line ReadAuditLog reads, its
// newline included; a longer line is skipped.
const MaxAuditLine = 1 << 20

func parseAuditLine(line string, since time.Time) (AuditRecord, bool) {
	var a auditLine
	if line[0] != '{' || json.Unmarshal([]byte(line), &a) != nil || a.Method == "" || !strings.HasPrefix(a.Path, "/") {
		return AuditRecord{}, false
	}
	rec := AuditRecord{User: a.User, Method: a.Method, Path: a.Path}
	switch a.Audit {
	case "allow":
		rec.Allowed = true
	case "would_deny":
	case "deny":
		if a.Reason == AuditReasonCrossOrigin {
			return AuditRecord{}, false
		}
	default:
		return AuditRecord{}, false
	}
	if t, err := time.Parse(time.RFC3339Nano, a.Time); err == nil {
		rec.Time = t
	}
	if !since.IsZero() && (rec.Time.IsZero() || rec.Time.Before(since)) {
		return AuditRecord{}, false
	}
	return rec, true
}

// Replay is what recorded decisions would become: each decided again with
// the old and the new side of a diff.
//
// A recorded user is decided with the roles the policy files give it: its
// g and g2 lines (user:NAME) and its tests.yaml fixture, as Diff decides
// users. A running server also knows the roles assigned through the API,
// which the files do not hold; a user the files do not name at all is
// therefore not replayed but counted in Unknown, and NotReproduced counts
// the replayed records whose recorded outcome the old side does not give
// (a role from the database, or a log written under another policy).
// Anonymous requests are always replayed.
type Replay struct {
	Records  int // decisions read
	Skipped  int // lines of the log left out (see ReadAuditLog)
	Replayed int // decisions decided again: those of anonymous and known users
	// Flips counts the replayed decisions the two sides decide apart.
	Flips
	// NotReproduced counts replayed decisions whose recorded outcome the
	// old side does not give.
	NotReproduced int
	Unknown       []UserCount  // users the files do not name, not replayed
	Users         []UserFlips  // per user with flips, by name
	Routes        []RouteFlips // the routes with the most flips first, at most MaxReplayRoutes
}

// MaxReplayRoutes bounds Replay.Routes.
const MaxReplayRoutes = 10

// UserCount is a number of records of one user.
type UserCount struct {
	User    string `json:"user"`
	Records int    `json:"records"`
}

// Flips counts decisions that change, in each direction.
type Flips struct {
	AllowToDeny int `json:"allow_to_deny"`
	DenyToAllow int `json:"deny_to_allow"`
}

// Total is the number of flips.
func (f Flips) Total() int { return f.AllowToDeny + f.DenyToAllow }

func (f *Flips) count(wasAllowed bool) {
	if wasAllowed {
		f.AllowToDeny++
	} else {
		f.DenyToAllow++
	}
}

// UserFlips are the flips of one user; User is "" for anonymous requests.
type UserFlips struct {
	User string `json:"user"`
	Flips
}

// RouteFlips are the flips of one method and path.
type RouteFlips struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	Flips
}

// replay decides recs on both sides.
func replay(sides [2]diffSide, known map[string]bool, recs []AuditRecord) (*Replay, error) {
	r := &Replay{Records: len(recs)}
	unknown := map[string]int{}
	users, routes := map[string]*UserFlips{}, map[[2]string]*RouteFlips{}
	for _, rec := range recs {
		sub := ""
		if rec.User != "" {
			if !known[rec.User] {
				unknown[rec.User]++
				continue
			}
			sub = UserSubject(rec.User)
		}
		r.Replayed++
		var allowed [2]bool
		for i, side := range sides {
			d, err := side.eng.Decide(sub, rec.User, rec.User, rec.Method, rec.Path)
			if err != nil {
				return nil, err
			}
			allowed[i] = d.Allowed
		}
		if allowed[0] != rec.Allowed {
			r.NotReproduced++
		}
		if allowed[0] == allowed[1] {
			continue
		}
		u := users[rec.User]
		if u == nil {
			u = &UserFlips{User: rec.User}
			users[rec.User] = u
		}
		k := [2]string{rec.Method, rec.Path}
		rt := routes[k]
		if rt == nil {
			rt = &RouteFlips{Method: rec.Method, Path: rec.Path}
			routes[k] = rt
		}
		u.count(allowed[0])
		rt.count(allowed[0])
		r.count(allowed[0])
	}
	for u, n := range unknown {
		r.Unknown = append(r.Unknown, UserCount{User: u, Records: n})
	}
	slices.SortFunc(r.Unknown, func(a, b UserCount) int { return strings.Compare(a.User, b.User) })
	for _, u := range users {
		r.Users = append(r.Users, *u)
	}
	slices.SortFunc(r.Users, func(a, b UserFlips) int { return strings.Compare(a.User, b.User) })
	for _, rt := range routes {
		r.Routes = append(r.Routes, *rt)
	}
	slices.SortFunc(r.Routes, func(a, b RouteFlips) int {
		if a.Total() != b.Total() {
			return b.Total() - a.Total()
		}
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return compareMethods(a.Method, b.Method)
	})
	if len(r.Routes) > MaxReplayRoutes {
		r.Routes = r.Routes[:MaxReplayRoutes]
	}
	return r, nil
}
