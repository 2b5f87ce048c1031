#!/usr/bin/env bash
# The local cluster for `make demo`, the end-to-end tests and the install test:
# a real control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler) plus kwok's fake nodes, every binary from bin/k8s (built from
# Go modules by hack/build-k8s.sh), started by `kwokctl --runtime binary`.
# No Docker engine, no download beyond Go modules.
#
#   hack/cluster.sh up   NAME DIR [NODES]   start; writes DIR/kubeconfig
#   hack/cluster.sh down NAME DIR           stop every process, delete DIR/kwok
#
# Pods are scheduled onto NODES fake nodes (default 4) and become Running, but
# they only finish when the end-to-end harness marks them (see
# hack/kwok/pod-finish-when-marked.yaml): there is no container runtime, so the
# harness plays the kubelet for visit pods.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
k8s=${K8S_BIN_DIR:-$root/bin/k8s}
cmd=${1:?usage: hack/cluster.sh up|down NAME DIR [NODES]}
name=${2:?cluster name missing}
dir=${3:?work directory missing}
nodes=${4:-4}
kwok_version=${KWOK_VERSION:-$(sed -n 's/^KWOK_VERSION ?= //p' "$root/Makefile")}

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
export KWOK_WORKDIR=$dir/kwok
export KWOK_KUBECTL_BINARY=$k8s/kubectl
export PATH=$k8s:$PATH

case $cmd in
up)
  # kwok's own stages for nodes and for starting and deleting pods, taken from
  # the kwok module this project pins, plus Sweep's "finish when marked".
  kwok_src=$(cd "$root/hack/tools/k8s" && go mod download -json "sigs.k8s.io/kwok@$kwok_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  stages=$dir/stages.yaml
  : >"$stages"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-delete.yaml; do
    cat "$kwok_src/kustomize/stage/$f" >>"$stages"
    echo "---" >>"$stages"
  done
  cat "$root/hack/kwok/pod-finish-when-marked.yaml" >>"$stages"

  # One kube-controller-manager and one kube-scheduler, so no leader
  # election: on a loaded machine a lease renewal that times out (5 s) makes
  # them exit, and kwokctl does not restart them; the Job controller and the
  # garbage collector were then gone for the rest of a 30-minute soak.
  # kwokctl picks free ports when it creates a cluster; two creations at
  # once (parallel tests) could pick the same ones. One at a time, then.
  exec 9>"${TMPDIR:-/tmp}/sweep-kwokctl-create.lock"
  flock 9
  kwokctl create cluster --name "$name" --runtime binary --config "$stages" \
    --etcd-binary "$k8s/etcd" --kube-apiserver-binary "$k8s/kube-apiserver" \
    --kube-controller-manager-binary "$k8s/kube-controller-manager" \
    --kube-scheduler-binary "$k8s/kube-scheduler" --kwok-controller-binary "$k8s/kwok" \
    --extra-args kube-controller-manager=leader-elect=false --extra-args kube-scheduler=leader-elect=false \
    --wait 120s >"$dir/kwokctl.log" 2>&1 || { cat "$dir/kwokctl.log" >&2; exit 1; }
  kwokctl get kubeconfig --name "$name" >"$dir/kubeconfig"
  flock -u 9
  kwokctl scale node --name "$name" --replicas "$nodes" >>"$dir/kwokctl.log" 2>&1 || { cat "$dir/kwokctl.log" >&2; exit 1; }
  if ! KUBECONFIG=$dir/kubeconfig kubectl wait --for condition=Ready node --all --timeout 60s >/dev/null; then
    echo "fake nodes did not become Ready; the kwok controller's log ends:" >&2
    tail -n 30 "$KWOK_WORKDIR/clusters/$name/logs/kwok-controller.log" >&2 || true
    exit 1
  fi
  ;;
down)
  kwokctl delete cluster --name "$name" >/dev/null 2>&1 || true
  rm -rf "$dir/kwok"
  ;;
*)
  echo "usage: hack/cluster.sh up|down NAME DIR [NODES]" >&2
  exit 2
  ;;
esac
