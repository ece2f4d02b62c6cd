package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSecurityTableNamesRealTests: every test the README's Security
// section points to exists, so the table cannot promise a proof that was
// renamed or removed.
func TestSecurityTableNamesRealTests(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Security\n")
	if !ok {
		t.Fatal("README.md has no Security section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	names := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllStringSubmatch(section, -1)
	if len(names) < 20 {
		t.Fatalf("the Security section names %d tests", len(names))
	}
	defined := map[string]bool{}
	def := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]+)\(`)
	err = filepath.WalkDir(filepath.Join("..", ".."), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range def.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range names {
		if !defined[m[1]] {
			t.Errorf("README.md's Security section names %s, which no test defines", m[1])
		}
	}
}

// consoleCommand is one "$ gatehouse …" line of a console block in the
// docs and the output shown under it.
type consoleCommand struct {
	args []string
	out  string
}

// consoleCommands reads the console blocks of a page of the docs.
func consoleCommands(t *testing.T, page string) []consoleCommand {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", page))
	if err != nil {
		t.Fatal(err)
	}
	var cmds []consoleCommand
	for _, block := range strings.Split(string(doc), "```console\n")[1:] {
		block, _, _ = strings.Cut(block, "```")
		for _, line := range strings.SplitAfter(block, "\n") {
			if cmd, ok := strings.CutPrefix(line, "$ "); ok {
				fields := strings.Fields(cmd)
				if len(fields) == 0 || fields[0] != "gatehouse" {
					t.Fatalf("%s: %q: only gatehouse commands can be run here", page, cmd)
				}
				cmds = append(cmds, consoleCommand{args: fields[1:]})
				continue
			}
			if len(cmds) == 0 {
				t.Fatalf("%s: output before any command: %q", page, line)
			}
			cmds[len(cmds)-1].out += line
		}
	}
	return cmds
}

// TestDocsCasbinCommands runs every command of docs/casbin.md from the
// repository's root and compares its output with the page.
func TestDocsCasbinCommands(t *testing.T) {
	cmds := consoleCommands(t, "docs/casbin.md")
	if len(cmds) < 4 {
		t.Fatalf("docs/casbin.md shows %d commands", len(cmds))
	}
	t.Chdir(filepath.Join("..", ".."))
	for _, c := range cmds {
		code, out, errOut := policyCLI(t, nil, c.args...)
		if code != 0 || out != c.out {
			t.Errorf("gatehouse %s: exit %d\n%s%s\nthe page shows:\n%s", strings.Join(c.args, " "), code, out, errOut, c.out)
		}
	}
}
