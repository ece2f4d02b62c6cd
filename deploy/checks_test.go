package deploy

import (
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gatehouse-dev/gatehouse/policy/preset"
)

// A check reports every way a rendering breaks one promise of the
// deployment, as messages; none means the promise holds.
type check struct {
	name string
	fn   func(r *rendering, p *pod) []string
}

// invariants hold for every variant: the SQLite default and the
// PostgreSQL overlay.
var invariants = []check{
	{"upstream only over loopback", checkUpstreamHidden},
	{"service targets the data port", checkService},
	{"probes on the ops port", checkProbes},
	{"resources", checkResources},
	{"security context", checkSecurityContext},
	{"policy directory", checkPolicyMount},
	{"ZenML behind Gatehouse", checkZenMLPreset},
	{"secrets referenced", checkSecrets},
	{"network policy", checkNetworkPolicy},
	{"termination grace", checkGrace},
	{"prometheus scraping", checkScrape},
	{"images", checkImages},
	{"disruption budget", checkPDB},
}

// checkUpstreamHidden: Gatehouse reaches the pipeline server over
// loopback, the server listens on loopback only, and nothing in the pod
// publishes the server's port.
func checkUpstreamHidden(r *rendering, p *pod) []string {
	var errs []string
	u, _ := url.Parse(p.upstreamURL)
	if u.Scheme != "http" || !isLoopback(u.Hostname()) {
		errs = append(errs, fmt.Sprintf("--upstream %s: want http:// over loopback", p.upstreamURL))
	}
	if host, _ := flagValue(p.upstream.Args, "--host"); !isLoopback(host) {
		errs = append(errs, fmt.Sprintf("the pipeline server listens on %q: want loopback (--host 127.0.0.1)", host))
	}
	if port, _ := flagValue(p.upstream.Args, "--port"); port != u.Port() {
		errs = append(errs, fmt.Sprintf("the pipeline server listens on port %q, Gatehouse forwards to %s", port, u.Port()))
	}
	if p.upstreamPort == p.dataPort || p.upstreamPort == p.opsPort {
		errs = append(errs, fmt.Sprintf("the upstream port %d is one of Gatehouse's", p.upstreamPort))
	}
	if p.spec.HostNetwork {
		errs = append(errs, "hostNetwork: loopback would be the node's, shared with every host-network pod")
	}
	for _, c := range p.containers() {
		for _, cp := range c.Ports {
			if cp.ContainerPort == p.upstreamPort || cp.HostPort != 0 {
				errs = append(errs, fmt.Sprintf("container %s publishes port %d (hostPort %d)", c.Name, cp.ContainerPort, cp.HostPort))
			}
		}
	}
	for _, s := range r.services {
		for _, sp := range s.Spec.Ports {
			if sp.Port == p.upstreamPort {
				errs = append(errs, fmt.Sprintf("Service %s port %d is the upstream port", s.Name, sp.Port))
			}
			if port, _ := resolvePort(sp.TargetPort, p.gatehouse); port == p.upstreamPort {
				errs = append(errs, fmt.Sprintf("Service %s targetPort %s is the upstream port", s.Name, sp.TargetPort.String()))
			}
		}
	}
	return errs
}

// checkService: every Service selects the pod and targets Gatehouse's data
// port, and only that.
func checkService(r *rendering, p *pod) []string {
	var errs []string
	if len(r.services) == 0 {
		errs = append(errs, "no Service")
	}
	podLabels := labels.Set(p.deploy.Spec.Template.Labels)
	for _, s := range r.services {
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			errs = append(errs, fmt.Sprintf("Service %s selector %v does not select the pod %v", s.Name, s.Spec.Selector, podLabels))
		}
		for _, sp := range s.Spec.Ports {
			port, ok := resolvePort(sp.TargetPort, p.gatehouse)
			if !ok || port != p.dataPort {
				errs = append(errs, fmt.Sprintf("Service %s targetPort %s: want Gatehouse's data port %d", s.Name, sp.TargetPort.String(), p.dataPort))
			}
		}
	}
	return errs
}

