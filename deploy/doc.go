// Package deploy holds Gatehouse's deployment artifacts and the tests that
// keep them honest. It has no code of its own.
//
// The Kubernetes manifests live under kubernetes/: base/ (the pod, Service,
// NetworkPolicy and PodDisruptionBudget), policy/ (the policy files and
// their ConfigMap), the SQLite default in kubernetes/ itself and the
// PostgreSQL overlay in kubernetes/overlays/postgres. The tests render each
// with kustomize, decode every object strictly into Kubernetes API types
// and check the properties the deployment promises: the upstream is reached
// only over loopback, the policy ConfigMap is mounted as a directory, the
// containers run unprivileged, secrets are referenced and never rendered.
//
// The Dockerfile lives at the root module's root. The tests check its
// invariants (pinned bases, a static build, a non-root user, the exposed
// ports, a dependency download of the root module alone) and run its go
// build line, since no Docker engine is at hand where they run.
//
// deploy is a module of its own (github.com/gatehouse-dev/gatehouse/deploy,
// its go.mod replacing the root module with ../), so that the Kubernetes
// API and kustomize modules, which only these tests use, stay out of the
// product's go.mod and out of the image's `go mod download`. Run the tests
// here (`go test ./...`) or with `make test` at the root.
package deploy
