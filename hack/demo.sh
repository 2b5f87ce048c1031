#!/usr/bin/env bash
# make demo: a drill round over a 64-building demo district, watched live.
#
# 1. starts a local Kubernetes control plane with kwokctl (--runtime binary,
#    every binary from bin/k8s, built from Go modules; no Docker, no download);
# 2. installs the CRDs and runs the operator as a process on this machine with
#    the local executor (visits run in-process: kwok has no container runtime);
# 3. applies the demo district (config/samples/sweep_demo_district.yaml) and a
#    drill round with re-knocks one minute apart, drill time scaled down, and
#    a drill lab: one pooled tube of xinjiang-6 comes back positive seconds
#    after the building is swept, so a positive pool appears, its single-tube
#    retest is admitted ahead of the queued buildings, and the pool resolves
#    with a household to seal (docs/positive-pools.md);
# 4. shows the round live with `sweep status --watch`, then its summary;
# 5. tears everything down on exit or Ctrl-C.
# It takes about 4 minutes: 24 teams sweep 64 buildings, two visits each at
# most, a minute apart (a team waits with its building between visits).
# SWEEP_DEMO_KEEP=1 keeps the cluster at the end; SWEEP_DEMO_BIN runs another
# sweep binary than bin/sweep.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/bin
k8s=$bin/k8s
name=sweep-demo
work=$(mktemp -d "${TMPDIR:-/tmp}/sweep-demo.XXXXXX")
metrics_addr=${SWEEP_DEMO_METRICS:-127.0.0.1:18080}
kubeconfig=$work/kubeconfig
sweep=${SWEEP_DEMO_BIN:-$bin/sweep}
manager_pid=

cleanup() {
  set +e
  if [ -n "$manager_pid" ]; then kill "$manager_pid" 2>/dev/null; wait "$manager_pid" 2>/dev/null; fi
  if [ "${SWEEP_DEMO_KEEP:-}" = 1 ]; then
    echo ">> keeping the cluster: KUBECONFIG=$kubeconfig; delete it with hack/cluster.sh down $name $work"
    return
  fi
  "$root/hack/cluster.sh" down "$name" "$work"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo ">> starting a local cluster (kwokctl, binaries from bin/k8s): hack/cluster.sh"
"$root/hack/cluster.sh" up "$name" "$work"
export KUBECONFIG=$kubeconfig
kubectl() { "$k8s/kubectl" "$@"; }

echo ">> installing the CRDs"
kubectl apply --server-side -f "$root/config/crd/bases" >/dev/null
# A CRD has no conditions for a moment after it is created, and kubectl wait
# fails at once on that; so ask again until it answers.
for i in $(seq 60); do
  kubectl wait --for condition=established --timeout=60s crd/buildings.sweep.masstesting.io \
    crd/testingrounds.sweep.masstesting.io crd/collectionjobs.sweep.masstesting.io \
    crd/positivepools.sweep.masstesting.io >/dev/null 2>&1 && break
  [ "$i" = 60 ] && { echo "the CRDs were not established within a minute" >&2; exit 1; }
  sleep 1
done

echo ">> starting the operator (local executor, drill time x0.001); log: $work/manager.log"
"$sweep" manager --executor=local --drill-time-scale=0.001 \
  --metrics-bind-address="$metrics_addr" --metrics-secure=false \
  --health-probe-bind-address=127.0.0.1:0 >"$work/manager.log" 2>&1 &
manager_pid=$!
echo "   metrics while it runs: curl -s http://$metrics_addr/metrics"

echo ">> applying the demo district: 64 buildings in 5 communities"
kubectl create namespace demo >/dev/null
kubectl apply --server-side -n demo -f "$root/config/samples/sweep_demo_district.yaml" >/dev/null

start=$(date -u +%Y-%m-%dT%H:%M:%SZ)
deadline=$(date -u -d '+2 hours' +%Y-%m-%dT%H:%M:%SZ)
kubectl apply --server-side -n demo -f - >/dev/null <<YAML
apiVersion: sweep.masstesting.io/v1alpha1
kind: TestingRound
metadata:
  name: demo-round
spec:
  start: "$start"
  deadline: "$deadline"
  teams: 24
  visits: {max: 2, interval: 1m}
  collector:
    source: drill
    drill: {seed: 20221126, absentPercent: 15, stillAbsentPercent: 40}
  # A drill lab: results 5 s after a building is swept. Seed 525 at 2 per
  # mille marks tube 0 of xinjiang-6 (a Controlled building of the first
  # wave) positive and no other tube of the district (lab.Drill is pure:
  # TestDemoLabSeed checks it), so one positive pool appears while
  # buildings are still queued.
  lab:
    source: drill
    drill: {seed: 525, positivePermille: 2, turnaround: 5s}
    pollInterval: 10s
    sealing: Automatic
YAML
echo ">> round demo-round started at $start; watching it (Ctrl-C stops the demo)"
sleep 1
"$sweep" status -n demo --watch --interval 2s --timeout 10m demo-round
echo
kubectl get testingrounds -n demo
kubectl get positivepools -n demo
