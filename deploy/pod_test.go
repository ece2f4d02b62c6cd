package deploy

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Names the manifests and the tests agree on.
const (
	gatehouseContainer = "gatehouse"
	upstreamContainer  = "pipeline-server"
	// gatehouseUID is the user of the image (Dockerfile USER 65532:65532)
	// and of the pod.
	gatehouseUID = 65532
	// defaultShutdownGrace is serve's --shutdown-grace default.
	defaultShutdownGrace = 20 * time.Second
)

// pod is the one Deployment of a rendering and what Gatehouse's arguments
// say about it.
type pod struct {
	deploy    *appsv1.Deployment
	spec      *corev1.PodSpec
	gatehouse *corev1.Container
	upstream  *corev1.Container // the pipeline server

	dataPort, opsPort int32  // from --listen and --ops-listen
	upstreamURL       string // --upstream
	upstreamPort      int32
	policyDir         string // --policy-dir
}

// pod finds the Deployment and its two containers and reads Gatehouse's
// flags; it reports what is missing.
func (r *rendering) pod() (*pod, error) {
	if len(r.deployments) != 1 {
		return nil, fmt.Errorf("want exactly one Deployment, got %d", len(r.deployments))
	}
	d := r.deployments[0]
	p := &pod{deploy: d, spec: &d.Spec.Template.Spec}
	for i := range p.spec.Containers {
		if c := &p.spec.Containers[i]; c.Name == gatehouseContainer {
			p.gatehouse = c
		}
	}
	for i := range p.spec.InitContainers {
		if c := &p.spec.InitContainers[i]; c.Name == upstreamContainer {
			p.upstream = c
		}
	}
	if p.gatehouse == nil {
		return nil, fmt.Errorf("no container %q in the Deployment", gatehouseContainer)
	}
	if p.upstream == nil {
		return nil, fmt.Errorf("no init container (native sidecar) %q in the Deployment", upstreamContainer)
	}
	args := p.gatehouse.Args
	if len(args) == 0 || args[0] != "serve" {
		return nil, fmt.Errorf("gatehouse args %q: want the serve command first", args)
	}
	var err error
	if p.dataPort, err = listenPort(args, "--listen", ":8080"); err != nil {
		return nil, err
	}
	if p.opsPort, err = listenPort(args, "--ops-listen", ":9090"); err != nil {
		return nil, err
	}
	p.upstreamURL, _ = flagValue(args, "--upstream")
	u, err := url.Parse(p.upstreamURL)
	if err != nil || u.Port() == "" {
		return nil, fmt.Errorf("--upstream %q: want a URL with a port", p.upstreamURL)
	}
	port, _ := strconv.Atoi(u.Port())
	p.upstreamPort = int32(port)
	p.policyDir, _ = flagValue(args, "--policy-dir")
	return p, nil
}

// shutdownGrace is --shutdown-grace, or serve's default.
func (p *pod) shutdownGrace() (time.Duration, error) {
	v, ok := flagValue(p.gatehouse.Args, "--shutdown-grace")
	if !ok {
		return defaultShutdownGrace, nil
	}
	return time.ParseDuration(v)
}

// containers is every container of the pod, init containers first.
func (p *pod) containers() []*corev1.Container {
	var cs []*corev1.Container
	for i := range p.spec.InitContainers {
		cs = append(cs, &p.spec.InitContainers[i])
	}
	for i := range p.spec.Containers {
		cs = append(cs, &p.spec.Containers[i])
	}
	return cs
}

// env returns the variable name of c, or nil.
func env(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// volume returns the pod's volume name, or nil.
func (p *pod) volume(name string) *corev1.Volume {
	for i := range p.spec.Volumes {
		if p.spec.Volumes[i].Name == name {
			return &p.spec.Volumes[i]
		}
	}
	return nil
}

// resolvePort gives the number a Service targetPort, probe or
// NetworkPolicy port means for container c: a number as it is, a name
// through c's ports. ok is false for a name c does not have.
func resolvePort(v intstr.IntOrString, c *corev1.Container) (port int32, ok bool) {
	if v.Type == intstr.Int {
		return v.IntVal, true
	}
	for _, cp := range c.Ports {
		if cp.Name == v.StrVal {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// flagValue returns the value of a command-line flag given as "--name=v"
// or "--name v".
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// listenPort is the port of a HOST:PORT flag, or of its default.
func listenPort(args []string, name, def string) (int32, error) {
	v, ok := flagValue(args, name)
	if !ok {
		v = def
	}
	_, port, err := net.SplitHostPort(v)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		return 0, fmt.Errorf("%s %q: want HOST:PORT", name, v)
	}
	return int32(n), nil
}

// isLoopback reports whether host is a loopback name or address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
