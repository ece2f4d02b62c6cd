package deploy

import (
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// variant is one kustomization users build, with the checks that hold for
// it beyond the invariants.
type variant struct {
	dir    string // relative to this package
	checks []check
}

var (
	sqliteVariant = variant{"kubernetes", []check{{"SQLite: one replica on a volume", checkSQLite}}}
	pgVariant     = variant{"kubernetes/overlays/postgres", []check{{"PostgreSQL: several replicas, DSN from the Secret", checkPostgres}}}
	ssoVariant    = variant{"kubernetes/overlays/sso", []check{
		{"PostgreSQL: several replicas, DSN from the Secret", checkPostgres},
		{"single sign-on: https, client secret from a Secret", checkSSO},
	}}
)

// problems runs every check of v on a rendering.
func (v variant) problems(r *rendering) []string {
	p, err := r.pod()
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, c := range append(append([]check(nil), invariants...), v.checks...) {
		for _, msg := range c.fn(r, p) {
			out = append(out, c.name+": "+msg)
		}
	}
	return out
}

// TestKustomize renders deploy/kubernetes and the PostgreSQL overlay from
// the working tree, as `kustomize build` does, and checks them.
func TestKustomize(t *testing.T) {
	for _, v := range []variant{sqliteVariant, pgVariant, ssoVariant} {
		t.Run(v.dir, func(t *testing.T) {
			r, err := render(filesys.MakeFsOnDisk(), v.dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, msg := range v.problems(r) {
				t.Error(msg)
			}
		})
	}
}

// checkSQLite: the default keeps the store in SQLite on a
// PersistentVolumeClaim (the root filesystem is read-only), and so runs
// one replica, replaced with Recreate.
func checkSQLite(r *rendering, p *pod) []string {
	var errs []string
	if p.deploy.Spec.Replicas == nil || *p.deploy.Spec.Replicas != 1 {
		errs = append(errs, "SQLite allows one replica only")
	}
	if s := p.deploy.Spec.Strategy; s.Type != appsv1.RecreateDeploymentStrategyType || s.RollingUpdate != nil {
		errs = append(errs, fmt.Sprintf("strategy %s: want Recreate, so that two pods never open the store", s.Type))
	}
	db := env(p.gatehouse, "GATEHOUSE_DB")
	file, ok := "", false
	if db != nil {
		file, ok = strings.CutPrefix(db.Value, "sqlite:")
	}
	if !ok || !path.IsAbs(file) {
		return append(errs, "GATEHOUSE_DB: want sqlite:/ABSOLUTE/PATH (the working directory is read-only)")
	}
	for _, m := range p.gatehouse.VolumeMounts {
		if path.Clean(m.MountPath) != path.Dir(file) {
			continue
		}
		v := p.volume(m.Name)
		if m.ReadOnly || v == nil || v.PersistentVolumeClaim == nil {
			return append(errs, fmt.Sprintf("%s is not a writable PersistentVolumeClaim mount", m.MountPath))
		}
		for _, pvc := range r.pvcs {
			if pvc.Name == v.PersistentVolumeClaim.ClaimName {
				return errs
			}
		}
		return append(errs, fmt.Sprintf("PersistentVolumeClaim %s is not rendered", v.PersistentVolumeClaim.ClaimName))
	}
	return append(errs, fmt.Sprintf("no volume is mounted at %s, the SQLite store's directory", path.Dir(file)))
}

// checkPostgres: the overlay runs several replicas on the database the
// Secret names, keeps nothing in the pod, rolls one pod at a time and
// keeps one available through drains.
func checkPostgres(r *rendering, p *pod) []string {
	var errs []string
	if p.deploy.Spec.Replicas == nil || *p.deploy.Spec.Replicas < 2 {
		errs = append(errs, "want at least 2 replicas")
	}
	db := env(p.gatehouse, "GATEHOUSE_DB")
	if db == nil || db.ValueFrom == nil || db.ValueFrom.SecretKeyRef == nil {
		errs = append(errs, "GATEHOUSE_DB: want the postgres:// DSN from a secretKeyRef")
	}
	if len(r.pvcs) > 0 {
		errs = append(errs, "a PersistentVolumeClaim is rendered: nothing in the pod keeps state")
	}
	for _, v := range p.spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			errs = append(errs, "volume "+v.Name+" is a PersistentVolumeClaim")
		}
	}
	s := p.deploy.Spec.Strategy
	if s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil ||
		s.RollingUpdate.MaxUnavailable == nil || s.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		errs = append(errs, "strategy: want RollingUpdate with maxUnavailable 0")
	}
	if store := env(p.upstream, "ZENML_STORE_URL"); store == nil || store.ValueFrom == nil || store.ValueFrom.SecretKeyRef == nil {
		errs = append(errs, "the pipeline server replicas need a shared store too: ZENML_STORE_URL from a Secret")
	}
	if len(r.pdbs) == 1 {
		pdb := r.pdbs[0].Spec
		if pdb.MinAvailable == nil || pdb.MinAvailable.IntValue() != 1 || pdb.MaxUnavailable != nil {
			errs = append(errs, "PodDisruptionBudget: want minAvailable 1")
		}
	}
	return errs
}

