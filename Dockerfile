# Gatehouse: a static binary on distroless. Needs BuildKit (the default
# builder since Docker 23) for the cache mounts; there is no
# `# syntax=` line, which would pull an unpinned frontend image.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t gatehouse .
#
# The go build line below is the one `make build` runs; deploy/dockerfile_test.go
# parses it out of this file, runs it and checks the binary it makes (static,
# stripped, no build paths, `gatehouse version` prints VERSION), and checks
# this file's invariants: pinned bases, non-root user, the exposed ports.

# The builder: the Go release go.mod asks for, pinned to a patch release.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
# Dependencies first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
# CGO_ENABLED=0: a static binary (the SQLite driver is pure Go), so the final
# image needs no libc. -trimpath keeps build paths out of the binary.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/gatehouse ./cmd/gatehouse

# The final image: distroless static holds CA certificates, tzdata and
# /etc/passwd, and no shell or package manager. The tag names the variant;
# the digest pins the content (gcr.io/distroless/static-debian12:nonroot as
# recorded on 2026-08-26; refresh it with
# `crane digest gcr.io/distroless/static-debian12:nonroot`).
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /out/gatehouse /gatehouse
# Numeric, so that Kubernetes can check runAsNonRoot without /etc/passwd.
USER 65532:65532
# 8080: the data plane and API (--listen); 9090: /healthz, /readyz and /metrics (--ops-listen).
EXPOSE 8080 9090
ENTRYPOINT ["/gatehouse"]
CMD ["serve"]
