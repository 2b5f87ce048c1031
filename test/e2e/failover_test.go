/*
Copyright 2026 The Sweep Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// slowDrill makes a drill visit of 117 residents take 7.2 s, so that a
// district round with 16 teams runs for about a minute: long enough to kill
// a manager in the middle of it.
const slowDrill = "--drill-time-scale=0.002"

// startOneVisitRound applies the district and a one-visit round with 16
// teams, and waits until at least 16 buildings are done and some are not.
func (cl *cluster) startOneVisitRound(t *testing.T, ns string) (*sweepv1alpha1.TestingRound, []sweepv1alpha1.Building) {
	t.Helper()
	buildings := cl.applyDistrict(t, ns)
	tr := drillRound(ns, "today", 16, 1, 2*time.Hour, 42)
	if err := cl.c.Create(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			cl.logJobStates(t, ns)
		}
	})
	await(t, 3*time.Minute, "16 buildings done and the round still running", func(ctx context.Context) (bool, error) {
		done := 0
		for _, cj := range cl.jobs(t, ns) {
			if cj.Status.Phase == sweepv1alpha1.JobCompleted {
				done++
			}
		}
		if done == len(buildings) {
			t.Fatal("the round finished before the manager could be killed in the middle of it")
		}
		return done >= 16, nil
	})
	return tr, buildings
}

// checkRound waits for the round to complete and checks it against the
// ground truth: one job per building, one visit Job per visit, and each
// visit's collector run once.
func (cl *cluster) checkRound(t *testing.T, ns string, tr *sweepv1alpha1.TestingRound, buildings []sweepv1alpha1.Building) {
	t.Helper()
	done := cl.awaitRoundPhase(t, ns, tr.Name, sweepv1alpha1.RoundCompleted, 4*time.Minute)
	jobs := cl.jobs(t, ns)
	cl.checkOneOfEach(t, ns, buildings, jobs)
	checkAgainstTruth(t, jobs, groundTruth(t, buildings, tr, 1), done.Status)
	for pod, n := range cl.kubelet.Runs() {
		if n != 1 {
			t.Errorf("the collector ran %d times for pod %s", n, pod)
		}
	}
	if errs := cl.kubelet.Errors(); len(errs) > 0 {
		t.Errorf("collectors failed: %v", errs)
	}
	t.Logf("round completed: %d sampled, %d missed", done.Status.Residents.Sampled, done.Status.Residents.Missed)
}

// TestManagerKilledMidRound kills the only manager with SIGKILL while
// visits are under way and starts a new one: the round finishes with the
// ground truth's numbers and no object twice.
func TestManagerKilledMidRound(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, nil)
	first := cl.startManager(t, "first", slowDrill)
	ns := cl.namespace(t, "killed")
	tr, buildings := cl.startOneVisitRound(t, ns)
	first.kill(t)
	cl.startManager(t, "second", slowDrill)
	cl.checkRound(t, ns, tr, buildings)
}

// TestLeaderFailover runs two managers with leader election and kills the
// leader mid-round: the standby takes over within the lease duration and
// the round finishes with the ground truth's numbers. The managers run as
// a Deployment's pods do (restartingManager): on a loaded machine a
// leader may miss its renew deadline, and it then exits by design to be
// started again; the killed one is not started again.
func TestLeaderFailover(t *testing.T) {
	t.Parallel()
	const lease, retry = 10 * time.Second, time.Second
	cl := startCluster(t, nil)
	args := []string{slowDrill, "--leader-elect", "--leader-election-namespace=default",
		"--leader-elect-lease-duration=" + lease.String(), "--leader-elect-renew-deadline=6s", "--leader-elect-retry-period=" + retry.String()}
	managers := []*restartingManager{cl.startRestartingManager(t, "a", args...), cl.startRestartingManager(t, "b", args...)}

	ns := cl.namespace(t, "failover")
	tr, buildings := cl.startOneVisitRound(t, ns)
	// The leader is the manager whose running process acquired the lease
	// now held.
	holder := cl.leaseHolder(t)
	var leader, standby *restartingManager
	await(t, time.Minute, "the leader", func(context.Context) (bool, error) {
		for i, m := range managers {
			for _, l := range m.current().logLines(t) {
				if msg, _ := l["msg"].(string); strings.EqualFold(msg, "successfully acquired lease") {
					leader, standby = m, managers[1-i]
				}
			}
		}
		if h := cl.leaseHolder(t); h != holder {
			holder, leader = h, nil // changed hands meanwhile: look again
		}
		return leader != nil, nil
	})
	leader.kill(t)
	killed := time.Now()
	await(t, 2*lease, "the standby to take the lease", func(ctx context.Context) (bool, error) {
		h := cl.leaseHolder(t)
		return h != "" && h != holder, nil
	})
	took := time.Since(killed)
	// The standby may take the lease once it has gone unrenewed for the
	// lease duration, and it looks every retry period (with up to 20%
	// jitter). On a loaded 2-core machine its API calls and this test's
	// own polling add up to a couple of seconds more.
	if limit := lease + 2*retry + 3*time.Second; took > limit {
		t.Errorf("the standby took over %s after the leader died; the lease duration allows %s", took, limit)
	}
	t.Logf("the standby took over %s after the leader was killed (lease %s, retry %s)", took.Round(100*time.Millisecond), lease, retry)
	cl.checkRound(t, ns, tr, buildings)
	t.Logf("restarts: leader %s %d before it was killed, standby %s %d", leader.id, leader.restarts(), standby.id, standby.restarts())
}

// logJobStates says, for a failed test, how many of the namespace's jobs
// are in each state, and names the unfinished ones: where a round stopped.
func (cl *cluster) logJobStates(t *testing.T, ns string) {
	t.Helper()
	var l sweepv1alpha1.CollectionJobList
	if err := cl.c.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		t.Logf("listing the jobs of %s: %v", ns, err)
		return
	}
	states := map[string]int{}
	for _, j := range l.Items {
		states[fmt.Sprintf("phase=%q suspend=%v", j.Status.Phase, j.Spec.Suspend)]++
		if !j.Status.Phase.Finished() {
			t.Logf("unfinished job %s: phase %q, suspend %v, activeJob %q, visits %d, failed attempts %d",
				j.Name, j.Status.Phase, j.Spec.Suspend, j.Status.ActiveJob, j.Status.Visits, j.Status.FailedAttempts)
		}
	}
	t.Logf("jobs of %s by state: %v", ns, states)
	// Where a visit stopped: its pod not created, not running, or its
	// collector failed.
	var pods corev1.PodList
	if err := cl.c.List(context.Background(), &pods, client.InNamespace(ns)); err != nil {
		t.Logf("listing the pods of %s: %v", ns, err)
		return
	}
	podStates := map[string]int{}
	for _, p := range pods.Items {
		podStates[fmt.Sprintf("phase=%q node=%q", p.Status.Phase, p.Spec.NodeName)]++
	}
	t.Logf("visit pods of %s by state: %v; collector errors: %v", ns, podStates, cl.kubelet.Errors())
}

func (cl *cluster) leaseHolder(t *testing.T) string {
	t.Helper()
	var l coordinationv1.Lease
	if err := cl.c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: "sweep.masstesting.io"}, &l); err != nil {
		return ""
	}
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}
