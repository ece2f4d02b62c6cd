package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// A diff decides the same requests with two versions of a policy
// directory and reports every decision that changes. The requests are
// every path of a probe (a sample path of each p line's pattern on either
// side, the routes given, the paths of either side's tests.yaml) with
// every method any of them names, for every subject either side names:
// each role, each team, group and user of a policy line or a tests.yaml,
// each permission none of these reaches, and anonymous callers (see
// diffSubjects). A pattern is decided on one sample
// path (see sampleParam), so a diff shows what changes for the routes it
// decides, not for every path there is.

// Verdict is one side's decision of a request.
type Verdict struct {
	Allow bool
	// Lines are the lines that allow the request: the g lines (and the
	// g2 line) from the subject to the permission, then the p line.
	// Empty for a deny: no line allows it; empty too for an allow whose
	// lines cannot be named.
	Lines []SourceLine
}

// SourceLine is a line a diff names: its file, its number and its text
// as written.
type SourceLine struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Text string `json:"text"`
}

// String renders the line as FILE:LINE: TEXT.
func (l SourceLine) String() string { return fmt.Sprintf("%s:%d: %s", l.File, l.Line, l.Text) }

// DiffChange is a decision that differs between the two sides.
type DiffChange struct {
	Subject Subject
	Method  string
	// Path is the path as its source writes it (a pattern, or a concrete
	// path); Sample is the path decided.
	Path, Sample  string
	Before, After Verdict
}

// DiffResult is what a diff found.
type DiffResult struct {
	Old, New string // the sides' directories, as named
	Changes  []DiffChange
	// Subjects, Paths and Methods are what was decided: every subject
	// with every path and every method, on each side.
	Subjects []Subject
	Paths    int
	Methods  []string
	// NotSampled are the p lines' path patterns that do not compile as
	// Gatehouse patterns (a custom model's regexMatch, keyMatch with a *
	// inside): the diff has no sample path of theirs, so what changes
	// only on their paths shows only through routes and tests.yaml cases.
	NotSampled []string
	// Replay is what the recorded decisions become; nil unless asked for.
	Replay *Replay
}

// AllowToDeny counts the changes from allow to deny.
func (r *DiffResult) AllowToDeny() int {
	n := 0
	for _, c := range r.Changes {
		if c.Before.Allow {
			n++
		}
	}
	return n
}

// Changed reports whether the diff found anything that changes: a
// decision of the requests it decides, or a recorded decision that the
// replay flips.
func (r *DiffResult) Changed() bool {
	return len(r.Changes) > 0 || r.ReplayFlips() > 0
}

// ReplayFlips counts the recorded decisions the replay flips; 0 without
// a replay.
func (r *DiffResult) ReplayFlips() int {
	if r.Replay == nil {
		return 0
	}
	return r.Replay.Total()
}

// DenyToAllow counts the changes from deny to allow.
func (r *DiffResult) DenyToAllow() int { return len(r.Changes) - r.AllowToDeny() }

// ChangedSubjects returns the subjects with at least one change, in
// report order.
func (r *DiffResult) ChangedSubjects() []Subject {
	var out []Subject
	for _, c := range r.Changes {
		if len(out) == 0 || out[len(out)-1] != c.Subject {
			out = append(out, c.Subject)
		}
	}
	return out
}

// DiffOptions are the further inputs of Diff.
type DiffOptions struct {
	// Routes are decided besides the paths the policies name.
	Routes []Route
	// Canonical, when not nil, canonicalizes the paths of the tests.yaml
	// cases as the data plane does; a path it refuses is left out.
	Canonical func(string) (string, error)
	// Replay, when set, decides Audit again with both sides (see Replay).
	Replay bool
	Audit  []AuditRecord
	// AuditSkipped is the number of lines of the log that Audit was read
	// from left out (see ReadAuditLog), for the report.
	AuditSkipped int
}

// diffSide is a side loaded as an engine with its fixtures.
type diffSide struct {
	*Side
	fixtures []Line
	eng      *Engine
}

// lines returns the side's policy lines and its fixtures.
func (s diffSide) lines() []Line { return append(slices.Clone(s.Files.Lines), s.fixtures...) }

// Diff decides the requests of both sides with each and returns the
// decisions that change, ordered by subject (anonymous, roles,
// permissions, teams, groups, users; by name within a kind), path and
// method. The error
// reports a side that does not load with the fixtures.
func Diff(older, newer *Side, o DiffOptions) (*DiffResult, error) {
	sides := [2]diffSide{{Side: older, fixtures: fixtures(older, newer)}, {Side: newer, fixtures: fixtures(newer, older)}}
	for i := range sides {
		f := *sides[i].Files
		f.Lines = append(slices.Clone(f.Lines), sides[i].fixtures...)
		eng, err := New(context.Background(), nil, &f, nil)
		if err != nil {
			return nil, fmt.Errorf("%s with the tests.yaml fixtures: %w", sides[i].Dir, err)
		}
		sides[i].eng = eng
	}
	ps, methods := diffRequests(sides, o)
	probes := ps.probes
	res := &DiffResult{Old: older.Dir, New: newer.Dir, Subjects: diffSubjects(sides), Paths: len(probes), Methods: methods,
		NotSampled: ps.notSampled}
	texts := func(file string, num int) (string, bool) {
		if t, ok := newer.text(file, num); ok {
			return t, true
		}
		return older.text(file, num)
	}
	anon := Subject{Kind: KindAnonymous}
	for _, s := range append([]Subject{anon}, res.Subjects...) {
		var changes []DiffChange
		for _, p := range probes {
			for _, m := range methods {
				c, changed, err := decideBoth(sides, s, m, p, texts)
				if err != nil {
					return nil, err
				}
				if changed {
					changes = append(changes, c)
				}
			}
		}
		slices.SortStableFunc(changes, func(a, b DiffChange) int {
			if c := strings.Compare(a.Path, b.Path); c != 0 {
				return c
			}
			return compareMethods(a.Method, b.Method)
		})
		res.Changes = append(res.Changes, changes...)
	}
	if o.Replay {
		known := map[string]bool{}
		for _, s := range res.Subjects {
			if s.Kind == KindUser {
				known[s.self()] = true
			}
		}
		var err error
		if res.Replay, err = replay(sides, known, o.Audit); err != nil {
			return nil, err
		}
		res.Replay.Skipped = o.AuditSkipped
	}
	res.Subjects = append([]Subject{anon}, res.Subjects...)
	return res, nil
}

