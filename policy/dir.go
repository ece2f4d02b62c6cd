package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
)

// File names in a policy directory.
const (
	ModelFile  = "model.conf"
	PolicyFile = "policy.csv"
	TestsFile  = "tests.yaml"
)

// LoadDir reads a policy directory: model.conf (optional; the default
// model otherwise) and policy.csv. dir is the name used in messages. It
// reports every problem it finds, each as FILE:LINE: message.
func LoadDir(fsys fs.FS, dir string) (*Files, error) {
	f := &Files{Model: defaultModel, ModelName: DefaultModelName}
	var modelData []byte
	switch data, err := fs.ReadFile(fsys, ModelFile); {
	case err == nil:
		f.Model, f.ModelName, modelData = string(data), path.Join(dir, ModelFile), data
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %w", path.Join(dir, ModelFile), err)
	}
	name := path.Join(dir, PolicyFile)
	data, err := fs.ReadFile(fsys, PolicyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	lines, errs := ParseCSV(name, data)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	f.Lines = lines
	f.Revision = revision(string(modelData), data)
	return f, nil
}
