package policy

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/casbin/casbin/v2"

	"github.com/gatehouse-dev/gatehouse/internal/testkit"
)

var updateExamples = flag.Bool("update-examples", false, "rewrite docs/casbin-examples.md from the walk over Casbin's examples")

// casbinExamplePolicies pairs each model of Casbin's examples directory
// with the policy file Casbin's own tests use it with ("" for none).
var casbinExamplePolicies = map[string]string{
	"abac_model.conf":                               "",
	"abac_not_using_policy_model.conf":              "",
	"abac_rule_model.conf":                          "abac_rule_policy.csv",
	"basic_model.conf":                              "basic_policy.csv",
	"basic_model_without_spaces.conf":               "basic_policy.csv",
	"basic_with_root_model.conf":                    "basic_policy.csv",
	"basic_without_resources_model.conf":            "basic_without_resources_policy.csv",
	"basic_without_users_model.conf":                "basic_without_users_policy.csv",
	"biba_model.conf":                               "",
	"blp_model.conf":                                "",
	"comment_model.conf":                            "basic_policy.csv",
	"eval_operator_model.conf":                      "eval_operator_policy.csv",
	"glob_model.conf":                               "glob_policy.csv",
	"ipmatch_model.conf":                            "ipmatch_policy.csv",
	"keyget2_model.conf":                            "keymatch_policy.csv",
	"keyget_model.conf":                             "keymatch_policy.csv",
	"keymatch2_model.conf":                          "keymatch2_policy.csv",
	"keymatch_custom_model.conf":                    "keymatch2_policy.csv",
	"keymatch_model.conf":                           "keymatch_policy.csv",
	"keymatch_with_rbac_in_domain.conf":             "keymatch_with_rbac_in_domain.csv",
	"lbac_model.conf":                               "",
	"multiple_policy_definitions_model.conf":        "multiple_policy_definitions_policy.csv",
	"object_conditions_model.conf":                  "object_conditions_policy.csv",
	"orbac_model.conf":                              "orbac_policy.csv",
	"pbac_model.conf":                               "pbac_policy.csv",
	"priority_model.conf":                           "priority_policy.csv",
	"priority_model_enforce_context.conf":           "priority_policy_enforce_context.csv",
	"priority_model_explicit.conf":                  "priority_policy_explicit.csv",
	"priority_model_explicit_customized.conf":       "priority_policy_explicit_customized.csv",
	"rbac_model.conf":                               "rbac_policy.csv",
	"rbac_model_in_multi_line.conf":                 "rbac_policy.csv",
	"rbac_model_matcher_using_in_op.conf":           "rbac_policy.csv",
	"rbac_model_matcher_using_in_op_bracket.conf":   "rbac_policy.csv",
	"rbac_with_all_pattern_model.conf":              "rbac_with_all_pattern_policy.csv",
	"rbac_with_deny_model.conf":                     "rbac_with_deny_policy.csv",
	"rbac_with_different_types_of_roles_model.conf": "rbac_with_different_types_of_roles_policy.csv",
	"rbac_with_domain_pattern_model.conf":           "rbac_with_domain_pattern_policy.csv",
	"rbac_with_domain_temporal_roles_model.conf":    "rbac_with_domain_temporal_roles_policy.csv",
	"rbac_with_domains_conditional_model.conf":      "rbac_with_domains_conditional_policy.csv",
	"rbac_with_domains_model.conf":                  "rbac_with_domains_policy.csv",
	"rbac_with_multiple_policy_model.conf":          "rbac_with_multiple_policy_policy.csv",
	"rbac_with_not_deny_model.conf":                 "rbac_with_deny_policy.csv",
	"rbac_with_pattern_model.conf":                  "rbac_with_pattern_policy.csv",
	"rbac_with_resource_roles_model.conf":           "rbac_with_resource_roles_policy.csv",
	"rbac_with_temporal_roles_model.conf":           "rbac_with_temporal_roles_policy.csv",
	"rebac_model.conf":                              "rebac_policy.csv",
	"subject_priority_model.conf":                   "subject_priority_policy.csv",
	"subject_priority_model_with_domain.conf":       "subject_priority_policy_with_domain.csv",
	"syntax_matcher_model.conf":                     "",
}

