package policy

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/casbin/casbin/v2/util"
)

// randomPattern draws a pattern of the grammar without {self}: params is
// "" (no parameters), ":" or "{" (the parameter form). Names repeat
// sometimes; literals hold no regular-expression metacharacter unless
// meta is set.
func randomPattern(rng *rand.Rand, params string, meta bool) string {
	alphabet := "abc019-_~@!=,;&'"
	if meta {
		alphabet += ".+()[]^$|"
	}
	var b strings.Builder
	n := 1 + rng.IntN(4)
	for i := 0; i < n; i++ {
		b.WriteByte('/')
		last := i == n-1
		switch k := rng.IntN(10); {
		case last && k < 3:
			b.WriteByte('*')
		case last && k == 3:
			// an empty last segment: "/api/"
		case params != "" && k < 6:
			name := []string{"id", "x", "name"}[rng.IntN(3)]
			if params == ":" {
				b.WriteString(":" + name)
			} else {
				b.WriteString("{" + name + "}")
			}
		default:
			lit := ""
			for j := 1 + rng.IntN(3); j > 0; j-- {
				lit += string(alphabet[rng.IntN(len(alphabet))])
			}
			if lit == "." || lit == ".." {
				lit += "a" // dot segments are not literals
			}
			b.WriteString(lit)
		}
	}
	return b.String()
}

// randomPathFor draws a canonical path near a pattern: its literals, some
// other segment for each parameter, and now and then a segment dropped,
// added or made empty, or a character that is special to a regular
// expression.
func randomPathFor(rng *rand.Rand, pat string) string {
	segs := strings.Split(pat[1:], "/")
	out := make([]string, 0, len(segs)+2)
	for _, s := range segs {
		switch {
		case s == "*":
			for j := rng.IntN(3); j > 0; j-- {
				out = append(out, randomSegment(rng))
			}
			if rng.IntN(4) == 0 {
				out = append(out, "")
			}
		case strings.HasPrefix(s, ":") || strings.HasPrefix(s, "{"):
			if len(out) > 0 && rng.IntN(4) == 0 {
				out = append(out, out[len(out)-1]) // the previous value again
			} else {
				out = append(out, randomSegment(rng))
			}
		default:
			out = append(out, s)
		}
	}
	switch rng.IntN(8) {
	case 0:
		if len(out) > 0 {
			out = out[:len(out)-1]
		}
	case 1:
		out = append(out, randomSegment(rng))
	case 2:
		out = append(out, "")
	case 3:
		if i := rng.IntN(len(out) + 1); i < len(out) && out[i] != "" {
			b := []byte(out[i])
			b[rng.IntN(len(b))] = ".+()[]^$|xé"[rng.IntN(11)]
			out[i] = string(b)
		}
	}
	return "/" + strings.Join(out, "/")
}

func randomSegment(rng *rand.Rand) string {
	const alphabet = "abc019-_~.+()[]^$|{}:*é"
	var b strings.Builder
	for j := 1 + rng.IntN(4); j > 0; j-- {
		b.WriteString(string([]rune(alphabet)[rng.IntN(len([]rune(alphabet)))]))
	}
	return b.String()
}

// TestPatternsAgreeWithKeyMatch checks the claim of pattern's doc comment
// against Casbin's own functions on random patterns and paths near them.
func TestPatternsAgreeWithKeyMatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	compare := func(fn string, match func(path, pat string) bool, pat, path string) {
		t.Helper()
		p, err := compilePattern(pat)
		if err != nil {
			t.Fatalf("%s: drawn outside the grammar: %v", pat, err)
		}
		if got, want := p.match(path, "", ""), match(path, pat); got != want {
			t.Errorf("pattern %q, path %q: pathMatch %v, %s %v", pat, path, got, fn, want)
		}
	}
	counts := map[string]int{}
	matched := map[string]int{}
	for i := 0; i < 20000; i++ {
		for _, params := range []string{"", ":", "{"} {
			pat := randomPattern(rng, params, false)
			path := randomPathFor(rng, pat)
			p, _ := compilePattern(pat)
			if p != nil && p.match(path, "", "") {
				matched[params]++
			}
			switch params {
			case "":
				compare("keyMatch", util.KeyMatch, pat, path)
				// keyMatch reads no regular expression: metacharacters in
				// literals are fine.
				metaPat := randomPattern(rng, "", true)
				compare("keyMatch", util.KeyMatch, metaPat, randomPathFor(rng, metaPat))
				counts["keyMatch"] += 2
			case ":":
				compare("keyMatch2", util.KeyMatch2, pat, path)
				counts["keyMatch2"]++
			case "{":
				compare("keyMatch3", util.KeyMatch3, pat, path)
				counts["keyMatch3"]++
				if !repeatsName(pat) {
					compare("keyMatch4", util.KeyMatch4, pat, path)
					counts["keyMatch4"]++
				}
			}
		}
	}
	for _, params := range []string{"", ":", "{"} {
		// Both answers must occur often, or the comparison proves little.
		if matched[params] < 2000 || matched[params] > 18000 {
			t.Errorf("parameters %q: %d of 20000 paths match", params, matched[params])
		}
	}
	t.Logf("compared: %v; matching paths per form: %v", counts, matched)

	// The exclusions are real: outside them the functions differ.
	for _, c := range []struct {
		fn         string
		match      func(string, string) bool
		pat, path  string
		pathMatch  bool
		casbinSays bool
	}{
		{"keyMatch2", util.KeyMatch2, "/a.b", "/aXb", false, true},
		{"keyMatch3", util.KeyMatch3, "/v1+/{id}", "/v11/x", false, true},
		{"keyMatch4", util.KeyMatch4, "/{id}/{id}", "/a/b", true, false},
		{"keyMatch2", util.KeyMatch2, "/{id}", "/x", true, false},
	} {
		p, err := compilePattern(c.pat)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.match(c.path, "", ""), c.match(c.path, c.pat); got != c.pathMatch || want != c.casbinSays {
			t.Errorf("%s: pattern %q, path %q: pathMatch %v, %s %v; documented as %v and %v", c.fn, c.pat, c.path, got, c.fn, want, c.pathMatch, c.casbinSays)
		}
	}
}

func repeatsName(pat string) bool {
	seen := map[string]bool{}
	for _, s := range strings.Split(pat, "/") {
		if strings.HasPrefix(s, "{") {
			if seen[s] {
				return true
			}
			seen[s] = true
		}
	}
	return false
}