// checkProbes: Gatehouse's liveness is /healthz and readiness /readyz, on
// the ops port; the pipeline server has a startup probe that Gatehouse's
// start waits for, run inside its container (the kubelet cannot reach
// loopback).
func checkProbes(_ *rendering, p *pod) []string {
	var errs []string
	probe := func(kind string, pr *corev1.Probe, wantPath string) {
		if pr == nil || pr.HTTPGet == nil {
			errs = append(errs, fmt.Sprintf("gatehouse %s probe: want an HTTP GET of %s", kind, wantPath))
			return
		}
		if pr.HTTPGet.Path != wantPath {
			errs = append(errs, fmt.Sprintf("gatehouse %s probe path %s: want %s", kind, pr.HTTPGet.Path, wantPath))
		}
		if port, ok := resolvePort(pr.HTTPGet.Port, p.gatehouse); !ok || port != p.opsPort {
			errs = append(errs, fmt.Sprintf("gatehouse %s probe port %s: want the ops port %d", kind, pr.HTTPGet.Port.String(), p.opsPort))
		}
	}
	probe("liveness", p.gatehouse.LivenessProbe, "/healthz")
	probe("readiness", p.gatehouse.ReadinessProbe, "/readyz")
	if p.gatehouse.StartupProbe != nil {
		probe("startup", p.gatehouse.StartupProbe, "/healthz")
	}
	sp := p.upstream.StartupProbe
	if sp == nil || sp.Exec == nil {
		errs = append(errs, "pipeline server: want an exec startup probe (Gatehouse starts after it passes)")
	} else if hostPort := fmt.Sprintf("127.0.0.1:%d", p.upstreamPort); !strings.Contains(strings.Join(sp.Exec.Command, " "), hostPort) {
		errs = append(errs, fmt.Sprintf("pipeline server startup probe %q does not ask %s", sp.Exec.Command, hostPort))
	}
	if lp := p.upstream.LivenessProbe; lp != nil && lp.HTTPGet != nil {
		errs = append(errs, "pipeline server liveness probe: the kubelet cannot reach a loopback-only server over HTTP")
	}
	return errs
}

// checkResources: every container requests CPU and memory and is limited,
// requests within limits.
func checkResources(_ *rendering, p *pod) []string {
	var errs []string
	for _, c := range p.containers() {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			switch {
			case !hasReq || req.Sign() <= 0:
				errs = append(errs, fmt.Sprintf("%s: no %s request", c.Name, name))
			case !hasLim || lim.Sign() <= 0:
				errs = append(errs, fmt.Sprintf("%s: no %s limit", c.Name, name))
			case req.Cmp(lim) > 0:
				errs = append(errs, fmt.Sprintf("%s: %s request %s above its limit %s", c.Name, name, req.String(), lim.String()))
			}
		}
	}
	return errs
}

// checkSecurityContext: the pod and every container run unprivileged:
// non-root, read-only root filesystem, no privilege escalation, all
// capabilities dropped, seccomp RuntimeDefault; Gatehouse as the image's
// user 65532.
func checkSecurityContext(_ *rendering, p *pod) []string {
	var errs []string
	ps := p.spec.SecurityContext
	if ps == nil {
		return []string{"no pod securityContext"}
	}
	if ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot {
		errs = append(errs, "pod: runAsNonRoot is not true")
	}
	if ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		errs = append(errs, "pod: seccompProfile is not RuntimeDefault")
	}
	if p.spec.HostPID || p.spec.HostIPC {
		errs = append(errs, "pod: shares the host's PID or IPC namespace")
	}
	if t := p.spec.AutomountServiceAccountToken; t == nil || *t {
		errs = append(errs, "pod: mounts a service account token it does not need")
	}
	if l := p.spec.EnableServiceLinks; l == nil || *l {
		errs = append(errs, "pod: enableServiceLinks would put GATEHOUSE_* Service variables into Gatehouse's environment")
	}
	for _, c := range p.containers() {
		sc := c.SecurityContext
		if sc == nil {
			errs = append(errs, c.Name+": no securityContext")
			continue
		}
		if sc.RunAsNonRoot != nil && !*sc.RunAsNonRoot {
			errs = append(errs, c.Name+": runAsNonRoot false")
		}
		if uid := firstSet(sc.RunAsUser, ps.RunAsUser); uid == nil || *uid == 0 {
			errs = append(errs, c.Name+": no non-zero runAsUser")
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			errs = append(errs, c.Name+": readOnlyRootFilesystem is not true")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			errs = append(errs, c.Name+": allowPrivilegeEscalation is not false")
		}
		if sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, c.Name+": privileged")
		}
		if sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) > 0 {
			errs = append(errs, c.Name+": capabilities: want drop [ALL] and nothing added")
		}
		if sp := sc.SeccompProfile; sp != nil && sp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			errs = append(errs, c.Name+": seccompProfile is not RuntimeDefault")
		}
	}
	gsc := p.gatehouse.SecurityContext
	if gsc != nil {
		if uid := firstSet(gsc.RunAsUser, ps.RunAsUser); uid == nil || *uid != gatehouseUID {
			errs = append(errs, fmt.Sprintf("gatehouse: runAsUser: want %d, the image's user", gatehouseUID))
		}
		if gid := firstSet(gsc.RunAsGroup, ps.RunAsGroup); gid == nil || *gid != gatehouseUID {
			errs = append(errs, fmt.Sprintf("gatehouse: runAsGroup: want %d, the image's group", gatehouseUID))
		}
	}
	return errs
}

