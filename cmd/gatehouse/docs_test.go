package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestSecurityTableNamesRealTests: every test docs/security.md's table and
// the README's security section point to exists, so neither can promise a
// proof that was renamed or removed.
func TestSecurityTableNamesRealTests(t *testing.T) {
	defined := definedTestFuncs(t, filepath.Join("..", ".."))
	for _, c := range []struct {
		file, heading string
		least         int
	}{
		{filepath.Join("docs", "security.md"), "What is guaranteed, and the tests that prove it", 20},
		{"README.md", "Security: how a request is decided", 10},
	} {
		page, err := os.ReadFile(filepath.Join("..", "..", c.file))
		if err != nil {
			t.Fatal(err)
		}
		_, section, ok := strings.Cut(string(page), "\n## "+c.heading+"\n")
		if !ok {
			t.Fatalf("%s has no section %q", c.file, c.heading)
		}
		section, _, _ = strings.Cut(section, "\n## ")
		names := regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+)`").FindAllStringSubmatch(section, -1)
		if len(names) < c.least {
			t.Fatalf("the security section of %s names %d tests", c.file, len(names))
		}
		for _, m := range names {
			if !defined[m[1]] {
				t.Errorf("%s names %s, which no test defines", c.file, m[1])
			}
		}
	}
}

// shellRunBy says, for each command the README and docs show in sh blocks
// (not run by TestDocs), what runs it: a test or test helper of this
// repository, ".ci/run", or, for the commands that need a Kubernetes
// cluster, a registry or a ZenML install, "not run: …" with what checks
// their inputs instead.
var shellRunBy = []struct{ command, runBy string }{
	{"go run ./cmd/gatehouse demo", "TestDemo"},
	{"go run ./cmd/gatehouse demo --listen 127.0.0.1:0 --ops-listen 127.0.0.1:0", "startDemo"},
	{"go run ./cmd/gatehouse demo --preset zenml", "TestDemoZenMLPreset"},
	{"export ADMIN_PASSWORD=…", "TestDocs"},
	{"go install ./cmd/gatehouse", "testkit.Binary"},
	{"GATEHOUSE_ADMIN_PASSWORD='choose a long passphrase' go run ./cmd/gatehouse serve --upstream http://127.0.0.1:8237", "TestServeEndToEnd"},
	{"GATEHOUSE_ADMIN_PASSWORD=… gatehouse serve --preset zenml --upstream http://127.0.0.1:8237", "TestZenMLClientThroughPreset"},
	{"gatehouse serve --oidc-issuer", "not run: needs an identity provider; TestServeIdPTokens runs serve with --oidc-issuer against a test provider"},
	{"gatehouse policy export --policy-dir policy/ --db sqlite:gatehouse.db -o policy/policy.csv", "TestPolicyExportToFile"},
	{"gatehouse policy diff --base origin/main policy/ -o markdown", "TestPolicyDiffBase"},
	{"kubectl exec deploy/zenml -c gatehouse -- gatehouse policy export > export.csv", "not run: needs a cluster; TestPolicyExport checks what export prints"},
	{"make test", ".ci/run"},
	{"(cd deploy && go test ./...)", ".ci/run"},
	{"zenml connect --url", "not run: needs ZenML's client; TestZenMLClientThroughPreset replays its exchange"},
	{"zenml connect --url https://gatehouse.example.com --username ci-bot", "not run: needs ZenML's client; TestAPIKeyZenMLClientLogin posts its login form, the account's name and the key as the password"},
	{"zenml stack list", "not run: needs ZenML's client; TestZenMLClientThroughPreset replays its exchange"},
	{"export ZENML_STORE_URL=", "not run: needs ZenML's client; TestAPIKeyZenMLClientLogin replays its API-key login"},
	{"export MLFLOW_TRACKING_", "not run: needs MLflow's client; TestServiceAccountKeyCredentials sends its Basic header"},
	{"docker build", "not run: needs Docker; TestDockerfileBuildLine runs the Dockerfile's go build line"},
	{"docker push", "not run: needs a registry"},
	{"cd deploy/kubernetes/base", "not run: part of kustomize edit below"},
	{"kustomize edit set image", "not run: changes the checkout; TestKustomize renders the images it names"},
	{"kubectl kustomize deploy/kubernetes", "not run: needs kubectl; TestKustomize renders the same kustomization with kustomize's library"},
	{"kubectl create secret", "not run: needs a cluster"},
	{"kubectl get secret", "not run: needs a cluster"},
	{"kubectl create configmap", "not run: needs a cluster; TestKustomize checks the ConfigMap the manifests generate"},
	{"kubectl apply", "not run: needs a cluster; TestKustomize checks what it would apply"},
	{"kubectl rollout status", "not run: needs a cluster"},
	{"kubectl port-forward", "not run: needs a cluster"},
}

// shellCommands returns the commands of the sh blocks of a page, a line
// continued with \ joined to the next, comments dropped.
func shellCommands(page string) []string {
	var cmds []string
	in, cont := false, false
	for _, line := range strings.Split(page, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "```sh":
			in = true
			continue
		case in && trimmed == "```":
			in = false
			continue
		case !in:
			continue
		}
		if i := strings.Index(trimmed, "  #"); i >= 0 {
			trimmed = strings.TrimSpace(trimmed[:i])
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cont {
			cmds[len(cmds)-1] += " " + strings.TrimSuffix(trimmed, "\\")
		} else {
			cmds = append(cmds, strings.TrimSuffix(trimmed, "\\"))
		}
		cont = strings.HasSuffix(trimmed, "\\")
	}
	return cmds
}

