package deploy

import (
	"os"
	"strings"
	"testing"
)

// testOnlyModules are the module path prefixes only tests need: Kubernetes
// and kustomize for this module's checks, chromedp for the e2e module's
// browser tests.
var testOnlyModules = []string{"k8s.io/", "sigs.k8s.io/", "github.com/chromedp/"}

// TestImageDownloadsNoTestOnlyModule: the image's build downloads the root
// module's dependencies before it copies the sources (COPY go.mod go.sum,
// then go mod download), so the root's go.mod and go.sum must name only
// what the binary needs. The modules that only tests use belong to the
// deploy and e2e modules.
func TestImageDownloadsNoTestOnlyModule(t *testing.T) {
	for _, name := range []string{"../go.mod", "../go.sum"} {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			for _, f := range strings.Fields(line) {
				for _, p := range testOnlyModules {
					if strings.HasPrefix(f, p) {
						t.Errorf("%s:%d names %s, which only tests use: require it in the deploy or e2e module", name, i+1, f)
					}
				}
			}
		}
	}

	d, err := parseDockerfile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	builder, _, _, err := d.buildLine()
	if err != nil {
		t.Fatal(err)
	}
	var copied []string
	for _, in := range builder.instrs {
		switch {
		case in.cmd == "COPY":
			copied = append(copied, in.rest)
		case in.cmd == "RUN" && strings.Contains(in.rest, "go mod download"):
			if len(copied) != 1 || copied[0] != "go.mod go.sum ./" {
				t.Errorf("line %d: go mod download after COPY %q; want it after COPY go.mod go.sum ./ alone, the root module's", in.line, copied)
			}
			return
		}
	}
	t.Error("the build stage runs no go mod download")
}
