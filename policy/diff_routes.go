package policy

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Route is a request a diff decides besides those the policies name: a
// method and a path, concrete or a pattern of the p lines' grammar.
type Route struct {
	Method string
	Path   string
	Origin string // where the route was read, FILE:LINE, for messages
}

// ParseRoutes reads a table of routes, one a line: METHOD<TAB>PATH, and
// any further columns, which are ignored. Blank lines, lines starting with
// # and a header line whose first column is "method" are skipped. METHOD
// may list several methods separated by |; PATH is a concrete path or a
// pattern ({name}, :name, {self}, {workspace}, a final *). file names the
// table in messages; every problem is a *LineError.
func ParseRoutes(file string, r io.Reader) ([]Route, []error) {
	var out []Route
	var errs []error
	sc := bufio.NewScanner(r)
	for num := 1; sc.Scan(); num++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if strings.EqualFold(strings.TrimSpace(cols[0]), "method") {
			continue
		}
		le := func(format string, args ...any) {
			errs = append(errs, &LineError{File: file, Num: num, Msg: fmt.Sprintf(format, args...)})
		}
		if len(cols) < 2 {
			le("want METHOD<TAB>PATH")
			continue
		}
		method, p := strings.TrimSpace(cols[0]), strings.TrimSpace(cols[1])
		ok := true
		for _, m := range strings.Split(method, "|") {
			if !ValidMethod(m) {
				le("%s", MethodError(m))
				ok = false
			}
		}
		if _, err := compilePattern(p); err != nil {
			le("%v", err)
			ok = false
		}
		if ok {
			out = append(out, Route{Method: method, Path: p, Origin: fmt.Sprintf("%s:%d", file, num)})
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", file, err))
	}
	return out, errs
}

// Samples of pattern segments: a diff decides a pattern on a concrete
// path, each {name} or :name being sampleParam and {workspace}
// sampleWorkspace (a workspace no g2 line names), or, once for each
// workspace that g2 lines name, that workspace. A final * is decided on
// three paths, as it matches any rest: sampleStar, the empty rest (the
// path ends in /) and two segments (sampleStar/sampleStar), so that a
// rule that narrows * to one segment, or to a non-empty one, shows.
const (
	sampleParam     = "1"
	sampleStar      = "x"
	sampleWorkspace = "any-workspace"
	// selfMark stands for a {self} segment in a probe's sample, replaced
	// with the name of the subject deciding.
	selfMark = "\x00self"
)

// probe is a path a diff decides, with every method.
type probe struct {
	shown  string // the path as reported: the pattern or the concrete path
	sample string // the path decided; selfMark for {self}
}

// path returns the sample for a subject whose own name is self.
func (p probe) path(self string) string {
	if self == "" {
		self = sampleParam // anonymous: {self} matches no one
	}
	return strings.ReplaceAll(p.sample, selfMark, self)
}

// probeSet collects probes, each sample once: the first shown text wins.
type probeSet struct {
	seen   map[string]bool
	probes []probe
	// notSampled are the patterns that do not compile as Gatehouse
	// patterns (a custom model's regexMatch, keyMatch with a * inside),
	// each once, in the order met.
	notSampled []string
}

func (s *probeSet) add(p probe) {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if !s.seen[p.sample] {
		s.seen[p.sample] = true
		s.probes = append(s.probes, p)
	}
}

// addPattern adds the probes of a path pattern: one with sample segments,
// and, when it has {workspace}, one more for each of workspaces. A
// pattern that does not compile (a custom model's) has no sample: it is
// added to notSampled.
func (s *probeSet) addPattern(text string, workspaces []string) {
	p, err := compilePattern(text)
	if err != nil {
		if !slices.Contains(s.notSampled, text) {
			s.notSampled = append(s.notSampled, text)
		}
		return
	}
	segs := make([]string, len(p.segs))
	for i, seg := range p.segs {
		switch seg.kind {
		case segLiteral:
			segs[i] = seg.text
		case segParam:
			segs[i] = sampleParam
		case segSelf:
			segs[i] = selfMark
		case segWorkspace:
			segs[i] = sampleWorkspace
		case segStar:
			segs[i] = sampleStar
		}
	}
	star := len(segs) > 0 && p.segs[len(segs)-1].kind == segStar
	addRests := func(shown string) {
		if !star {
			s.add(probe{shown: shown, sample: "/" + strings.Join(segs, "/")})
			return
		}
		for _, rest := range []string{sampleStar, "", sampleStar + "/" + sampleStar} {
			segs[len(segs)-1] = rest
			s.add(probe{shown: shown, sample: "/" + strings.Join(segs, "/")})
		}
	}
	addRests(text)
	if p.wsAt < 0 {
		return
	}
	for _, ws := range workspaces {
		segs[p.wsAt] = ws
		shown := strings.Split(text, "/")
		shown[p.wsAt+1] = ws
		addRests(strings.Join(shown, "/"))
	}
}

// methodSet collects the methods a diff decides every probe with, HEAD
// folded into GET (a HEAD request is decided as GET).
type methodSet map[string]bool

func (m methodSet) add(list string) {
	for _, tok := range strings.Split(list, "|") {
		tok = strings.TrimSpace(tok)
		switch {
		case tok == "*":
			for _, s := range starMethods {
				m[s] = true
			}
		case ValidMethod(tok):
			m[decisionMethod(tok)] = true
		}
	}
}

// sorted returns the methods in the order of stdMethods, then the others
// by name.
func (m methodSet) sorted() []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, compareMethods)
	return out
}

func compareMethods(a, b string) int {
	ia, ib := slices.Index(stdMethods[:], a), slices.Index(stdMethods[:], b)
	switch {
	case ia >= 0 && ib >= 0:
		return ia - ib
	case ia >= 0:
		return -1
	case ib >= 0:
		return 1
	}
	return strings.Compare(a, b)
}