// firstSet returns the container's setting, else the pod's.
func firstSet(container, pod *int64) *int64 {
	if container != nil {
		return container
	}
	return pod
}

// checkPolicyMount: --policy-dir names the mount path of the policy
// ConfigMap, mounted as a whole directory (a subPath mount never sees
// updates), and the ConfigMap holds the zenml preset's files (its copy in
// kubernetes/policy/).
func checkPolicyMount(r *rendering, p *pod) []string {
	if p.policyDir == "" {
		return []string{"gatehouse has no --policy-dir"}
	}
	var mount *corev1.VolumeMount
	for i, m := range p.gatehouse.VolumeMounts {
		if path.Clean(m.MountPath) == path.Clean(p.policyDir) {
			mount = &p.gatehouse.VolumeMounts[i]
		}
	}
	if mount == nil {
		return []string{fmt.Sprintf("--policy-dir %s is not a mount path of the gatehouse container", p.policyDir)}
	}
	var errs []string
	for _, m := range p.gatehouse.VolumeMounts {
		if m.Name == mount.Name && (m.SubPath != "" || m.SubPathExpr != "") {
			errs = append(errs, fmt.Sprintf("volume %s is mounted with subPath %q: updates would never reach the pod", m.Name, m.SubPath+m.SubPathExpr))
		}
	}
	if !mount.ReadOnly {
		errs = append(errs, "the policy directory is mounted writable")
	}
	v := p.volume(mount.Name)
	if v == nil || v.ConfigMap == nil {
		return append(errs, fmt.Sprintf("the volume at %s is not a ConfigMap", p.policyDir))
	}
	if len(v.ConfigMap.Items) > 0 {
		errs = append(errs, "the policy volume lists items: a file added to the ConfigMap would not appear")
	}
	var cm *corev1.ConfigMap
	for _, c := range r.configMaps {
		if c.Name == v.ConfigMap.Name {
			cm = c
		}
	}
	if cm == nil {
		return append(errs, fmt.Sprintf("the policy volume names ConfigMap %s, which is not rendered", v.ConfigMap.Name))
	}
	// No hash suffix, as the manifests choose: a policy change updates the
	// ConfigMap in place and the pods hot-reload it.
	if cm.Name != "gatehouse-policy" {
		errs = append(errs, fmt.Sprintf("policy ConfigMap %s: want gatehouse-policy, updated in place and hot-reloaded", cm.Name))
	}
	zenml, err := preset.Lookup("zenml")
	if err != nil {
		return append(errs, err.Error())
	}
	for _, f := range []string{"policy.csv", "tests.yaml"} {
		want, err := fs.ReadFile(zenml.Policy, f)
		if err != nil {
			errs = append(errs, err.Error())
		} else if cm.Data[f] != string(want) {
			errs = append(errs, fmt.Sprintf("ConfigMap %s: %s differs from the zenml preset's (policy/preset/zenml/%s): copy it to kubernetes/policy/", cm.Name, f, f))
		}
	}
	return errs
}

