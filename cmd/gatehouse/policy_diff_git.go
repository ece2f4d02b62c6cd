package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// gitSide reads the policy directory dir as it is at ref in the git
// checkout dir belongs to: git archive writes the directory's tree, which
// is unpacked into a temporary directory and loaded from there. The side
// is named REF:DIR in messages and line origins.
func gitSide(ctx context.Context, dir, ref string) (*policy.Side, error) {
	dir = filepath.Clean(dir)
	if _, _, err := policyDir(dir); err != nil {
		return nil, err
	}
	where, err := git(ctx, dir, "rev-parse", "--show-toplevel", "--show-prefix")
	if err != nil {
		return nil, fmt.Errorf("--base %s: %s is not in a git checkout: %w", ref, dir, err)
	}
	top, prefix, _ := strings.Cut(strings.TrimRight(where, "\n"), "\n")
	if strings.HasPrefix(ref, "-") {
		return nil, fmt.Errorf("--base %q: not a git reference", ref)
	}
	if _, err := git(ctx, dir, "rev-parse", "--verify", "--quiet", "--end-of-options", ref+"^{commit}"); err != nil {
		return nil, fmt.Errorf("--base %s: no such commit in the checkout of %s", ref, dir)
	}
	tree := ref + ":" + strings.TrimSuffix(strings.TrimSpace(prefix), "/")
	// From the top: in a subdirectory git archive keeps only that
	// subdirectory of the tree it is given.
	archive, err := git(ctx, top, "archive", "--format=tar", tree)
	if err != nil {
		return nil, fmt.Errorf("--base %s: %s does not exist at %s: %w", ref, dir, ref, err)
	}
	tmp, err := os.MkdirTemp("", "gatehouse-policy-diff-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := untar(tmp, strings.NewReader(archive)); err != nil {
		return nil, fmt.Errorf("--base %s: reading %s at %s: %w", ref, dir, ref, err)
	}
	name := ref + ":" + filepath.ToSlash(dir)
	side, err := policy.LoadSide(os.DirFS(tmp), name)
	if err != nil {
		return nil, newProblems(name, policy.Problems(err))
	}
	return side, nil
}

// git runs a git command in dir and returns its output; the error holds
// what git wrote to stderr.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(errOut.String()); msg != "" {
			return "", errors.New(msg)
		}
		return "", err
	}
	return out.String(), nil
}

// untar writes the regular files of a tar stream under dir. Only the top
// level matters to a policy directory; names that would leave dir are
// refused.
func untar(dir string, r io.Reader) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := path.Clean(h.Name)
		if h.Typeflag != tar.TypeReg || strings.Contains(name, "/") || name == "." || name == ".." {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
}