// decideBoth decides one request on both sides and, when the decisions
// differ, explains each.
func decideBoth(sides [2]diffSide, s Subject, method string, p probe, texts func(string, int) (string, bool)) (DiffChange, bool, error) {
	sub, self := s.Name, s.self()
	path := p.path(self)
	var ds [2]Decision
	for i, side := range sides {
		d, err := side.eng.Decide(sub, self, self, method, path)
		if err != nil {
			return DiffChange{}, false, fmt.Errorf("%s: deciding %s %s for %s: %w", side.Dir, method, path, s, err)
		}
		ds[i] = d
	}
	if ds[0].Allowed == ds[1].Allowed {
		return DiffChange{}, false, nil
	}
	c := DiffChange{Subject: s, Method: method, Path: p.shown, Sample: path}
	for i, side := range sides {
		v := Verdict{Allow: ds[i].Allowed}
		if v.Allow {
			var err error
			if v.Lines, err = side.responsible(sub, self, method, path, texts); err != nil {
				return DiffChange{}, false, err
			}
		}
		if i == 0 {
			c.Before = v
		} else {
			c.After = v
		}
	}
	return c, true, nil
}

// responsible returns the lines that allow a request on this side: the g
// and g2 lines of the chain from sub to the deciding permission, then the
// deciding p line.
func (s diffSide) responsible(sub, self, method, path string, texts func(string, int) (string, bool)) ([]SourceLine, error) {
	d, err := s.eng.Explain(sub, self, self, method, path)
	if err != nil || len(d.Lines) == 0 {
		return nil, err
	}
	lines := append(s.chainLines(sub, d), d.Lines[0])
	out := make([]SourceLine, 0, len(lines))
	for _, l := range lines {
		sl := SourceLine{File: l.File, Line: l.Num, Text: l.String()}
		if l.File == "" {
			sl.File = OriginDatabase
		}
		if t, ok := texts(l.File, l.Num); ok && t != "" {
			sl.Text = t
		}
		out = append(out, sl)
	}
	return out, nil
}

// chainLines returns the g lines (and the g2 line) through which sub
// reaches the permission that decided d, as Chains finds them.
func (s diffSide) chainLines(sub string, d Decision) []Line {
	if sub == "" {
		sub = Public
	}
	chains := s.eng.Chains(sub)
	if d.Workspace != "" {
		chains = s.eng.ScopedChainsThrough(sub, "")
	}
	for _, c := range chains {
		if c.Permission != d.Permission || c.Workspace != d.Workspace {
			continue
		}
		var out []Line
		for i := 0; i+1 < len(c.Via); i++ {
			a, b := c.Via[i], c.Via[i+1]
			if l, ok := s.eng.Source("g", a, b); ok {
				out = append(out, l)
			} else if l, ok := s.eng.Source("g2", a, b, d.Workspace); ok && d.Workspace != "" {
				out = append(out, l)
			}
			// Otherwise the hop is sub's implicit membership of public.
		}
		return out
	}
	return nil
}

// diffRequests returns the probes and the methods of a diff: the p lines'
// patterns of the new side, then the old side's, then the routes, then
// the tests.yaml paths of the new side and the old side's (with the
// patterns that have no sample); the methods any of them names.
func diffRequests(sides [2]diffSide, o DiffOptions) (probeSet, []string) {
	older, newer := sides[0].Side, sides[1].Side
	var ws []string
	for _, side := range sides {
		for _, l := range side.lines() {
			if l.Ptype == "g2" && len(l.Fields) == 3 {
				ws = append(ws, l.Fields[2])
			}
		}
	}
	slices.Sort(ws)
	ws = slices.Compact(ws)
	var ps probeSet
	ms := methodSet{}
	for _, side := range []*Side{newer, older} {
		for _, l := range side.Files.Lines {
			if l.Ptype == "p" && len(l.Fields) >= 3 {
				ps.addPattern(l.Fields[1], ws)
				ms.add(l.Fields[2])
			}
		}
	}
	for _, r := range o.Routes {
		ps.addPattern(r.Path, ws)
		ms.add(r.Method)
	}
	for _, side := range []*Side{newer, older} {
		if side.Suite == nil {
			continue
		}
		for _, c := range side.Suite.Cases {
			p := c.Path
			if o.Canonical != nil {
				var err error
				if p, err = o.Canonical(c.Path); err != nil {
					continue // refused before any decision, on both sides
				}
			}
			ps.add(probe{shown: p, sample: p})
			ms.add(c.Method)
		}
	}
	return ps, ms.sorted()
}
