package main

import (
	"os"
	"path/filepath"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// loadPolicyFiles reads --policy-dir, or returns the embedded defaults.
func loadPolicyFiles(dir string) (*policy.Files, error) {
	if dir == "" {
		return policy.DefaultFiles(), nil
	}
	return policy.LoadDir(os.DirFS(dir), filepath.Clean(dir))
}
