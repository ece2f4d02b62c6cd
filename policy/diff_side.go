package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Side is one version of a policy directory as a diff compares it: its
// files, its tests.yaml when it has one, and the text of each file read,
// so that a diff can quote the lines it names.
type Side struct {
	// Dir is the directory's name in messages and line origins: a path, or
	// REF:PATH for a version read from git.
	Dir   string
	Files *Files
	// Suite is the directory's tests.yaml; nil when it has none.
	Suite *Suite
	texts map[string][]string // file name → its lines
}

// LoadSide reads a policy directory for a diff. It checks the directory
// as policy validate does: every problem of its files (ValidateDir) and of
// its tests.yaml, when there is one, is in the error, each a *LineError
// where a line can be named (see Problems).
func LoadSide(fsys fs.FS, dir string) (*Side, error) {
	if problems := ValidateDir(fsys, dir); len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	files, err := LoadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	s := &Side{Dir: dir, Files: files, texts: map[string][]string{files.PolicyName: strings.Split(files.Text, "\n")}}
	name := path.Join(dir, TestsFile)
	data, err := fs.ReadFile(fsys, TestsFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	suite, errs := ParseSuite(name, data)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.Suite = suite
	s.texts[name] = strings.Split(string(data), "\n")
	return s, nil
}

// text returns the text of line num of file as written, without the
// white space around it (and, in tests.yaml, without a comment), and
// whether the side read that file.
func (s *Side) text(file string, num int) (string, bool) {
	lines, ok := s.texts[file]
	if !ok || num < 1 || num > len(lines) {
		return "", false
	}
	t := lines[num-1]
	if path.Base(file) == TestsFile {
		t, _, _ = strings.Cut(t, " #")
	}
	return strings.TrimSpace(t), true
}

// fixtures returns the fixture lines a side of a diff decides with: the
// team and user fixtures of its own tests.yaml, and those of the other
// side's for the teams and users its own does not list. A user added to
// the tests of one side is thus decided with the same roles on both, and
// a role renamed in the policy and in tests.yaml alike changes nothing.
func fixtures(own, other *Side) []Line {
	var out []Line
	teams, users := map[string]bool{}, map[string]bool{}
	if s := own.Suite; s != nil {
		out = append(out, s.FixtureLines()...)
		for _, t := range s.Teams {
			teams[t.Name] = true
		}
		for _, u := range s.Users {
			users[u.Name] = true
		}
	}
	if s := other.Suite; s != nil {
		for _, t := range s.Teams {
			if !teams[t.Name] {
				out = append(out, t.lines(s.File)...)
			}
		}
		for _, u := range s.Users {
			if !users[u.Name] {
				out = append(out, u.lines(s.File)...)
			}
		}
	}
	return out
}
