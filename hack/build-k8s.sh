#!/usr/bin/env bash
# Builds the real Kubernetes control plane the tests and the local cluster use,
# from Go modules only, into bin/k8s/:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#     (k8s.io/kubernetes and go.etcd.io/etcd/server/v3, pinned in
#      hack/tools/k8s/go.mod)
#   kwok, kwokctl (sigs.k8s.io/kwok, pinned by KWOK_VERSION)
# A stamp records what was built; a second run with the same pins finds the
# binaries and returns in well under a second. Cold, it took 10-25 minutes on
# a shared 2-core machine, module downloads included.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${K8S_BIN_DIR:-$root/bin/k8s}
kwok_version=${KWOK_VERSION:?KWOK_VERSION must be set (the Makefile sets it)}
tools=$root/hack/tools/k8s

stamp_want=$( { cat "$tools/go.mod" "$tools/go.sum" "$0"; echo "kwok $kwok_version"; go env GOVERSION; } | sha256sum | cut -d' ' -f1)
bins=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwokctl)

have_all=true
for b in "${bins[@]}"; do [ -x "$out/$b" ] || have_all=false; done
if $have_all && [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp_want" ]; then
  exit 0
fi

mkdir -p "$out"
rm -f "$out/.stamp"
echo ">> building the control plane into $out (cold: 10-25 minutes on 2 cores)" >&2
cd "$tools"
go build -o "$out/etcd" go.etcd.io/etcd/server/v3
go build -o "$out/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl
GOBIN="$out" go install \
  "sigs.k8s.io/kwok/cmd/kwok@$kwok_version" \
  "sigs.k8s.io/kwok/cmd/kwokctl@$kwok_version"
echo "$stamp_want" > "$out/.stamp"
echo ">> control plane ready: ${bins[*]}" >&2
