package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

// The docs show commands in console blocks: a line "$ COMMAND" and the
// output under it, up to the next command or a blank line before one. A
// failing command's output ends with "[exit N]". docShell runs such a
// block as written, with bash, the built binary on PATH as gatehouse, and
// compares what it prints with the page.
//
// Values that differ from run to run (tokens, ids, key ids, times, the
// server's port) are matched by their form, not their text. The first time
// a page's value is seen its run's value is remembered, and later commands
// and outputs that show the page's value use the remembered one: so a page
// can show an invitation link and then a curl line that uses it.

// docStep is one command of a page and the output the page shows.
type docStep struct {
	line int // the page's line of the command
	cmd  string
	want string
}

// docSteps reads every console block of a page.
func docSteps(t *testing.T, page string) []docStep {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), page))
	if err != nil {
		t.Fatal(err)
	}
	var steps []docStep
	in := false
	for i, line := range strings.Split(string(doc), "\n") {
		switch {
		case line == "```console":
			in = true
		case in && line == "```":
			in = false
		case in && strings.HasPrefix(line, "$ "):
			steps = append(steps, docStep{line: i + 1, cmd: strings.TrimPrefix(line, "$ ")})
		case in && len(steps) == 0:
			t.Fatalf("%s:%d: output before any command", page, i+1)
		case in:
			steps[len(steps)-1].want += line + "\n"
		}
	}
	for i := range steps {
		steps[i].want = strings.TrimRight(steps[i].want, "\n")
	}
	return steps
}

// repoRoot is the repository's root, from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// docValue is a form of value that differs between runs.
type docValue struct {
	re       *regexp.Regexp
	word     bool // must not touch other word characters
	remember bool // later steps use the run's value for the page's
}

