# The sweep image: one static binary on distroless, run as non-root. Its
# entrypoint is the binary, so the manager's Deployment passes `manager` and
# collector Jobs pass `collect` as the first argument.
#
#   make docker-build IMG=...        (needs a Docker engine, or DOCKER=podman)
#   make image-tarball               (no engine: ko, see .ko.yaml)
#
# Base images are pinned by tag. They are not pinned by digest because no
# registry was reachable where this file was written to read the current
# digests; pin them where you build, e.g. with
#   crane digest gcr.io/distroless/static:nonroot
# and --build-arg BASE_IMAGE=gcr.io/distroless/static:nonroot@sha256:...
# (keep .ko.yaml's defaultBaseImage the same).
ARG GO_IMAGE=docker.io/library/golang:1.26.8
ARG BASE_IMAGE=gcr.io/distroless/static:nonroot

FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=v0.1.0-dev
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
# CGO off: a static binary needs no libc, so the static base (no libc, no
# shell) runs it.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/sweep ./cmd/sweep

FROM ${BASE_IMAGE}
COPY --from=build /out/sweep /sweep
# distroless's nonroot user, numeric so that the kubelet can check
# runAsNonRoot without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/sweep"]
