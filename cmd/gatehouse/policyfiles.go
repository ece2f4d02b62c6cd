package main

import (
	"os"
	"path/filepath"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/preset"
)

// loadPolicyFiles reads --policy-dir; without one, the preset's embedded
// policy, or the embedded defaults when there is no preset either.
func loadPolicyFiles(dir string, p *preset.Preset) (*policy.Files, error) {
	switch {
	case dir != "":
		return policy.LoadDir(os.DirFS(dir), filepath.Clean(dir))
	case p != nil:
		return policy.LoadDir(p.Policy, "preset/"+p.Name)
	}
	return policy.DefaultFiles(), nil
}
