package policy

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"strings"
)

//go:embed defaults/model.conf
var defaultModel string

// previousDefaultModel is the default model before workspace-scoped roles
// (no g2): a policy directory holding a copy of it keeps the compiled
// path, and its g2 lines are refused.
//
//go:embed defaults/model_previous.conf
var previousDefaultModel string

//go:embed defaults/policy.csv
var defaultPolicy []byte

// Names under which the embedded defaults are reported.
const (
	DefaultModelName  = "model.conf (embedded default)"
	DefaultPolicyName = "policy.csv (embedded default)"
)

// Files is the file layer of a policy: a model and its lines, read from
// --policy-dir or embedded.
type Files struct {
	Model      string // model.conf text
	ModelName  string // where Model comes from, for messages
	PolicyName string // where Lines come from, for messages
	Lines      []Line
	// Text is the policy file Lines were read from, for Export to keep
	// its comments; "" when the lines were not read from one.
	Text     string
	Revision string // content hash of the model and the policy files
}

// DefaultFiles returns the embedded default model and policy.
func DefaultFiles() *Files {
	text := string(defaultPolicy)
	lines, errs := parseText(DefaultPolicyName, text)
	if len(errs) > 0 {
		// The embedded policy is part of the binary; tests keep it valid.
		panic("embedded default policy: " + errs[0].Error())
	}
	f := &Files{Model: defaultModel, ModelName: DefaultModelName, PolicyName: DefaultPolicyName, Lines: lines, Text: text}
	f.Revision = revision(f.Model, defaultPolicy)
	return f
}

// DefaultModel returns the text of the embedded default model.
func DefaultModel() string { return defaultModel }

func revision(model string, data ...[]byte) string {
	h := sha256.New()
	h.Write([]byte(model))
	for _, d := range data {
		h.Write([]byte{0})
		h.Write(d)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// isDefaultModel reports whether text is the default model, or the
// previous default model (without g2), ignoring comments and white space.
func isDefaultModel(text string) bool {
	n := normalizeModel(text)
	return n == normalizeModel(defaultModel) || n == normalizeModel(previousDefaultModel)
}

func normalizeModel(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.Join(strings.Fields(line), "")
		if line != "" {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
