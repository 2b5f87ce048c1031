#!/usr/bin/env bash
# The local cluster for `make demo`, the end-to-end tests and the install test:
# a real control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler) plus kwok's fake nodes, every binary from bin/k8s (built from
# Go modules by hack/build-k8s.sh), started by `kwokctl --runtime binary`.
# No Docker engine, no download beyond Go modules.
#
#   hack/cluster.sh up   NAME DIR [NODES]   start; writes DIR/kubeconfig
#   hack/cluster.sh down NAME DIR           stop every process, delete DIR/kwok
#   hack/cluster.sh stop-control-plane NAME DIR
#                                           kill kube-apiserver and etcd (SIGKILL)
#   hack/cluster.sh start-control-plane NAME DIR
#                                           start them again (and any other
#                                           component that exited meanwhile)
#
# Pods are scheduled onto NODES fake nodes (default 4) and become Running, but
# they only finish when the end-to-end harness marks them (see
# hack/kwok/pod-finish-when-marked.yaml): there is no container runtime, so the
# harness plays the kubelet for visit pods.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
k8s=${K8S_BIN_DIR:-$root/bin/k8s}
cmd=${1:?usage: hack/cluster.sh up|down|stop-control-plane|start-control-plane NAME DIR [NODES]}
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

  # kwokctl picks free ports when it creates a cluster; two creations at
  # once (parallel tests) could pick the same ones. One at a time, then.
  exec 9>"${TMPDIR:-/tmp}/sweep-kwokctl-create.lock"
  flock 9
  # One kube-controller-manager and one kube-scheduler need no leader
  # election; with it, each exits for good when its lease renewal times out
  # (10 s), which a heavily loaded machine or a stopped API server causes,
  # and nothing here restarts it: no more Job pods, no more scheduling (seen
  # mid-soak and in the 2,000-building kill test).
  # Each controller of kube-controller-manager uses its own ServiceAccount's
  # token, as kubeadm sets it up: the Job controller creates visit pods as
  # system:serviceaccount:kube-system:job-controller, the identity Sweep's
  # admission policy collector-pods lets create pods that run as the
  # collector. kwokctl's default (its admin certificate, system:masters)
  # would pass every policy unchecked.
  # The Job controller gets the client limits Sweep's manager has (500
  # requests a second, bursts of 1,000). At its default, 20 a second, it
  # makes about six writes per visit Job (the pod, its finalizer, three
  # status writes), so it ran a job-executor round at 3.3 visits a second
  # whatever Sweep did: the benchmark's 2,000 buildings took 10 minutes,
  # 7 with this (the machine's CPU is then the bound).
  kwokctl create cluster --name "$name" --runtime binary --config "$stages" \
    --extra-args kube-controller-manager=leader-elect=false --extra-args kube-scheduler=leader-elect=false \
    --extra-args kube-controller-manager=use-service-account-credentials=true \
    --extra-args kube-controller-manager=kube-api-qps=500 --extra-args kube-controller-manager=kube-api-burst=1000 \
    --etcd-binary "$k8s/etcd" --kube-apiserver-binary "$k8s/kube-apiserver" \
    --kube-controller-manager-binary "$k8s/kube-controller-manager" \
    --kube-scheduler-binary "$k8s/kube-scheduler" --kwok-controller-binary "$k8s/kwok" \
    --wait 120s >"$dir/kwokctl.log" 2>&1 || { cat "$dir/kwokctl.log" >&2; exit 1; }
  kwokctl get kubeconfig --name "$name" >"$dir/kubeconfig"
  flock -u 9
  # Real nodes report ephemeral storage; kwok's default node does not, and
  # the manager's pod requests some (charts/sweep values), so give it some.
  kwokctl scale node --name "$name" --replicas "$nodes" --param '.allocatable["ephemeral-storage"]="100Gi"' >>"$dir/kwokctl.log" 2>&1 || { cat "$dir/kwokctl.log" >&2; exit 1; }
  if ! KUBECONFIG=$dir/kubeconfig kubectl wait --for condition=Ready node --all --timeout 60s >/dev/null; then
    echo "fake nodes did not become Ready; the kwok controller's log ends:" >&2
    tail -n 30 "$KWOK_WORKDIR/clusters/$name/logs/kwok-controller.log" >&2 || true
    exit 1
  fi
  ;;
stop-control-plane)
  # An outage of the control plane: kube-apiserver, then etcd, killed the
  # hard way. kwokctl has no command to stop one component, but it keeps
  # each component's pid in its cluster directory and `kwokctl start
  # cluster` starts every component whose pid file names no live process;
  # removing the pid files is what its own stop does.
  pids=$KWOK_WORKDIR/clusters/$name/pids
  for c in kube-apiserver etcd; do
    pid=$(cat "$pids/$c.pid")
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$pids/$c.pid"
  done
  ;;
start-control-plane)
  # Starts etcd and kube-apiserver with the arguments of their creation (same
  # ports, certificates and data), and any other component that exited
  # meanwhile; waits until the API server serves.
  kwokctl start cluster --name "$name" >>"$dir/kwokctl.log" 2>&1 || { cat "$dir/kwokctl.log" >&2; exit 1; }
  ;;
down)
  kwokctl delete cluster --name "$name" >/dev/null 2>&1 || true
  rm -rf "$dir/kwok"
  ;;
*)
  echo "usage: hack/cluster.sh up|down|stop-control-plane|start-control-plane NAME DIR [NODES]" >&2
  exit 2
  ;;
esac