// setting returns a literal setting of gatehouse serve: the flag --name
// in the container's args, else the value of its environment twin.
func setting(c *corev1.Container, name string) string {
	if v, ok := flagValue(c.Args, "--"+name); ok {
		return v
	}
	if e := env(c, "GATEHOUSE_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); e != nil {
		return e.Value
	}
	return ""
}

// checkSSO: the SSO overlay turns single sign-on on with an https issuer
// and an https public URL (the redirect URI is derived from it, and the
// session cookie is Secure only over https), and takes the client secret
// from a Secret: GATEHOUSE_OIDC_CLIENT_SECRET from a secretKeyRef, or
// --oidc-client-secret-file in a read-only mount of a Secret volume.
func checkSSO(_ *rendering, p *pod) []string {
	var errs []string
	c := p.gatehouse
	if u, err := url.Parse(setting(c, "oidc-issuer")); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Sprintf("issuer %q: want an https:// URL", setting(c, "oidc-issuer")))
	}
	if setting(c, "oidc-client-id") == "" {
		errs = append(errs, "no --oidc-client-id")
	}
	if u, err := url.Parse(setting(c, "public-url")); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Sprintf("public URL %q: want https://, or the session cookie is not Secure", setting(c, "public-url")))
	}
	fromEnv := env(c, "GATEHOUSE_OIDC_CLIENT_SECRET")
	file := setting(c, "oidc-client-secret-file")
	switch {
	case fromEnv != nil && file != "":
		errs = append(errs, "client secret: both GATEHOUSE_OIDC_CLIENT_SECRET and --oidc-client-secret-file (serve refuses both)")
	case fromEnv != nil:
		if fromEnv.Value != "" || fromEnv.ValueFrom == nil || fromEnv.ValueFrom.SecretKeyRef == nil {
			errs = append(errs, "client secret: GATEHOUSE_OIDC_CLIENT_SECRET: want a secretKeyRef")
		}
	case file != "":
		mounted := false
		for _, m := range c.VolumeMounts {
			if v := p.volume(m.Name); v != nil && v.Secret != nil && m.ReadOnly && path.Dir(file) == path.Clean(m.MountPath) {
				mounted = true
			}
		}
		if !mounted {
			errs = append(errs, fmt.Sprintf("client secret: --oidc-client-secret-file %s is not in a read-only mount of a Secret", file))
		}
	default:
		errs = append(errs, "client secret: want GATEHOUSE_OIDC_CLIENT_SECRET from a secretKeyRef, or --oidc-client-secret-file on a mounted Secret")
	}
	return errs
}

