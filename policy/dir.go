package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
)

// File names in a policy directory.
const (
	ModelFile  = "model.conf"
	PolicyFile = "policy.csv"
	TestsFile  = "tests.yaml"
)

// dirContent is what a policy directory holds, as read.
type dirContent struct {
	dir    string
	model  []byte // nil when there is no model.conf
	policy []byte
}

// readDir reads model.conf (optional) and policy.csv from fsys.
func readDir(fsys fs.FS, dir string) (*dirContent, error) {
	d := &dirContent{dir: dir}
	switch data, err := fs.ReadFile(fsys, ModelFile); {
	case err == nil:
		d.model = data
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %w", path.Join(dir, ModelFile), err)
	}
	data, err := fs.ReadFile(fsys, PolicyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path.Join(dir, PolicyFile), err)
	}
	d.policy = data
	return d, nil
}

// files parses the content. It returns the lines that parse and every
// problem of those that do not.
func (d *dirContent) files() (*Files, []error) {
	f := &Files{Model: defaultModel, ModelName: DefaultModelName, PolicyName: path.Join(d.dir, PolicyFile)}
	if d.model != nil {
		f.Model, f.ModelName = string(d.model), path.Join(d.dir, ModelFile)
	}
	f.Text = string(d.policy) // the lines' values are substrings of it: no copy kept twice
	lines, errs := parseText(f.PolicyName, f.Text)
	f.Lines = lines
	// The revision hashes the model in force, so a missing model.conf and
	// an empty one (which is an error) differ.
	f.Revision = revision(f.Model, d.policy)
	return f, errs
}

// LoadDir reads a policy directory: model.conf (optional; the default
// model otherwise) and policy.csv. dir is the name used in messages. It
// reports every problem it finds in the lines, each as FILE:LINE: message;
// the model and the lines are checked against each other by New and
// Engine.ReplaceFiles.
func LoadDir(fsys fs.FS, dir string) (*Files, error) {
	d, err := readDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	f, errs := d.files()
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

// ValidateDir reports every problem of a policy directory, as a running
// server would find them on load: unreadable files, malformed lines, a
// bad model, lines that do not fit the model, bad patterns and methods,
// and a policy that takes read, write or me from admin. It also reports
// what a server does not refuse, since the database may hold what the
// files lack: a g line giving a role or permission that the files do not
// define (ErrUnknownName), with the nearest defined name as a hint. Each
// problem is a *LineError (FILE:LINE: message) where a line can be named.
// The result is sorted by file and line; it is empty for a valid
// directory.
func ValidateDir(fsys fs.FS, dir string) []error {
	d, err := readDir(fsys, dir)
	if err != nil {
		return []error{err}
	}
	f, parseErrs := d.files()
	errs := validateFiles(f, parseErrs)
	// Not a problem a server refuses (see unknownParents). With lines that
	// did not parse, a name one of them defines would be reported as
	// unknown.
	if len(parseErrs) == 0 {
		errs = append(errs, unknownParents(f, errs)...)
		SortProblems(errs)
	}
	return errs
}

// validateFiles adds to parseErrs, the problems of lines that did not
// parse, every problem an engine finds in f, and sorts them.
func validateFiles(f *Files, parseErrs []error) []error {
	errs := parseErrs
	if _, err := New(context.Background(), nil, f, nil); err != nil {
		for _, p := range Problems(err) {
			// With lines that did not parse, admin may lack what one of
			// them would have given it; that is not a problem of its own.
			if len(parseErrs) > 0 && errors.Is(p, ErrAdminPermissions) {
				continue
			}
			errs = append(errs, p)
		}
	}
	SortProblems(errs)
	return errs
}

// Problems flattens an error joined with errors.Join into its parts.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	return []error{err}
}

// SortProblems orders problems by file and line; problems without a line
// come first, in their order.
func SortProblems(errs []error) {
	sort.SliceStable(errs, func(i, j int) bool {
		var a, b *LineError
		okA, okB := errors.As(errs[i], &a), errors.As(errs[j], &b)
		switch {
		case !okA || !okB:
			return !okA && okB
		case a.File != b.File:
			return a.File < b.File
		}
		return a.Num < b.Num
	})
}