// checkZenMLPreset: ZenML's stock clients work through Gatehouse. Gatehouse
// runs --preset zenml (it answers the clients' login and speaks their error
// shape), and the ZenML server trusts what Gatehouse forwards instead of
// asking for its own tokens (ZENML_AUTH_TYPE=NO_AUTH), which is safe only
// because it listens on loopback (checkUpstreamHidden).
func checkZenMLPreset(_ *rendering, p *pod) []string {
	var errs []string
	name, ok := flagValue(p.gatehouse.Args, "--preset")
	if e := env(p.gatehouse, "GATEHOUSE_PRESET"); !ok && e != nil {
		name, ok = e.Value, true
	}
	if !ok || name != "zenml" {
		errs = append(errs, fmt.Sprintf("gatehouse --preset %q: want zenml, or ZenML's clients cannot log in", name))
	}
	if e := env(p.upstream, "ZENML_AUTH_TYPE"); e == nil || e.Value != "NO_AUTH" || e.ValueFrom != nil {
		errs = append(errs, "the pipeline server: want ZENML_AUTH_TYPE=NO_AUTH, or it refuses every request Gatehouse forwards (401)")
	}
	return errs
}

// checkSecrets: no Secret is rendered (users create it); the admin
// password comes from one, and nothing that carries a credential is
// written out literally.
func checkSecrets(r *rendering, p *pod) []string {
	var errs []string
	for _, s := range r.secrets {
		errs = append(errs, fmt.Sprintf("Secret %s is rendered: secrets are created by the user, never committed", s.Name))
	}
	pw := env(p.gatehouse, "GATEHOUSE_ADMIN_PASSWORD")
	if pw == nil || pw.Value != "" || pw.ValueFrom == nil || pw.ValueFrom.SecretKeyRef == nil {
		errs = append(errs, "GATEHOUSE_ADMIN_PASSWORD: want a secretKeyRef")
	}
	for _, c := range p.containers() {
		for _, e := range c.Env {
			upper := strings.ToUpper(e.Name)
			credential := strings.Contains(upper, "PASSWORD") || strings.Contains(upper, "SECRET") ||
				strings.Contains(upper, "TOKEN") || strings.Contains(upper, "DSN") || strings.Contains(upper, "STORE_URL")
			if credential && e.Value != "" {
				errs = append(errs, fmt.Sprintf("%s: %s has a literal value", c.Name, e.Name))
			}
			if strings.Contains(e.Value, "://") && strings.Contains(e.Value, "@") {
				errs = append(errs, fmt.Sprintf("%s: %s is a URL with credentials in the manifest", c.Name, e.Name))
			}
			if e.Name == "GATEHOUSE_DB" && e.Value != "" && !strings.HasPrefix(e.Value, "sqlite:") {
				errs = append(errs, fmt.Sprintf("%s: GATEHOUSE_DB %q: a database DSN comes from the Secret", c.Name, e.Value))
			}
		}
		for _, a := range c.Args {
			if strings.HasPrefix(a, "--db") || strings.Contains(a, "postgres://") {
				errs = append(errs, fmt.Sprintf("%s: argument %q: the store is set through GATEHOUSE_DB", c.Name, a))
			}
		}
	}
	return errs
}

// checkNetworkPolicy: one policy selects the pod, restricts ingress, and
// admits only Gatehouse's data port (from anywhere) and ops port (from
// named sources only).
func checkNetworkPolicy(r *rendering, p *pod) []string {
	if len(r.netpols) != 1 {
		return []string{fmt.Sprintf("want one NetworkPolicy, got %d", len(r.netpols))}
	}
	np := r.netpols[0]
	var errs []string
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil || !sel.Matches(labels.Set(p.deploy.Spec.Template.Labels)) {
		errs = append(errs, fmt.Sprintf("NetworkPolicy %s does not select the pod", np.Name))
	}
	ingress := false
	for _, t := range np.Spec.PolicyTypes {
		ingress = ingress || t == "Ingress"
	}
	if !ingress {
		errs = append(errs, "NetworkPolicy: policyTypes lacks Ingress")
	}
	admitted := map[int32]bool{}
	for i, rule := range np.Spec.Ingress {
		if len(rule.Ports) == 0 {
			errs = append(errs, fmt.Sprintf("NetworkPolicy ingress rule %d admits every port", i))
		}
		for _, rp := range rule.Ports {
			if rp.Port == nil || rp.EndPort != nil {
				errs = append(errs, fmt.Sprintf("NetworkPolicy ingress rule %d admits a port range", i))
				continue
			}
			port, ok := resolvePort(*rp.Port, p.gatehouse)
			switch {
			case !ok || (port != p.dataPort && port != p.opsPort):
				errs = append(errs, fmt.Sprintf("NetworkPolicy ingress rule %d admits port %s, not one of Gatehouse's (%d, %d)", i, rp.Port.String(), p.dataPort, p.opsPort))
			case port == p.opsPort && len(rule.From) == 0:
				errs = append(errs, fmt.Sprintf("NetworkPolicy ingress rule %d admits the ops port from anywhere", i))
			}
			admitted[port] = true
		}
	}
	if !admitted[p.dataPort] {
		errs = append(errs, fmt.Sprintf("NetworkPolicy does not admit Gatehouse's data port %d", p.dataPort))
	}
	return errs
}

