package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeReportsEveryPolicyProblem: serve refuses to start on a broken
// --policy-dir with every problem on stderr, FILE:LINE: message, exactly
// as policy validate prints them, and exits 1: not only the lines that do
// not parse (which hid a broken model.conf), and not one message with the
// first problem glued to "Error:".
func TestServeReportsEveryPolicyProblem(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
	}{
		{"a malformed line beside a broken model", map[string]string{
			"model.conf": "[request_definition]\nr = sub, obj\n",
			"policy.csv": goodPolicy + "p, \"write\n",
		}},
		{"lines that parse, with problems", map[string]string{
			"policy.csv": strings.Replace(goodPolicy, "g, admin, write\n", "", 1) + "p, me, /x{, GET\np, public, /y{, GET\n",
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := policyTree(t, c.files)
			code, _, serveErr := policyCLI(t, nil, "serve", "--upstream", "http://127.0.0.1:1",
				"--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0",
				"--db", "sqlite:"+filepath.Join(t.TempDir(), "g.db"), "--policy-dir", dir)
			vcode, _, validateErr := policyCLI(t, nil, "policy", "validate", dir)
			if code != 1 || vcode != 1 {
				t.Fatalf("serve exit %d, validate exit %d; want 1 and 1\nserve:\n%s\nvalidate:\n%s", code, vcode, serveErr, validateErr)
			}
			problems := strings.Split(strings.TrimSuffix(validateErr, "\n"), "\n")
			n := len(problems) - 1 // the last line is the summary
			if n < 3 {
				t.Fatalf("the fixture should have at least 3 problems; validate printed:\n%s", validateErr)
			}
			want := strings.Join(problems[:n], "\n") + fmt.Sprintf("\nError: --policy-dir %s: %d problems\n", dir, n)
			if serveErr != want {
				t.Errorf("serve printed:\n%s\nwant every problem validate finds, then the count:\n%s", serveErr, want)
			}
		})
	}
}
