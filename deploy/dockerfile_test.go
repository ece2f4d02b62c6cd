package deploy

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const dockerfilePath = "../Dockerfile"

var (
	// digestRE is a pinned content digest.
	digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// golangRE is the official Go image at a full release, e.g.
	// golang:1.26.8-bookworm.
	golangRE = regexp.MustCompile(`^golang:(\d+)\.(\d+)\.(\d+)(-[a-z0-9.]+)?$`)
)

// imageRef splits IMAGE[:TAG][@DIGEST]; the tag is what follows the last
// ':' after the last '/', so a registry port is not taken for one.
func imageRef(ref string) (name, tag, digest string) {
	name, digest, _ = strings.Cut(ref, "@")
	if colon := strings.LastIndex(name, ":"); colon > strings.LastIndex(name, "/") {
		name, tag = name[:colon], name[colon+1:]
	}
	return name, tag, digest
}

// TestDockerfile checks the Dockerfile's invariants: bases pinned, a
// static, trimmed build that stamps the version, a distroless final stage
// running as 65532:65532, the two ports, and the binary the final stage
// runs is the one the build makes.
func TestDockerfile(t *testing.T) {
	d, err := parseDockerfile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	stageNames := map[string]bool{}
	for _, s := range d.stages {
		if !stageNames[s.image] { // FROM an earlier stage pins nothing
			name, tag, digest := imageRef(s.image)
			if tag == "" || tag == "latest" {
				t.Errorf("FROM %s: pin a tag other than latest", s.image)
			}
			if digest != "" && !digestRE.MatchString(digest) {
				t.Errorf("FROM %s: malformed digest", s.image)
			}
			if name == "" {
				t.Errorf("FROM %s: no image name", s.image)
			}
		}
		if s.name != "" {
			stageNames[s.name] = true
		}
	}

	builder, run, cmdline, err := d.buildLine()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("builder", func(t *testing.T) {
		m := golangRE.FindStringSubmatch(builder.image)
		if m == nil {
			t.Fatalf("builder FROM %s: want golang:MAJOR.MINOR.PATCH[-VARIANT]", builder.image)
		}
		want := goModVersion(t)
		got := []int{atoi(m[1]), atoi(m[2]), atoi(m[3])}
		if slices.Compare(got, want) < 0 {
			t.Errorf("builder Go %v is older than go.mod's go %v", got, want)
		}
	})

	var g *goBuild
	t.Run("build line", func(t *testing.T) {
		if !strings.Contains(run.rest, "-X main.version=${VERSION}") {
			t.Errorf("line %d: want -ldflags with -X main.version=${VERSION}", run.line)
		}
		if !slices.ContainsFunc(builder.all("ARG"), func(in instruction) bool {
			return in.line < run.line && (in.rest == "VERSION" || strings.HasPrefix(in.rest, "VERSION="))
		}) {
			t.Errorf("no ARG VERSION in the build stage before line %d", run.line)
		}
		words, err := shellWords(cmdline, map[string]string{"VERSION": "v1.2.3"})
		if err != nil {
			t.Fatal(err)
		}
		if g, err = parseGoBuild(words); err != nil {
			t.Fatal(err)
		}
		checkBuildFlags(t, g)
	})

	final := d.stages[len(d.stages)-1]
	t.Run("final stage", func(t *testing.T) {
		name, _, _ := imageRef(final.image)
		if !strings.HasPrefix(name, "gcr.io/distroless/static") && final.image != "scratch" {
			t.Errorf("final FROM %s: want distroless static (CA certificates, no shell) or scratch", final.image)
		}
		users := final.all("USER")
		if len(users) == 0 || users[len(users)-1].rest != "65532:65532" {
			t.Errorf("final stage USER %v: want 65532:65532, numeric so that runAsNonRoot can be checked", users)
		}
		var ports []string
		for _, in := range final.all("EXPOSE") {
			for _, p := range strings.Fields(in.rest) {
				ports = append(ports, strings.TrimSuffix(p, "/tcp"))
			}
		}
		slices.Sort(ports)
		if !slices.Equal(ports, []string{"8080", "9090"}) {
			t.Errorf("EXPOSE %v: want 8080 (data plane) and 9090 (ops)", ports)
		}
		checkExec(t, final, "ENTRYPOINT", []string{"/gatehouse"})
		checkExec(t, final, "CMD", []string{"serve"})
		if g == nil {
			return
		}
		copied := false
		for _, in := range final.all("COPY") {
			copied = copied || in.rest == "--from="+builder.name+" "+g.output+" /gatehouse"
		}
		if !copied {
			t.Errorf("final stage: want COPY --from=%s %s /gatehouse (the binary the build line makes)", builder.name, g.output)
		}
	})
}

// checkBuildFlags checks a go build line: static, trimmed, stripped, the
// version stamped, the gatehouse command.
func checkBuildFlags(t *testing.T, g *goBuild) {
	t.Helper()
	if !slices.Contains(g.env, "CGO_ENABLED=0") {
		t.Errorf("env %q: want CGO_ENABLED=0 (a static binary)", g.env)
	}
	if !slices.Contains(g.args, "-trimpath") {
		t.Errorf("%q: want -trimpath", g.args)
	}
	ld, _ := flagValue(g.args, "-ldflags")
	for _, f := range []string{"-s", "-w", "-X"} {
		if !slices.Contains(strings.Fields(ld), f) {
			t.Errorf("-ldflags %q: want %s", ld, f)
		}
	}
	if !strings.Contains(ld, "-X main.version=") {
		t.Errorf("-ldflags %q: want -X main.version=…", ld)
	}
	if g.output == "" {
		t.Errorf("%q: want -o", g.args)
	}
	if last := g.args[len(g.args)-1]; last != "./cmd/gatehouse" {
		t.Errorf("builds %s: want ./cmd/gatehouse", last)
	}
}