// checkGrace: the pod's termination grace covers the preStop pause and
// Gatehouse's drain, with time left for the pipeline server to stop.
func checkGrace(_ *rendering, p *pod) []string {
	grace, err := p.shutdownGrace()
	if err != nil {
		return []string{fmt.Sprintf("--shutdown-grace: %v", err)}
	}
	var pause int64
	if l := p.gatehouse.Lifecycle; l != nil && l.PreStop != nil && l.PreStop.Sleep != nil {
		pause = l.PreStop.Sleep.Seconds
	}
	need := int64(grace.Seconds()) + pause
	t := p.spec.TerminationGracePeriodSeconds
	if t == nil || *t <= need {
		return []string{fmt.Sprintf("terminationGracePeriodSeconds %v: want above the preStop sleep and --shutdown-grace (%ds)", ptrValue(t), need)}
	}
	return nil
}

func ptrValue(v *int64) any {
	if v == nil {
		return "unset"
	}
	return *v
}

// checkScrape: Prometheus finds /metrics on the ops port of each pod.
func checkScrape(_ *rendering, p *pod) []string {
	a := p.deploy.Spec.Template.Annotations
	want := map[string]string{
		"prometheus.io/scrape": "true",
		"prometheus.io/port":   fmt.Sprint(p.opsPort),
		"prometheus.io/path":   "/metrics",
	}
	var errs []string
	for k, v := range want {
		if a[k] != v {
			errs = append(errs, fmt.Sprintf("pod annotation %s=%q: want %q", k, a[k], v))
		}
	}
	return errs
}

// checkImages: kustomize's image entries are applied, every image is
// pinned to a tag that is not latest, and the pipeline server is the ZenML
// release the policy preset describes.
func checkImages(_ *rendering, p *pod) []string {
	var errs []string
	for _, c := range p.containers() {
		ref := c.Image
		if at := strings.Index(ref, "@"); at >= 0 {
			ref = ref[:at]
		}
		slash := strings.LastIndex(ref, "/")
		colon := strings.LastIndex(ref, ":")
		if colon < slash || strings.HasSuffix(ref, ":latest") || !strings.Contains(c.Image, "/") {
			errs = append(errs, fmt.Sprintf("%s: image %q: want REGISTRY/NAME:TAG from the kustomize images entry, not latest", c.Name, c.Image))
		}
	}
	if want := "zenmldocker/zenml-server:0.40.3"; p.upstream.Image != want {
		errs = append(errs, fmt.Sprintf("pipeline server image %s: the policy preset is for %s", p.upstream.Image, want))
	}
	if p.upstream.RestartPolicy == nil || *p.upstream.RestartPolicy != corev1.ContainerRestartPolicyAlways {
		errs = append(errs, "pipeline server: want restartPolicy Always (a native sidecar), or it blocks the pod's start")
	}
	return errs
}

// checkPDB: one budget selects the pod.
func checkPDB(r *rendering, p *pod) []string {
	if len(r.pdbs) != 1 {
		return []string{fmt.Sprintf("want one PodDisruptionBudget, got %d", len(r.pdbs))}
	}
	sel, err := metav1.LabelSelectorAsSelector(r.pdbs[0].Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(p.deploy.Spec.Template.Labels)) {
		return []string{"the PodDisruptionBudget does not select the pod"}
	}
	return nil
}
