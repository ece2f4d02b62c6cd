package main

import (
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

func TestVersionOutput(t *testing.T) {
	stdout, stderr, code := clientRun(t, nil, "", "version")
	if code != 0 || stdout != "gatehouse "+version+"\n" {
		t.Errorf("version: exit %d: %q %s", code, stdout, stderr)
	}
	stdout, stderr, code = clientRun(t, nil, "", "--version")
	if code != 0 || stdout != "gatehouse "+version+"\n" {
		t.Errorf("--version: exit %d: %q %s, want what gatehouse version prints", code, stdout, stderr)
	}
	stdout, stderr, code = clientRun(t, nil, "", "version", "-o", "json")
	v := decodeJSON[versionInfo](t, stdout)
	if code != 0 || v.Version != version || v.GoVersion != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version -o json: exit %d: %+v %s", code, v, stderr)
	}
	stdout, stderr, code = clientRun(t, nil, "", "version", "-o", "yaml")
	var y map[string]string
	if err := yaml.Unmarshal([]byte(stdout), &y); code != 0 || err != nil || y["version"] != version || y["go_version"] != runtime.Version() {
		t.Errorf("version -o yaml: exit %d: %v\n%s%s", code, err, stdout, stderr)
	}
	_, stderr, code = clientRun(t, nil, "", "version", "-o", "xml")
	if code != 2 || !strings.Contains(stderr, `--output "xml": want text, json or yaml`) {
		t.Errorf("version -o xml: exit %d: %s", code, stderr)
	}
}

// TestShortVIsVerboseEverywhere: a flag with the shorthand -v is
// --verbose on every command, and -v is never --version.
func TestShortVIsVerboseEverywhere(t *testing.T) {
	a := &app{env: func(string) string { return "" }}
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		// cobra adds --help and --version when a command runs; add them
		// now to check them too.
		c.InitDefaultHelpFlag()
		c.InitDefaultVersionFlag()
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			if f := fs.ShorthandLookup("v"); f != nil {
				n++
				if f.Name != "verbose" {
					t.Errorf("%q: -v is --%s, want --verbose", c.CommandPath(), f.Name)
				}
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(a.rootCmd())
	if n == 0 {
		t.Error("no command has -v; policy test -v is verbose")
	}

	_, stderr, code := clientRun(t, nil, "", "-v")
	if code != 2 || !strings.Contains(stderr, `-v is --verbose, which "gatehouse" does not have; the version is "gatehouse version"`) {
		t.Errorf("gatehouse -v: exit %d: %s", code, stderr)
	}
	stdout, stderr, code := clientRun(t, nil, "", "policy", "test", "-v", zenmlPolicyDir)
	if code != 0 || !strings.Contains(stdout, "\nok   ") || !strings.Contains(stdout, "PASS:") {
		t.Errorf("policy test -v: exit %d, want every passing case listed:\n%s%s", code, stdout, stderr)
	}
}

// TestDidYouMean: a mistyped sub-command, at any level, or flag is a usage
// error that names what was probably meant.
func TestDidYouMean(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"usr"}, "unknown command \"usr\" for \"gatehouse\"\n\nDid you mean this?\n\tuser\n"},
		{[]string{"user", "lst"}, "unknown command \"lst\" for \"gatehouse user\"\n\nDid you mean this?\n\tlist\n"},
		{[]string{"role", "assignment", "lst"}, "unknown command \"lst\" for \"gatehouse role assignment\"\n\nDid you mean this?\n\tlist\n"},
		{[]string{"policy", "valdate"}, "unknown command \"valdate\" for \"gatehouse policy\"\n\nDid you mean this?\n\tvalidate\n"},
		{[]string{"user", "list", "--outptu", "json"}, "unknown flag: --outptu\n\nDid you mean this?\n\t--output\n"},
		{[]string{"login", "--user", "x"}, "unknown flag: --user\n\nDid you mean this?\n\t--username\n"},
		{[]string{"policy", "check", "--methd=GET"}, "unknown flag: --methd\n\nDid you mean this?\n\t--method\n"},
	} {
		_, stderr, code := clientRun(t, nil, "", tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "Usage:") {
			t.Errorf("gatehouse %s: exit %d, want 2 and %q:\n%s", strings.Join(tt.args, " "), code, tt.want, stderr)
		}
	}
	// Nothing close: no list.
	_, stderr, code := clientRun(t, nil, "", "user", "zzzzzz")
	if code != 2 || strings.Contains(stderr, "Did you mean") {
		t.Errorf("user zzzzzz: exit %d:\n%s", code, stderr)
	}
}