// casbinExamplesDir is the examples directory of the pinned Casbin module.
func casbinExamplesDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/casbin/casbin/v2").Output()
	if err != nil {
		t.Fatalf("finding the Casbin module: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "examples")
}

// TestCasbinExamplesWalk loads every model of Casbin's examples directory
// with its policy, as a policy directory would hold them (adapted: a
// model with roles gets the lines that keep admin's permissions). Each is
// either decided as Casbin decides it, on requests drawn from the values
// of its policy, or refused with one line saying why. The outcome of each
// is docs/casbin-examples.md (rewritten by -update-examples).
func TestCasbinExamplesWalk(t *testing.T) {
	dir := casbinExamplesDir(t)
	models, err := filepath.Glob(filepath.Join(dir, "*.conf"))
	if err != nil || len(models) < 40 {
		t.Fatalf("%d models in %s: %v", len(models), dir, err)
	}
	var table strings.Builder
	decided := 0
	for _, path := range models {
		name := filepath.Base(path)
		policyName, known := casbinExamplePolicies[name]
		if !known {
			t.Errorf("%s: no policy paired with it in casbinExamplePolicies", name)
			continue
		}
		outcome, n := walkExample(t, dir, name, policyName)
		if n > 0 {
			decided++
		}
		fmt.Fprintf(&table, "| `%s` | %s | %s |\n", name, orNone(policyName), outcome)
	}
	if decided < 20 {
		t.Errorf("only %d examples are decided", decided)
	}
	checkExamplesDoc(t, table.String())
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return "`" + s + "`"
}

// walkExample decides one example both ways and returns its outcome for
// the docs and the number of requests compared (0 when refused).
func walkExample(t *testing.T, dir, modelName, policyName string) (string, int) {
	t.Helper()
	modelText, err := os.ReadFile(filepath.Join(dir, modelName))
	if err != nil {
		t.Fatal(err)
	}
	var policy []byte
	if policyName != "" {
		if policy, err = os.ReadFile(filepath.Join(dir, policyName)); err != nil {
			t.Fatal(err)
		}
	}
	adapted := string(policy)
	if strings.Contains(string(modelText), "[role_definition]") {
		adapted = strings.TrimRight(adapted, "\n") + "\n" + adminLines
	}
	lines, errs := ParseCSV(policyName, []byte(adapted))
	var loadErr error
	if len(errs) > 0 {
		loadErr = errs[0]
	} else {
		_, loadErr = New(context.Background(), nil, &Files{Model: string(modelText), ModelName: modelName, PolicyName: policyName, Lines: lines}, nil)
	}
	if loadErr != nil {
		msg := loadErr.Error()
		if strings.Contains(msg, "\n") {
			if first, _, _ := strings.Cut(msg, "\n"); !strings.Contains(first, ":") {
				t.Errorf("%s: refused with more than one line:\n%s", modelName, msg)
			}
		}
		first, _, _ := strings.Cut(msg, "\n")
		return "refused: " + strings.ReplaceAll(first, "|", `\|`), 0
	}
	e := loadEngine(t, string(modelText), adapted)
	o := exampleOracle(t, string(modelText), adapted)
	values := exampleValues(lines)
	rng := rand.New(rand.NewPCG(uint64(len(modelName)), 1))
	n, failed := 0, 0
	for i := 0; i < 600; i++ {
		sub, obj, act := values[rng.IntN(len(values))], values[rng.IntN(len(values))], values[rng.IntN(len(values))]
		got, gerr := e.Decide(sub, "", sub, act, obj)
		want, werr := o.try(sub, act, obj)
		switch {
		case (gerr != nil) != (werr != nil):
			t.Errorf("%s: %s, %s, %s: Gatehouse %v (%v), Casbin %v (%v)", modelName, sub, obj, act, got.Allowed, gerr, want, werr)
		case gerr != nil:
			failed++ // both fail: Gatehouse answers 503
		case got.Allowed != want:
			t.Errorf("%s: %s, %s, %s: Gatehouse %v, Casbin %v", modelName, sub, obj, act, got.Allowed, want)
		}
		n++
	}
	if failed > 0 {
		return fmt.Sprintf("decided as Casbin decides (%d requests compared; on %d Casbin's matcher fails on a string request, and Gatehouse fails closed)", n, failed), n
	}
	return fmt.Sprintf("decided as Casbin decides (%d requests compared)", n), n
}

// exampleOracle is Casbin's enforcer on an example's model and adapted
// policy, read by its file adapter.
func exampleOracle(t *testing.T, model, policy string) *oracle {
	t.Helper()
	d := t.TempDir()
	mf, pf := filepath.Join(d, "model.conf"), filepath.Join(d, "policy.csv")
	testkit.WriteFile(t, mf, model)
	testkit.WriteFile(t, pf, policy)
	enf, err := casbin.NewEnforcer(mf, pf)
	if err != nil {
		t.Fatalf("Casbin: %v", err)
	}
	registerFunctions(enf, func(n string) string { return n })
	return &oracle{enf: enf, custom: !isDefaultModel(model)}
}

// exampleValues are the requests' parts: every value of the policy, the
// public subject and a few that match nothing.
func exampleValues(lines []Line) []string {
	vs := []string{Public, "nobody", "/nowhere", "GET"}
	for _, l := range lines {
		for _, f := range l.Fields {
			if !slices.Contains(vs, f) {
				vs = append(vs, f)
			}
		}
	}
	return vs
}

// checkExamplesDoc compares the outcome table with docs/casbin-examples.md.
func checkExamplesDoc(t *testing.T, table string) {
	t.Helper()
	path := filepath.Join("..", "docs", "casbin-examples.md")
	doc, err := os.ReadFile(path)
	if err != nil && !*updateExamples {
		t.Fatalf("%v (go test ./policy -run TestCasbinExamplesWalk -update-examples writes it)", err)
	}
	const start, end = "<!-- walk: start -->\n", "<!-- walk: end -->\n"
	before, rest, ok1 := strings.Cut(string(doc), start)
	_, after, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		before, after = examplesDocHead, ""
	}
	want := before + start + "| model | policy | outcome |\n|---|---|---|\n" + table + end + after
	if *updateExamples {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if string(doc) != want {
		t.Errorf("docs/casbin-examples.md is not what the walk finds; rerun with -update-examples and review the diff")
	}
}

const examplesDocHead = `# Casbin's example models

Generated by TestCasbinExamplesWalk.

`
