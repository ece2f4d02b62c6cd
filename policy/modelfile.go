package policy

import (
	"bufio"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/casbin/casbin/v2/model"
)

// modelSections are the sections Casbin reads from a model.conf, by the
// letter that starts their keys.
var modelSections = map[string]string{
	"request_definition": "r",
	"policy_definition":  "p",
	"role_definition":    "g",
	"policy_effect":      "e",
	"matchers":           "m",
}

// requiredSections are the sections every model needs, in the order they
// are reported when missing.
var requiredSections = []string{"request_definition", "policy_definition", "policy_effect", "matchers"}

// gatehouseFunctions are the matcher functions Gatehouse registers on top of
// Casbin's own (see registerFunctions).
var gatehouseFunctions = []string{"pathMatch", "methodMatch", "workspace"}

// modelLayout says where things are in a model.conf, for messages that
// name a line. Casbin's own parser reports no line numbers.
type modelLayout struct {
	file string
	keys map[string]int // key ("r", "m", "g2") → line it starts on
	vals map[string]string
	last int // number of the last line
}

// line returns the line on which key starts, or the last line when the key
// is missing (a missing key is reported where it could be added).
func (l *modelLayout) line(key string) int {
	if n, ok := l.keys[key]; ok {
		return n
	}
	return max(l.last, 1)
}

func (l *modelLayout) errorf(num int, format string, args ...any) error {
	return &LineError{File: l.file, Num: num, Msg: fmt.Sprintf(format, args...)}
}

// scanModel reads a model.conf the way Casbin's config parser does (#
// and ; comments, a trailing \ continues a line, key = value) and reports
// every problem with its line: unknown sections, lines outside a section,
// malformed lines, keys Casbin would silently ignore, duplicate keys and
// missing sections.
func scanModel(file, text string) (*modelLayout, []error) {
	l := &modelLayout{file: file, keys: map[string]int{}, vals: map[string]string{}}
	var errs []error
	seen := map[string]bool{}
	section, sectionKnown := "", false
	var pending strings.Builder
	start := 0
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for num := 1; sc.Scan(); num++ {
		l.last = num
		line := strings.TrimSpace(sc.Text())
		if pending.Len() == 0 {
			start = num
		}
		switch {
		case pending.Len() == 0 && (line == "" || line[0] == '#' || line[0] == ';'):
			continue
		case pending.Len() == 0 && strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1] // Casbin does not trim the name either
			_, sectionKnown = modelSections[section]
			seen[section] = true
			if !sectionKnown {
				errs = append(errs, l.errorf(num, "unknown section [%s]: want [request_definition], [policy_definition], [role_definition], [policy_effect] or [matchers]", section))
			}
			continue
		}
		cont, more := strings.CutSuffix(line, `\`)
		if more {
			line = strings.TrimSpace(cont) + " "
		}
		// Like Casbin, a # or ; ends the line's text, even inside quotes.
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		pending.WriteString(line)
		if more {
			continue
		}
		stmt := pending.String()
		pending.Reset()
		if err := l.addKey(section, sectionKnown, start, stmt); err != nil {
			errs = append(errs, err)
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, l.errorf(l.last+1, "%v", err))
	}
	for _, s := range requiredSections {
		if !seen[s] {
			errs = append(errs, l.errorf(max(l.last, 1), "missing section [%s]: a model needs [request_definition], [policy_definition], [policy_effect] and [matchers]", s))
		}
	}
	return l, errs
}

// addKey records one key = value statement that starts on line num.
func (l *modelLayout) addKey(section string, sectionKnown bool, num int, stmt string) error {
	key, val, ok := strings.Cut(stmt, "=")
	key, val = strings.TrimSpace(key), strings.TrimSpace(val)
	switch {
	case section == "":
		return l.errorf(num, "%q is outside any section", stmt)
	case !ok || key == "":
		return l.errorf(num, "malformed line %q: want key = value", strings.TrimSpace(stmt))
	case !sectionKnown:
		return nil // the section is reported already
	}
	letter := modelSections[section]
	if !validModelKey(letter, key) {
		return l.errorf(num, "key %q in [%s] is not read by Casbin: want %s, %s2, %s3, ...", key, section, letter, letter, letter)
	}
	if first, dup := l.keys[key]; dup {
		return l.errorf(num, "%s is defined twice (first on line %d)", key, first)
	}
	if val == "" {
		return l.errorf(num, "%s has an empty value", key)
	}
	l.keys[key], l.vals[key] = num, val
	return nil
}

// validModelKey reports whether key is one Casbin reads in the section of
// letter: the letter alone or followed by a number from 2 up.
func validModelKey(letter, key string) bool {
	rest, ok := strings.CutPrefix(key, letter)
	if !ok {
		return false
	}
	if rest == "" {
		return true
	}
	n, err := strconv.Atoi(rest)
	return err == nil && n >= 2 && strconv.Itoa(n) == rest
}

// checkFunctions reports every function a matcher calls that neither
// Casbin, the model's role definitions nor Gatehouse define. Casbin itself
// would report them only on the first request.
func checkFunctions(l *modelLayout, m model.Model) []error {
	known := map[string]bool{"eval": true}
	fm := model.LoadFunctionMap()
	for name := range fm.GetFunctions() {
		known[name] = true
	}
	for _, name := range gatehouseFunctions {
		known[name] = true
	}
	for key := range m["g"] {
		known[key] = true
	}
	var errs []error
	keys := make([]string, 0, len(l.vals))
	for key := range l.vals {
		if strings.HasPrefix(key, "m") {
			keys = append(keys, key)
		}
	}
	sort.Strings(keys)
	for _, key := range keys {
		for _, fn := range calledFunctions(l.vals[key]) {
			if !known[fn] {
				errs = append(errs, l.errorf(l.line(key), "%s calls undefined function %s(): Casbin defines keyMatch…keyMatch5, keyGet…keyGet3, regexMatch, ipMatch, globMatch and eval; Gatehouse adds pathMatch and methodMatch; role definitions add g, g2, …", key, fn))
			}
		}
	}
	return errs
}

// calledFunctions returns the names an expression calls as functions, in
// order and without repeats. Quoted strings are skipped; so are accessor
// calls (r.sub.Name()) and the in operator.
func calledFunctions(expr string) []string {
	var out []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			end := strings.IndexByte(expr[i+1:], c)
			if end < 0 {
				return out
			}
			i += end + 2
		case isIdentStart(c):
			j := i + 1
			for j < len(expr) && (isIdentStart(expr[j]) || expr[j] >= '0' && expr[j] <= '9' || expr[j] == '.') {
				j++
			}
			name := expr[i:j]
			k := j
			for k < len(expr) && expr[k] == ' ' {
				k++
			}
			if k < len(expr) && expr[k] == '(' && name != "in" && !strings.Contains(name, ".") && !slices.Contains(out, name) {
				out = append(out, name)
			}
			i = j
		default:
			i++
		}
	}
	return out
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
