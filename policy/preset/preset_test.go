package preset_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/policy/preset"
	"github.com/gatehouse-dev/gatehouse/proxy"
)

// TestPresetPoliciesPass validates each preset's embedded policy and runs
// its tests.yaml, as `gatehouse policy validate` and `policy test` do.
func TestPresetPoliciesPass(t *testing.T) {
	for _, name := range preset.Names() {
		t.Run(name, func(t *testing.T) {
			p, err := preset.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			dir := "preset/" + name
			if problems := policy.ValidateDir(p.Policy, dir); len(problems) > 0 {
				t.Fatalf("policy problems: %v", problems)
			}
			files, err := policy.LoadDir(p.Policy, dir)
			if err != nil {
				t.Fatal(err)
			}
			suite, err := policy.LoadSuite(p.Policy, dir)
			if err != nil {
				t.Fatal(err)
			}
			results, err := suite.Run(files, proxy.Canonicalize)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) < 20 {
				t.Errorf("only %d test cases in %s/tests.yaml", len(results), dir)
			}
			for _, r := range results {
				if !r.Passed() {
					t.Errorf("FAIL %v", r)
				}
			}
			if p.LoginPath != "" && !strings.HasPrefix(p.LoginPath, "/") {
				t.Errorf("login path %q is not absolute", p.LoginPath)
			}
		})
	}
}

func TestLookupUnknownNamesTheKnownOnes(t *testing.T) {
	_, err := preset.Lookup("mlfow")
	if err == nil || !strings.Contains(err.Error(), `unknown preset "mlfow"`) || !strings.Contains(err.Error(), "zenml") {
		t.Fatalf("Lookup(mlfow) = %v", err)
	}
}
