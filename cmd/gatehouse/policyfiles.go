package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/preset"
)

// loadPolicyFiles reads --policy-dir; without one, the preset's embedded
// policy, or the embedded defaults when there is no preset either. A
// directory with problems reports every one of them, as policy validate
// does, and not only those of the lines that do not parse.
func loadPolicyFiles(dir string, p *preset.Preset) (*policy.Files, error) {
	switch {
	case dir != "":
		name := filepath.Clean(dir)
		files, err := policy.LoadDir(os.DirFS(dir), name)
		if err != nil {
			if problems := policy.ValidateDir(os.DirFS(dir), name); len(problems) > 0 {
				return nil, newProblems("--policy-dir "+name, problems)
			}
			return nil, err
		}
		return files, nil
	case p != nil:
		return policy.LoadDir(p.Policy, "preset/"+p.Name)
	}
	return policy.DefaultFiles(), nil
}

// policyLoadError is the error of an engine that would not load: every
// problem on a line of its own when they name files or database rows, as
// policy validate prints them.
func policyLoadError(dir string, err error) error {
	problems := policy.Problems(err)
	for _, p := range problems {
		var le *policy.LineError
		if errors.As(p, &le) {
			what := "policy"
			if dir != "" {
				what = "--policy-dir " + filepath.Clean(dir)
			}
			return newProblems(what, problems)
		}
	}
	return fmt.Errorf("policy: %w", err)
}