// TestKustomizeChecksCatch breaks the manifests one way at a time, in an
// in-memory copy, and expects the checks (or the strict decoding) to
// notice: a check that cannot fail proves nothing.
func TestKustomizeChecksCatch(t *testing.T) {
	const (
		deployment = "/kubernetes/base/deployment.yaml"
		service    = "/kubernetes/base/service.yaml"
		netpol     = "/kubernetes/base/networkpolicy.yaml"
		baseKust   = "/kubernetes/base/kustomization.yaml"
		pgPatch    = "/kubernetes/overlays/postgres/deployment.yaml"
		pgKust     = "/kubernetes/overlays/postgres/kustomization.yaml"
		pgPDB      = "/kubernetes/overlays/postgres/pdb.yaml"
		ssoPatch   = "/kubernetes/overlays/sso/deployment.yaml"
		sqlite     = "/kubernetes/sqlite-deployment.yaml"
		policyKust = "/kubernetes/policy/kustomization.yaml"
	)
	cases := []struct {
		name          string
		v             variant
		file, old, nu string
		want          string
	}{
		{"service targets the upstream port", sqliteVariant, service,
			"targetPort: http", "targetPort: 8237", "targetPort 8237 is the upstream port"},
		{"policy mounted with subPath", sqliteVariant, deployment,
			"              mountPath: /etc/gatehouse/policy\n", "              mountPath: /etc/gatehouse/policy\n              subPath: policy.csv\n", "subPath"},
		{"policy ConfigMap renamed on every change", pgVariant, policyKust,
			"      disableNameSuffixHash: true\n", "", "want gatehouse-policy"},
		{"--policy-dir names another directory", sqliteVariant, deployment,
			"--policy-dir=/etc/gatehouse/policy", "--policy-dir=/etc/gatehouse", "is not a mount path"},
		{"pipeline server on every interface", sqliteVariant, deployment,
			`"--host", "127.0.0.1"`, `"--host", "0.0.0.0"`, "want loopback"},
		{"upstream not over loopback", pgVariant, deployment,
			"--upstream=http://127.0.0.1:8237", "--upstream=http://pipeline:8237", "over loopback"},
		{"readiness on /healthz", sqliteVariant, deployment,
			"path: /readyz", "path: /healthz", "readiness probe path /healthz"},
		{"liveness on the data port", sqliteVariant, deployment,
			"              path: /healthz\n              port: ops\n            periodSeconds: 10", "              path: /healthz\n              port: http\n            periodSeconds: 10", "liveness probe port http"},
		{"writable root filesystem", sqliteVariant, deployment,
			"readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem is not true"},
		{"a capability added", sqliteVariant, deployment,
			`drop: ["ALL"]`, "drop: [\"ALL\"]\n              add: [\"NET_ADMIN\"]", "nothing added"},
		{"gatehouse as root", sqliteVariant, deployment,
			"            runAsUser: 65532", "            runAsUser: 0", "runAsUser"},
		{"no memory limit", sqliteVariant, deployment,
			"              cpu: \"1\"\n              memory: 256Mi", "              cpu: \"1\"", "no memory limit"},
		{"ops port open to all", sqliteVariant, netpol,
			"    - from:\n        # Change to the namespace your Prometheus runs in.\n        - namespaceSelector:\n            matchLabels:\n              kubernetes.io/metadata.name: monitoring\n      ports:\n",
			"    - ports:\n", "ops port from anywhere"},
		{"network policy admits the upstream port", pgVariant, netpol,
			"port: http", "port: 8237", "admits port 8237"},
		{"grace below the drain", sqliteVariant, deployment,
			"terminationGracePeriodSeconds: 45", "terminationGracePeriodSeconds: 20", "terminationGracePeriodSeconds"},
		{"a Secret committed", sqliteVariant, baseKust,
			"  - pdb.yaml\n", "  - pdb.yaml\nsecretGenerator:\n  - name: gatehouse\n    literals: [admin-password=hunter2]\n", "Secret gatehouse"},
		{"admin password written out", sqliteVariant, deployment,
			"              valueFrom:\n                secretKeyRef:\n                  name: gatehouse\n                  key: admin-password", "              value: hunter2", "GATEHOUSE_ADMIN_PASSWORD"},
		{"DSN written out in the overlay", pgVariant, pgPatch,
			"              valueFrom:\n                secretKeyRef:\n                  name: gatehouse\n                  key: db-dsn", "              value: postgres://gatehouse:pw@db/gatehouse", "credentials"},
		{"SQLite on an emptyDir", sqliteVariant, sqlite,
			"persistentVolumeClaim:\n            claimName: gatehouse-data", "emptyDir: {}", "not a writable PersistentVolumeClaim"},
		{"SQLite rolled with a surge pod", sqliteVariant, sqlite,
			"    type: Recreate\n    rollingUpdate: null\n", "", "want Recreate"},
		{"overlay budget lets the last pod go", pgVariant, pgPDB,
			"  minAvailable: 1\n  maxUnavailable: null\n", "", "minAvailable 1"},
		{"overlay with one replica", pgVariant, pgKust,
			"count: 2", "count: 1", "at least 2 replicas"},
		{"gatehouse without the preset", pgVariant, deployment,
			"            - --preset=zenml\n", "", "want zenml"},
		{"ZenML asks for its own tokens", sqliteVariant, deployment,
			"              value: NO_AUTH", "              value: OAUTH2_PASSWORD_BEARER", "ZENML_AUTH_TYPE=NO_AUTH"},
		{"policy copy drifts from the preset", sqliteVariant, "/kubernetes/policy/policy.csv",
			"p, read, /api/v1/stacks, GET\n", "p, read, /api/v1/stacks, GET\np, public, /api/v1/stacks, GET\n", "differs from the zenml preset"},
		{"SSO client secret written out", ssoVariant, ssoPatch,
			"              valueFrom:\n                secretKeyRef:\n                  name: gatehouse\n                  key: oidc-client-secret", "              value: hunter2", "want a secretKeyRef"},
		{"SSO without a client secret", ssoVariant, ssoPatch,
			"            - name: GATEHOUSE_OIDC_CLIENT_SECRET\n              valueFrom:\n                secretKeyRef:\n                  name: gatehouse\n                  key: oidc-client-secret\n", "", "client secret: want"},
		{"SSO behind an http public URL", ssoVariant, ssoPatch,
			"value: https://gatehouse.example.com", "value: http://gatehouse.example.com", "not Secure"},
		{"SSO issuer over http", ssoVariant, ssoPatch,
			"value: https://keycloak.example.com/realms/platform", "value: http://keycloak.example.com/realms/platform", "want an https:// URL"},
		{"SSO overlay drops the PostgreSQL replicas", ssoVariant, "/kubernetes/overlays/sso/kustomization.yaml",
			"  - ../postgres\n", "  - ../../base\n", "at least 2 replicas"},
		{"unknown field", sqliteVariant, deployment,
			"  replicas: 1\n", "  replicas: 1\n  replicaz: 2\n", "unknown field"},
		{"misspelt probe field", sqliteVariant, deployment,
			"            periodSeconds: 5\n", "            periodSecond: 5\n", "unknown field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := copyToMemory(t, "kubernetes")
			mutate(t, fsys, tc.file, tc.old, tc.nu)
			r, err := render(fsys, "/"+tc.v.dir)
			var got []string
			if err != nil {
				got = []string{err.Error()}
			} else {
				got = tc.v.problems(r)
			}
			for _, msg := range got {
				if strings.Contains(msg, tc.want) {
					return
				}
			}
			t.Errorf("no problem mentions %q; got %q", tc.want, got)
		})
	}
}

// TestKustomizeCoversEveryOverlay: every kustomization under kubernetes/
// is a variant TestKustomize checks, or one of the parts they build on
// (base/, policy/), so that a new overlay cannot go unchecked.
func TestKustomizeCoversEveryOverlay(t *testing.T) {
	checked := map[string]bool{"kubernetes/base": true, "kubernetes/policy": true}
	for _, v := range []variant{sqliteVariant, pgVariant, ssoVariant} {
		checked[v.dir] = true
	}
	err := filepath.WalkDir("kubernetes", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == "kustomization.yaml" && !checked[filepath.ToSlash(filepath.Dir(p))] {
			t.Errorf("%s is not a variant of TestKustomize", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
