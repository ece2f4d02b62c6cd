package deploy

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// rendering is the output of one kustomization, every object decoded into
// its Kubernetes API type.
type rendering struct {
	deployments []*appsv1.Deployment
	services    []*corev1.Service
	configMaps  []*corev1.ConfigMap
	secrets     []*corev1.Secret
	pvcs        []*corev1.PersistentVolumeClaim
	netpols     []*networkingv1.NetworkPolicy
	pdbs        []*policyv1.PodDisruptionBudget
}

// render builds the kustomization in dir of fsys, as `kustomize build dir`
// does, and decodes every object strictly: an unknown or misspelt field, a
// duplicate key or a kind the test does not know is an error.
func render(fsys filesys.FileSystem, dir string) (*rendering, error) {
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	r := &rendering{}
	for _, res := range m.Resources() {
		y, err := res.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", res.CurId(), err)
		}
		if err := r.add(y); err != nil {
			return nil, fmt.Errorf("%s: %w", res.CurId(), err)
		}
	}
	return r, nil
}

// add decodes one object into the type its apiVersion and kind name.
func (r *rendering) add(y []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(y, &tm); err != nil {
		return err
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "apps/v1 Deployment":
		o := &appsv1.Deployment{}
		r.deployments, obj = append(r.deployments, o), o
	case "v1 Service":
		o := &corev1.Service{}
		r.services, obj = append(r.services, o), o
	case "v1 ConfigMap":
		o := &corev1.ConfigMap{}
		r.configMaps, obj = append(r.configMaps, o), o
	case "v1 Secret":
		o := &corev1.Secret{}
		r.secrets, obj = append(r.secrets, o), o
	case "v1 PersistentVolumeClaim":
		o := &corev1.PersistentVolumeClaim{}
		r.pvcs, obj = append(r.pvcs, o), o
	case "networking.k8s.io/v1 NetworkPolicy":
		o := &networkingv1.NetworkPolicy{}
		r.netpols, obj = append(r.netpols, o), o
	case "policy/v1 PodDisruptionBudget":
		o := &policyv1.PodDisruptionBudget{}
		r.pdbs, obj = append(r.pdbs, o), o
	default:
		return fmt.Errorf("unexpected object %s %s: teach the test its type and its invariants", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict(y, obj); err != nil {
		return fmt.Errorf("strict decode as %s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	return nil
}

// copyToMemory copies the directory tree root of the disk into an in-memory
// file system at /root, so that a test can change a manifest and render it
// without touching the working tree.
func copyToMemory(t *testing.T, root string) filesys.FileSystem {
	t.Helper()
	mem := filesys.MakeFsInMemory()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return mem.WriteFile("/"+filepath.ToSlash(path), data)
	})
	if err != nil {
		t.Fatal(err)
	}
	return mem
}

// mutate replaces old with new in the file at path of fsys; the test fails
// when old is not there, so that a stale mutation cannot pass unnoticed.
func mutate(t *testing.T, fsys filesys.FileSystem, path, old, new string) {
	t.Helper()
	data, err := fsys.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("mutation does not apply: %s has no %q", path, old)
	}
	if err := fsys.WriteFile(path, []byte(strings.ReplaceAll(string(data), old, new))); err != nil {
		t.Fatal(err)
	}
}
