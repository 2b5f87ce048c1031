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
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testharness/kubelet"
	"github.com/masstesting/sweep/internal/testobjects"
)

const (
	// drillTimeScale makes a drill visit of 117 residents take 1.8 s.
	drillTimeScale = "0.0005"
	// A visit Job's pod carries its visit number in this label.
	visitLabel = "sweep.masstesting.io/visit"
)

// drillRound is a drill round over every building of ns, starting now, its
// visits a minute apart (the least interval the API takes).
func drillRound(ns, name string, teams, visits int32, deadline time.Duration, seed int64) *sweepv1alpha1.TestingRound {
	now := time.Now()
	return testobjects.Round(ns, name).Start(now).Deadline(now.Add(deadline)).Teams(teams).Visits(visits, time.Minute).
		Collector(sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill,
			Drill: &sweepv1alpha1.DrillSource{Seed: seed, AbsentPercent: ptr.To[int32](20), StillAbsentPercent: ptr.To[int32](40)}}).
		Obj()
}

// applyDistrict puts the demo district's 64 buildings into ns.
func (cl *cluster) applyDistrict(t *testing.T, ns string) []sweepv1alpha1.Building {
	t.Helper()
	cl.kubectl(t, "apply", "--server-side", "-n", ns, "-f", filepath.Join(root, "config", "samples", "sweep_demo_district.yaml"))
	b := cl.buildings(t, ns)
	if len(b) != 64 {
		t.Fatalf("%d buildings in the demo district, want 64", len(b))
	}
	return b
}

// checkOneOfEach checks exactly one CollectionJob per building and exactly
// one visit Job per visit the job made, named -v1, -v2, … with no retry.
func (cl *cluster) checkOneOfEach(t *testing.T, ns string, buildings []sweepv1alpha1.Building, jobs []sweepv1alpha1.CollectionJob) {
	t.Helper()
	perBuilding := map[string]int{}
	for _, cj := range jobs {
		perBuilding[cj.Spec.Building]++
	}
	for _, b := range buildings {
		if perBuilding[b.Name] != 1 {
			t.Errorf("building %s has %d CollectionJobs, want exactly 1", b.Name, perBuilding[b.Name])
		}
	}
	visitJobs := map[string][]string{}
	for _, j := range cl.visitJobs(t, ns) {
		owner := metav1.GetControllerOf(&j)
		if owner == nil {
			t.Errorf("visit Job %s has no owner", j.Name)
			continue
		}
		visitJobs[owner.Name] = append(visitJobs[owner.Name], j.Name)
	}
	for _, cj := range jobs {
		var want []string
		for v := int32(1); v <= cj.Status.Visits; v++ {
			want = append(want, fmt.Sprintf("%s-v%d", cj.Name, v))
		}
		got := visitJobs[cj.Name]
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("job %s made %d visits with visit Jobs %v, want %v", cj.Name, cj.Status.Visits, got, want)
		}
	}
}