var docValues = []docValue{
	{re: regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`), remember: true}, // a JWT
	{re: regexp.MustCompile(`gatehouse_[A-Za-z0-9_-]{43}`), word: true, remember: true},              // an API key
	{re: regexp.MustCompile(`gatehouse_[A-Za-z0-9_-]{2}…`)},                                          // an API key's shown prefix
	{re: regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`), remember: true},
	{re: regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z`)},     // a time
	{re: regexp.MustCompile(`[A-Za-z0-9_-]{43}`), word: true, remember: true}, // an invitation token
	{re: regexp.MustCompile(`[A-Za-z0-9_-]{16}`), word: true, remember: true}, // a generated password or key id
}

func isWordByte(b byte) bool {
	return b == '_' || b == '-' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// valueSpan is a value of a page's text.
type valueSpan struct {
	start, end int
	form       int // index in docValues
}

// valueSpans finds the values in text, the earlier form winning where two
// overlap.
func valueSpans(text string) []valueSpan {
	var spans []valueSpan
	taken := make([]bool, len(text))
	for form, v := range docValues {
	next:
		for _, m := range v.re.FindAllStringIndex(text, -1) {
			if v.word && (m[0] > 0 && isWordByte(text[m[0]-1]) || m[1] < len(text) && isWordByte(text[m[1]])) {
				continue
			}
			for i := m[0]; i < m[1]; i++ {
				if taken[i] {
					continue next
				}
			}
			for i := m[0]; i < m[1]; i++ {
				taken[i] = true
			}
			spans = append(spans, valueSpan{m[0], m[1], form})
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	return spans
}

// docShell runs a page's commands.
type docShell struct {
	t    *testing.T
	dir  string   // the working directory
	home string   // HOME, shown as ~ in outputs
	env  []string // the environment, beyond PATH and HOME
	seen map[string]string
}

func newDocShell(t *testing.T, dir string, env ...string) *docShell {
	bin := testkit.Binary(t)
	home := t.TempDir()
	return &docShell{t: t, dir: dir, home: home, seen: map[string]string{},
		env: append([]string{"PATH=" + filepath.Dir(bin) + ":" + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8", "TZ=UTC"}, env...)}
}

// replaceSeen writes the run's values for the page's values in text.
func (s *docShell) replaceSeen(text string) string {
	keys := make([]string, 0, len(s.seen))
	for k := range s.seen {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, s.seen[k])
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

// run runs the steps of a page in order.
func (s *docShell) run(page string, steps []docStep) {
	s.t.Helper()
	for _, st := range steps {
		got := s.exec(s.replaceSeen(st.cmd))
		if err := s.match(st.want, got); err != nil {
			s.t.Fatalf("%s:%d: $ %s\n%v", page, st.line, st.cmd, err)
		}
	}
}

// exec runs one command line with bash and returns what it printed, its
// home directory as ~, and "[exit N]" when it failed.
func (s *docShell) exec(line string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", line)
	cmd.Dir, cmd.Env = s.dir, s.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	got := strings.ReplaceAll(out.String(), s.home, "~")
	got = strings.TrimRight(got, "\n")
	if ee, ok := err.(*exec.ExitError); ok {
		got += fmt.Sprintf("\n[exit %d]", ee.ExitCode())
	} else if err != nil {
		s.t.Fatalf("$ %s: %v", line, err)
	}
	return strings.TrimLeft(got, "\n")
}

// match compares an output with the page's: the values the page shows match
// any value of their form, and a value that names something (a token, an
// id: docValue.remember) the same run value wherever the page repeats it.
// Times need not repeat: two users made one after the other may be made in
// different seconds.
func (s *docShell) match(want, got string) error {
	var re strings.Builder
	re.WriteString(`^`)
	var groups []valueSpan // the page's value of each group
	var texts []string
	at := 0
	for _, sp := range valueSpans(want) {
		re.WriteString(regexp.QuoteMeta(s.replaceSeen(want[at:sp.start])))
		v := want[sp.start:sp.end]
		if run, ok := s.seen[v]; ok {
			re.WriteString(regexp.QuoteMeta(run))
		} else {
			re.WriteString("(" + docValues[sp.form].re.String() + ")")
			groups, texts = append(groups, sp), append(texts, v)
		}
		at = sp.end
	}
	re.WriteString(regexp.QuoteMeta(s.replaceSeen(want[at:])) + `$`)
	m := regexp.MustCompile(re.String()).FindStringSubmatch(got)
	if m == nil {
		return fmt.Errorf("the page shows:\n%s\nthe run printed:\n%s", want, got)
	}
	found := map[string]string{}
	for i, v := range texts {
		if !docValues[groups[i].form].remember {
			continue
		}
		if prev, ok := found[v]; ok && prev != m[i+1] {
			return fmt.Errorf("the page shows %s twice, the run printed %s and %s:\n%s", v, prev, m[i+1], got)
		}
		found[v] = m[i+1]
	}
	for v, run := range found {
		for _, sp := range valueSpans(v) {
			if docValues[sp.form].remember && sp.start == 0 && sp.end == len(v) {
				s.seen[v] = run
			}
		}
	}
	return nil
}

// TestDocShellMatches: the matcher takes a run's values for the page's by
// form, keeps them for later steps, and refuses other differences.
func TestDocShellMatches(t *testing.T) {
	s := &docShell{t: t, seen: map[string]string{"http://127.0.0.1:8080": "http://127.0.0.1:41234"}}
	want := "Logged in to http://127.0.0.1:8080 as admin. The token expires at 2026-11-27T05:16:48Z.\n  http://127.0.0.1:8080/gatehouse/signup?token=JDP5YrDC2ypLQmwmDj0Iq2gWW5bA0LSFv6vx1DY716I"
	got := "Logged in to http://127.0.0.1:41234 as admin. The token expires at 2026-12-02T10:00:00Z.\n  http://127.0.0.1:41234/gatehouse/signup?token=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"
	if err := s.match(want, got); err != nil {
		t.Fatal(err)
	}
	if s.seen["JDP5YrDC2ypLQmwmDj0Iq2gWW5bA0LSFv6vx1DY716I"] != "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ" {
		t.Errorf("the token is not remembered: %v", s.seen)
	}
	if s.replaceSeen("curl http://127.0.0.1:8080/x?token=JDP5YrDC2ypLQmwmDj0Iq2gWW5bA0LSFv6vx1DY716I") != "curl http://127.0.0.1:41234/x?token=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ" {
		t.Error("a later command does not get the run's values")
	}
	for _, bad := range []string{
		strings.Replace(got, "as admin", "as guest", 1),
		strings.Replace(got, "41234", "41235", 1),
		got + "\nmore",
	} {
		if s.match(want, bad) == nil {
			t.Errorf("matched a different output:\n%s", bad)
		}
	}
	// A page value seen once must stand for one run value.
	s2 := &docShell{t: t, seen: map[string]string{}}
	if s2.match("a 089bfbc3-4860-4763-8d4b-bb96848fe6ed b 089bfbc3-4860-4763-8d4b-bb96848fe6ed",
		"a 11111111-4860-4763-8d4b-bb96848fe6ed b 22222222-4860-4763-8d4b-bb96848fe6ed") == nil {
		t.Error("one page value matched two run values")
	}
	// A time shown twice may be two times of the run.
	if err := s2.match("made 2026-11-27T04:16:39Z, 2026-11-27T04:16:39Z", "made 2026-12-02T05:42:33Z, 2026-12-02T05:42:34Z"); err != nil {
		t.Errorf("two users made a second apart: %v", err)
	}
	if !slices.Equal([]int{len(valueSpans("key 51cd9f5f0c69f397 and x51cd9f5f0c69f397"))}, []int{1}) {
		t.Error("a value inside a longer word was taken")
	}
	// An API key is one value, remembered; its shown prefix matches any.
	s3 := &docShell{t: t, seen: map[string]string{}}
	const pageKey, runKey = "gatehouse_9GxvVbE1pS3uTjQK4o0aXkqB7ZJmN2rLdYcHfW5eI8A", "gatehouse_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde"
	if err := s3.match("note\n"+pageKey, "note\n"+runKey); err != nil || s3.seen[pageKey] != runKey {
		t.Errorf("the key is not remembered (%v): %v", err, s3.seen)
	}
	if err := s3.match("deploy   gatehouse_9G…   active", "deploy   gatehouse_Ab…   active"); err != nil {
		t.Errorf("a key's prefix: %v", err)
	}
}

// docPages says where each page's console blocks run: a page that talks
// to a server gets the demo (ADMIN_PASSWORD set to its admin's password,
// the page's http://127.0.0.1:8080 and :9090 its addresses); the others a
// directory.
var docPages = []struct {
	page string
	demo []string // the demo's arguments; nil: no server
	dir  func(t *testing.T) string
}{
	{page: "docs/users.md", demo: []string{}},
	{page: "docs/zenml.md", demo: []string{"--preset", "zenml"}},
	{page: "docs/service-accounts.md", demo: []string{"--preset", "zenml"}},
	{page: "docs/teams.md", demo: []string{}},
	{page: "docs/workspaces.md", demo: []string{"--preset", "zenml"}},
	{page: "docs/access-report.md", demo: []string{}},
	{page: "docs/operations.md", demo: []string{}},
	{page: "docs/policy.md", dir: func(t *testing.T) string {
		work := t.TempDir()
		copyTree(t, filepath.Join(repoRoot(t), "docs", "examples"), filepath.Join(work, "docs", "examples"))
		return work
	}},
	{page: "docs/casbin.md", dir: repoRoot},
	{page: "docs/kubernetes.md", dir: repoRoot},
}

// TestDocs runs the console blocks of the docs, each page in a fresh
// setting, and checks that no page with console blocks is left out.
func TestDocs(t *testing.T) {
	listed := map[string]bool{}
	for _, p := range docPages {
		listed[p.page] = true
		t.Run(strings.TrimSuffix(filepath.Base(p.page), ".md"), func(t *testing.T) {
			var s *docShell
			if p.demo != nil {
				d := startDemo(t, p.demo...)
				s = newDocShell(t, t.TempDir(), "ADMIN_PASSWORD="+d.adminPW)
				s.seen["http://127.0.0.1:8080"] = d.url
				s.seen["http://127.0.0.1:9090"] = d.ops
			} else {
				s = newDocShell(t, p.dir(t))
			}
			steps := docSteps(t, p.page)
			if len(steps) == 0 {
				t.Fatalf("%s has no console block", p.page)
			}
			s.run(p.page, steps)
		})
	}
	pages, _ := filepath.Glob(filepath.Join(repoRoot(t), "docs", "*.md"))
	pages = append(pages, filepath.Join(repoRoot(t), "README.md"))
	for _, path := range pages {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(repoRoot(t), path)
		if strings.Contains(string(data), "```console") && !listed[rel] {
			t.Errorf("%s has console blocks, but docPages does not list it", rel)
		}
	}
}

// copyTree copies the files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