// TestDocsCommandsAreRun: every command the README and docs show outside
// the console blocks (which TestDocs runs) is in shellRunBy, and every
// test or helper named there exists.
func TestDocsCommandsAreRun(t *testing.T) {
	root := filepath.Join("..", "..")
	pages, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, filepath.Join(root, "README.md"))
	defined := definedTestFuncs(t, root)
	used := map[string]bool{}
	for _, p := range pages {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range shellCommands(string(data)) {
			best := ""
			for _, r := range shellRunBy {
				if strings.HasPrefix(cmd, r.command) && len(r.command) > len(best) {
					best = r.command
				}
			}
			if best != "" {
				used[best] = true
				continue
			}
			t.Errorf("%s shows %q, which no test runs: add a console block TestDocs runs, or an entry to shellRunBy", p, cmd)
		}
	}
	for _, r := range shellRunBy {
		if !used[r.command] {
			t.Errorf("shellRunBy lists %q, which no page shows", r.command)
		}
		name := strings.Fields(r.runBy)[0]
		if strings.HasPrefix(r.runBy, "not run: ") || name == ".ci/run" {
			for _, m := range regexp.MustCompile(`Test[A-Za-z0-9_]+`).FindAllString(r.runBy, -1) {
				if !defined[m] {
					t.Errorf("shellRunBy: %q names %s, which no test defines", r.command, m)
				}
			}
			continue
		}
		if !defined[name] {
			t.Errorf("shellRunBy: %q is run by %s, which no test file defines", r.command, name)
		}
	}
}

// definedTestFuncs lists the functions the repository's test files define,
// and those of the shared test helpers in internal/testkit as
// testkit.Name.
func definedTestFuncs(t *testing.T, root string) map[string]bool {
	t.Helper()
	defined := map[string]bool{}
	def := regexp.MustCompile(`(?m)^func ([A-Za-z0-9_]+)\(`)
	kit := filepath.Join(root, "internal", "testkit")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		prefix := ""
		if filepath.Dir(path) == kit {
			prefix = "testkit."
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || prefix == "" && !strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		for _, m := range def.FindAllStringSubmatch(string(src), -1) {
			defined[prefix+m[1]] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return defined
}

// TestFlagTableIsCurrent: docs/operations.md's table lists every flag of
// serve, each with its environment twin and default, and no other.
func TestFlagTableIsCurrent(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `--([a-z-]+)` \\| `([A-Z_]+)` \\| ([^|]+) \\|")
	documented := map[string]bool{}
	serve := (&app{env: func(string) string { return "" }}).serveCmd()
	for _, m := range row.FindAllStringSubmatch(string(page), -1) {
		name, env, def := m[1], m[2], strings.TrimSpace(m[3])
		documented[name] = true
		f := serve.Flags().Lookup(name)
		if f == nil {
			t.Errorf("docs/operations.md lists --%s, which serve does not have", name)
			continue
		}
		if want := "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")); env != want {
			t.Errorf("--%s: the table says %s, the twin is %s", name, env, want)
		}
		// A list's default is shown as pflag prints it, "[a,b]", or as a
		// comma list.
		defValue := strings.TrimSuffix(strings.TrimPrefix(f.DefValue, "["), "]")
		if defValue != "" && !strings.Contains(def, "`"+defValue+"`") && !sameDuration(def, f.DefValue) {
			t.Errorf("--%s: the table's default is %s, serve's is %q", name, def, f.DefValue)
		}
	}
	serve.Flags().VisitAll(func(f *pflag.Flag) {
		if !documented[f.Name] && f.Name != "help" {
			t.Errorf("serve --%s is not in docs/operations.md's table", f.Name)
		}
	})
}

// sameDuration reports whether a table's default, `1h`, is the duration
// a flag prints as 1h0m0s.
func sameDuration(cell, value string) bool {
	a, err1 := time.ParseDuration(strings.Trim(cell, "`"))
	b, err2 := time.ParseDuration(value)
	return err1 == nil && err2 == nil && a == b
}

// TestSSOFlagTableIsCurrent: docs/sso.md's table lists every flag of
// single sign-on (--oidc-*, --sso-only, --session-max-age) with serve's
// default, and no flag serve does not have.
func TestSSOFlagTableIsCurrent(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("..", "..", "docs", "sso.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `--([a-z-]+)` \\| ([^|]+) \\|")
	documented := map[string]bool{}
	serve := (&app{env: func(string) string { return "" }}).serveCmd()
	for _, m := range row.FindAllStringSubmatch(string(page), -1) {
		name, def := m[1], strings.TrimSpace(m[2])
		documented[name] = true
		f := serve.Flags().Lookup(name)
		if f == nil {
			t.Errorf("docs/sso.md lists --%s, which serve does not have", name)
			continue
		}
		defValue := strings.TrimSuffix(strings.TrimPrefix(f.DefValue, "["), "]")
		if defValue != "" && !strings.Contains(def, "`"+defValue+"`") && !sameDuration(def, f.DefValue) {
			t.Errorf("--%s: docs/sso.md's default is %s, serve's is %q", name, def, f.DefValue)
		}
	}
	serve.Flags().VisitAll(func(f *pflag.Flag) {
		sso := strings.HasPrefix(f.Name, "oidc-") || f.Name == "sso-only" || f.Name == "session-max-age"
		if sso && !documented[f.Name] {
			t.Errorf("serve --%s is not in docs/sso.md's table", f.Name)
		}
	})
}