// TestRoundLifecycle runs the sample district's drill round on one manager
// and checks it against the drill's ground truth, then a round whose
// deadline cuts its last visit short, then the structured logs of both.
func TestRoundLifecycle(t *testing.T) {
	t.Parallel()
	held := "deadline" // visit 2 of this namespace's round outlasts the deadline
	cl := startCluster(t, func(p *corev1.Pod) kubelet.Action {
		if p.Namespace == held && p.Labels[visitLabel] == "2" {
			return kubelet.Hold
		}
		return kubelet.Run
	})
	mgr := cl.startManager(t, "lifecycle", "--drill-time-scale="+drillTimeScale)

	// The rounds run side by side; the group returns when both are done.
	t.Run("rounds", func(t *testing.T) {
		t.Run("district round equals the ground truth and revisits at its interval", func(t *testing.T) {
			t.Parallel()
			ns := cl.namespace(t, "district")
			buildings := cl.applyDistrict(t, ns)
			interval := time.Minute
			tr := drillRound(ns, "today", 64, 2, 2*time.Hour, 20221126)
			// When each collector's final report of visit 1 was made (its
			// own time stamp), read while it is the job's report: visit 2's
			// replaces it. The revisit interval counts from that report,
			// which the collector's process exit follows by up to seconds
			// on a loaded machine.
			reported := map[string]time.Time{}
			pollCtx, stopPolling := context.WithCancel(context.Background())
			polled := make(chan struct{})
			go func() {
				defer close(polled)
				for pollCtx.Err() == nil {
					var l sweepv1alpha1.CollectionJobList
					if err := cl.c.List(pollCtx, &l, client.InNamespace(ns)); err == nil {
						for _, j := range l.Items {
							if r := j.Status.Report; r != nil && r.Visit == 1 && r.Final {
								if _, ok := reported[j.Name]; !ok {
									reported[j.Name] = r.Time.Time
								}
							}
						}
					}
					select {
					case <-pollCtx.Done():
					case <-time.After(500 * time.Millisecond):
					}
				}
			}()
			if err := cl.c.Create(context.Background(), tr); err != nil {
				t.Fatal(err)
			}
			done := cl.awaitRoundPhase(t, ns, "today", sweepv1alpha1.RoundCompleted, 5*time.Minute)
			stopPolling()
			<-polled
			jobs := cl.jobs(t, ns)
			cl.checkOneOfEach(t, ns, buildings, jobs)
			truth := groundTruth(t, buildings, tr, 2)
			checkAgainstTruth(t, jobs, truth, done.Status)
			revisited, latest := 0, time.Duration(0)
			for _, cj := range jobs {
				if w := truth[cj.Spec.Building]; cj.Status.Visits != w.visits {
					t.Errorf("building %s had %d visits, ground truth %d", cj.Spec.Building, cj.Status.Visits, w.visits)
				}
				if cj.Status.Visits < 2 {
					continue
				}
				revisited++
				// The revisit waits the interval after visit 1's final report,
				// which the collector stored just before it exited.
				var v2 batchv1.Job
				cl.get(t, ns, cj.Name+"-v2", &v2)
				exited, ok := cl.kubelet.Exited(cj.Name + "-v1")
				if !ok {
					t.Errorf("the collector of %s-v1 never ran", cj.Name)
					continue
				}
				// Timestamps are cut to whole seconds (creationTimestamp up
				// to 1 s early, the report's time too): allow 2 s. Early is
				// judged from the final report, late from the collector's
				// exit (which follows it). A revisit more than 20 s past its
				// time is late.
				gap := v2.CreationTimestamp.Sub(exited)
				if gap > interval+20*time.Second {
					t.Errorf("building %s was revisited %s after visit 1 ended: late for its %s interval", cj.Spec.Building, gap, interval)
				}
				at, ok := reported[cj.Name]
				if !ok {
					t.Errorf("visit 1's final report of %s was never seen", cj.Name)
					continue
				}
				if sinceReport := v2.CreationTimestamp.Sub(at); sinceReport < interval-2*time.Second {
					t.Errorf("building %s was revisited %s after visit 1's final report, before its %s interval", cj.Spec.Building, sinceReport, interval)
				}
				latest = max(latest, gap)
			}
			if revisited == 0 {
				t.Fatal("no building was revisited: the test proves nothing about revisits")
			}
			t.Logf("64 buildings: %d sampled, %d missed, %d revisited at most %s after visit 1 (interval %s)",
				done.Status.Residents.Sampled, done.Status.Residents.Missed, revisited, latest, interval)

			// Deleting the finished round removes its jobs and their visit
			// Jobs (and pods) through the garbage collector.
			if err := cl.c.Delete(context.Background(), done); err != nil {
				t.Fatal(err)
			}
			await(t, 2*time.Minute, "the garbage collector to remove the round's jobs, visit Jobs and pods", func(ctx context.Context) (bool, error) {
				n, err := cl.count(ctx, ns)
				return n == 0, err
			})
		})

		t.Run("the deadline stops a revisit and keeps what was found", func(t *testing.T) {
			t.Parallel()
			ns := cl.namespace(t, held)
			buildings := cl.applyDistrict(t, ns)
			// Visit 1 ends within seconds; the revisit starts a minute later,
			// is held by the kubelet harness, and the deadline stops it.
			const deadline = 150 * time.Second
			tr := drillRound(ns, "short", 64, 3, deadline, 7)
			tr.Spec.BuildingSelector = &metav1.LabelSelector{MatchLabels: map[string]string{sweepv1alpha1.LabelCommunity: "xinjiang"}}
			if err := cl.c.Create(context.Background(), tr); err != nil {
				t.Fatal(err)
			}
			var swept []sweepv1alpha1.Building
			for _, b := range buildings {
				if b.Labels[sweepv1alpha1.LabelCommunity] == "xinjiang" {
					swept = append(swept, b)
				}
			}
			cl.awaitRoundPhase(t, ns, "short", sweepv1alpha1.RoundDeadlineExceeded, 4*time.Minute)
			// The round turns DeadlineExceeded at the deadline and counts
			// every unfinished building expired at once; the jobs themselves
			// are written Expired a moment later.
			var done *sweepv1alpha1.TestingRound
			await(t, time.Minute, "every building of the round to be finished", func(ctx context.Context) (bool, error) {
				for _, cj := range cl.jobs(t, ns) {
					if cj.Status.CompletionTime == nil {
						return false, nil
					}
				}
				done = cl.round(t, ns, "short")
				b := done.Status.Buildings
				return b.Total == int32(len(swept)) && b.Completed+b.Expired+b.Failed == b.Total && done.Status.Residents.Outstanding == 0, nil
			})
			jobs := cl.jobs(t, ns)
			if len(jobs) != len(swept) {
				t.Fatalf("%d jobs for %d buildings", len(jobs), len(swept))
			}
			truth := groundTruth(t, swept, tr, 1) // only visit 1 finished
			expired := 0
			for _, cj := range jobs {
				w := truth[cj.Spec.Building]
				if w.sampled == w.expected {
					continue // found everyone at once: no revisit to cut short
				}
				switch {
				case cj.Status.Phase == sweepv1alpha1.JobExpired && cj.Status.Visits == 2:
					expired++
				case cj.Status.Phase == sweepv1alpha1.JobCompleted && cj.Status.Visits == 1:
					// Right only if visit 1 ended so late (a loaded machine)
					// that the revisit would have started after the deadline.
					ended, ok := cl.kubelet.Exited(cj.Name + "-v1")
					if !ok || ended.Add(time.Minute).Before(tr.Spec.Deadline.Add(-2*time.Second)) {
						t.Errorf("building %s completed after visit 1 (ended %v) although a revisit fit before the deadline %v",
							cj.Spec.Building, ended, tr.Spec.Deadline)
					}
				default:
					t.Errorf("building %s: phase %s after %d visits, want Expired during visit 2", cj.Spec.Building, cj.Status.Phase, cj.Status.Visits)
				}
			}
			if expired == 0 {
				t.Error("no building was Expired by the deadline: the test proves nothing about stopping a visit")
			}
			t.Logf("%d of %d buildings expired during their revisit", expired, len(jobs))
			checkAgainstTruth(t, jobs, truth, done.Status)
			for _, j := range cl.visitJobs(t, ns) {
				if strings.HasSuffix(j.Name, "-v3") {
					t.Errorf("visit Job %s started after the deadline", j.Name)
				}
			}
		})
	})

	// Every line is JSON, and every line about a round or one of its
	// buildings names them.
	var aboutJobs, aboutRounds int
	for _, l := range mgr.logLines(t) {
		if _, ok := l["CollectionJob"]; ok {
			aboutJobs++
			if l["round"] == nil || l["building"] == nil {
				t.Errorf("a log line about a CollectionJob lacks its round or building: %v", l)
			}
		}
		if _, ok := l["TestingRound"]; ok {
			aboutRounds++
			if l["round"] == nil {
				t.Errorf("a log line about a round lacks the round: %v", l)
			}
		}
	}
	if aboutJobs == 0 || aboutRounds == 0 {
		t.Errorf("%d log lines about jobs and %d about rounds: expected both", aboutJobs, aboutRounds)
	}
}

// count is how many CollectionJobs, visit Jobs and pods are left in ns.
func (cl *cluster) count(ctx context.Context, ns string) (int, error) {
	var cjs sweepv1alpha1.CollectionJobList
	var pods corev1.PodList
	var jobs batchv1.JobList
	for _, l := range []client.ObjectList{&cjs, &jobs, &pods} {
		if err := cl.c.List(ctx, l, client.InNamespace(ns)); err != nil {
			return 0, err
		}
	}
	return len(cjs.Items) + len(jobs.Items) + len(pods.Items), nil
}

func (cl *cluster) get(t *testing.T, ns, name string, obj client.Object) {
	t.Helper()
	if err := cl.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
}
