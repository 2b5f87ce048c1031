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
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testharness"
)

// TestNamespaceDeletedMidRound deletes a district's namespace while its
// round runs: kube-controller-manager's namespace controller removes the
// round, its jobs, visit Jobs and pods, and the Buildings. The manager must
// take that calmly: no crash, no panic (recovered or not), no error loop
// over objects that are gone. Then the same namespace is created again and
// another one beside it, and a round in each completes with the ground
// truth: the manager remembers nothing of the deleted namespace that would
// hold the new rounds back.
func TestNamespaceDeletedMidRound(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, nil)
	metrics := testharness.FreeAddr(t)
	mgr := cl.startManager(t, "namespace", slowDrill, "--metrics-bind-address="+metrics, "--metrics-secure=false")
	ns := cl.namespace(t, "doomed")
	cl.startOneVisitRound(t, ns)

	deleted := time.Now()
	if err := cl.c.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	t.Logf("namespace %s deleted", ns)
	await(t, 3*time.Minute, "the namespace controller to remove namespace "+ns, func(ctx context.Context) (bool, error) {
		err := cl.c.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
	gone := time.Now()
	t.Logf("namespace %s gone %s after its deletion", ns, gone.Sub(deleted).Round(100*time.Millisecond))

	// A round in the namespace created again under the same name, and one
	// in a new namespace, side by side.
	t.Run("rounds after", func(t *testing.T) {
		for _, name := range []string{ns, "spared"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				cl.namespace(t, name)
				buildings := cl.applyDistrict(t, name)
				tr := drillRound(name, "tomorrow", 64, 1, 2*time.Hour, 99)
				if err := cl.c.Create(context.Background(), tr); err != nil {
					t.Fatal(err)
				}
				cl.checkRoundIn(t, name, tr, buildings)
			})
		}
	})

	select {
	case <-mgr.exited:
		t.Fatalf("the manager exited: %v", mgr.cmd.ProcessState)
	default:
	}
	data, err := os.ReadFile(mgr.log)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToLower(string(data)), "panic") {
		t.Error("the manager's log mentions a panic")
	}
	// Errors while the namespace went away are expected (a write racing
	// the namespace controller), but a bounded few, and none once it is
	// gone: an error loop over deleted objects would keep adding lines for
	// as long as the rounds after ran. Reconciles under way when the
	// namespace went may still log theirs a little later; the log's
	// timestamps have whole seconds.
	settled := gone.Add(errorGrace)
	var during, after int
	for _, l := range reconcilerErrors(t, mgr) {
		when, err := time.Parse(time.RFC3339, fmt.Sprint(l["ts"]))
		if err == nil && !when.After(settled) {
			during++
		} else {
			after++
		}
		t.Logf("  %v %v %v: %v", l["ts"], l["controller"], l["name"], l["error"])
	}
	t.Logf("%d Reconciler error lines until %s after the namespace was gone, %d later", during, errorGrace, after)
	if after > 0 {
		t.Errorf("%d Reconciler error lines more than %s after the namespace was gone", after, errorGrace)
	}
	if during > 64 {
		t.Errorf("%d Reconciler error lines while the namespace went away: more than one per building", during)
	}
	scraped, err := testharness.Scrape("http://"+metrics+"/metrics", testharness.ScrapeOptions{})
	if err != nil {
		t.Fatalf("scraping the manager's metrics: %v", err)
	}
	panics := scraped["controller_runtime_reconcile_panics_total"]
	if panics == nil || len(panics.Metric) == 0 {
		t.Error("no controller_runtime_reconcile_panics_total series in the manager's metrics")
	} else {
		for _, m := range panics.Metric {
			if n := m.GetCounter().GetValue(); n != 0 {
				t.Errorf("reconcile panics counted: %s", m)
			}
		}
	}
}

// errorGrace is how long after its namespace is gone a reconcile that
// began before may still log an error about it.
const errorGrace = 10 * time.Second

// checkRoundIn is checkRound for one namespace of a cluster that has seen
// others: only this namespace's pods and collector errors count.
func (cl *cluster) checkRoundIn(t *testing.T, ns string, tr *sweepv1alpha1.TestingRound, buildings []sweepv1alpha1.Building) {
	t.Helper()
	// Two rounds at once on a loaded 2-core machine: 1 to 2 minutes each
	// when it is quiet, more than 4 when three other test suites run.
	done := cl.awaitRoundPhase(t, ns, tr.Name, sweepv1alpha1.RoundCompleted, 8*time.Minute)
	jobs := cl.jobs(t, ns)
	cl.checkOneOfEach(t, ns, buildings, jobs)
	checkAgainstTruth(t, jobs, groundTruth(t, buildings, tr, 1), done.Status)
	runs := 0
	for pod, n := range cl.kubelet.Runs() {
		if strings.HasPrefix(pod, ns+"/"+tr.Name+"-") {
			runs++
			if n != 1 {
				t.Errorf("the collector ran %d times for pod %s", n, pod)
			}
		}
	}
	if runs != len(buildings) {
		t.Errorf("the collector ran for %d pods of round %s/%s, want one per building (%d)", runs, ns, tr.Name, len(buildings))
	}
	for _, e := range cl.kubelet.Errors() {
		if strings.HasPrefix(e, "collector for pod "+ns+"/"+tr.Name+"-") {
			t.Errorf("collector failed: %s", e)
		}
	}
	t.Logf("round %s/%s completed: %d sampled, %d missed", ns, tr.Name, done.Status.Residents.Sampled, done.Status.Residents.Missed)
}

// reconcilerErrors returns the manager's "Reconciler error" log lines.
func reconcilerErrors(t *testing.T, m *manager) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range m.logLines(t) {
		if l["msg"] == "Reconciler error" {
			out = append(out, l)
		}
	}
	return out
}