// checkExec wants the stage's last cmd instruction in exec (JSON) form,
// equal to want.
func checkExec(t *testing.T, s *stage, cmd string, want []string) {
	t.Helper()
	ins := s.all(cmd)
	if len(ins) == 0 {
		t.Errorf("final stage: no %s", cmd)
		return
	}
	var got []string
	if err := json.Unmarshal([]byte(ins[len(ins)-1].rest), &got); err != nil || !slices.Equal(got, want) {
		t.Errorf("%s %s: want the exec form %q", cmd, ins[len(ins)-1].rest, want)
	}
}

// goModVersion is go.mod's go line as [major, minor, patch].
func goModVersion(t *testing.T) []int {
	t.Helper()
	data, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+)\.(\d+)(?:\.(\d+))?\s*$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return []int{atoi(string(m[1])), atoi(string(m[2])), atoi(string(m[3]))}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// TestDockerfileBuildLine runs the Dockerfile's go build line (with the
// output in a temporary directory instead of /out) from the module root,
// as the image build would, and checks what it makes: a static, stripped
// binary without build paths that prints the stamped version and listens
// by default on the ports the image exposes.
func TestDockerfileBuildLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	d, err := parseDockerfile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	_, _, cmdline, err := d.buildLine()
	if err != nil {
		t.Fatal(err)
	}
	const version = "v0.0.0-dockerfile-test"
	words, err := shellWords(cmdline, map[string]string{"VERSION": version})
	if err != nil {
		t.Fatal(err)
	}
	g, err := parseGoBuild(words)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	build := exec.Command("go", g.withOutput(bin)...)
	build.Dir = root
	build.Env = append(os.Environ(), g.env...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(g.withOutput(bin), " "), err, out)
	}

	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("gatehouse version: %v", err)
	}
	if got, want := string(out), "gatehouse "+version+"\n"; got != want {
		t.Errorf("gatehouse version printed %q, want %q", got, want)
	}

	help, err := exec.Command(bin, "serve", "--help").Output()
	if err != nil {
		t.Fatalf("gatehouse serve --help: %v", err)
	}
	for flag, port := range map[string]string{"--listen": "8080", "--ops-listen": "9090"} {
		re := regexp.MustCompile(regexp.QuoteMeta(flag) + ` string .*\(default ":` + port + `"\)`)
		if !re.Match(help) {
			t.Errorf("serve %s does not default to :%s, the port the image exposes", flag, port)
		}
	}

	checkStatic(t, bin, root)
}

// checkStatic wants an ELF binary with no interpreter or shared
// libraries (CGO_ENABLED=0), no symbol table or DWARF (-s -w) and no
// build directory in it (-trimpath).
func checkStatic(t *testing.T, bin, root string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%v): want CGO_ENABLED=0", p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs %v", libs)
	}
	for _, name := range []string{".symtab", ".debug_info", ".zdebug_info"} {
		if f.Section(name) != nil {
			t.Errorf("the binary has %s: want it stripped (-s -w)", name)
		}
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(root)) {
		t.Errorf("the binary contains the build directory %s: want -trimpath", root)
	}
}

// TestMakeBuildMatchesDockerfile: `make build` runs the Dockerfile's go
// build line (only the output path differs), so a local or CI build is
// the image's build.
func TestMakeBuildMatchesDockerfile(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	d, err := parseDockerfile(dockerfilePath)
	if err != nil {
		t.Fatal(err)
	}
	_, _, cmdline, err := d.buildLine()
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"VERSION": "v1.2.3"}
	words, err := shellWords(cmdline, vars)
	if err != nil {
		t.Fatal(err)
	}
	docker, err := parseGoBuild(words)
	if err != nil {
		t.Fatal(err)
	}
	mk := exec.Command("make", "-n", "build", "VERSION=v1.2.3", "GO=go")
	mk.Dir = ".."
	out, err := mk.Output()
	if err != nil {
		t.Fatalf("make -n build: %v", err)
	}
	var recipe string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "go build") {
			recipe = l
		}
	}
	words, err = shellWords(recipe, vars)
	if err != nil {
		t.Fatalf("make build runs %q: %v", recipe, err)
	}
	makeBuild, err := parseGoBuild(words)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(makeBuild.env, docker.env) || !slices.Equal(makeBuild.withOutput("OUT"), docker.withOutput("OUT")) {
		t.Errorf("make build runs\n\t%s\nthe Dockerfile\n\t%s", recipe, cmdline)
	}
}

// TestShellWords pins the splitter the build tests rely on.
func TestShellWords(t *testing.T) {
	vars := map[string]string{"VERSION": "v1", "GO": "go"}
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`CGO_ENABLED=0 go build -ldflags "-s -w -X main.version=${VERSION}" ./x`, []string{"CGO_ENABLED=0", "go", "build", "-ldflags", "-s -w -X main.version=v1", "./x"}},
		{`a 'b $c' "d\"e" $GO\ x`, []string{"a", "b $c", `d"e`, "go x"}},
		{`  x  `, []string{"x"}},
	} {
		got, err := shellWords(tc.in, vars)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("shellWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`go build ${VERSON}`, `a "b`, `a && b`, `x; y`} {
		if got, err := shellWords(bad, vars); err == nil {
			t.Errorf("shellWords(%q) = %q, want an error", bad, got)
		}
	}
}
