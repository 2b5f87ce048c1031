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
	"sync/atomic"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/testharness/kubelet"
)

// holdFinalizer keeps a finished round's CollectionJobs terminating after
// the round is deleted, as the garbage collector of a city round takes
// minutes to delete them.
const holdFinalizer = "e2e.sweep.masstesting.io/hold"

// TestRoundIdentityAndLiveEdits runs three rounds side by side on one
// manager, each proving a rule of round identity or live edits on the
// real control plane:
// a round recreated under its name counts none of its predecessor's
// terminating jobs; a deadline moved later and then earlier is honoured by
// every building and its visit Job; a suspended round starts no re-knock.
func TestRoundIdentityAndLiveEdits(t *testing.T) {
	t.Parallel()
	var holdDeadline atomic.Bool
	holdDeadline.Store(true)
	cl := startCluster(t, func(p *corev1.Pod) kubelet.Action {
		if p.Namespace == "deadline-edit" && holdDeadline.Load() && p.Labels["release"] != "true" {
			return kubelet.Hold
		}
		return kubelet.Run
	})
	cl.startManager(t, "edits", "--drill-time-scale="+drillTimeScale)
	ctx := context.Background()

	t.Run("rounds", func(t *testing.T) {
		t.Run("a round recreated under its name counts none of the old jobs", func(t *testing.T) {
			t.Parallel()
			ns := cl.namespace(t, "recreate")
			swept := cl.community(t, ns, "xinjiang")
			old := drillRound(ns, "today", 16, 1, time.Hour, 1)
			old.Spec.BuildingSelector = xinjiang
			if err := cl.c.Create(ctx, old); err != nil {
				t.Fatal(err)
			}
			cl.awaitRoundPhase(t, ns, "today", sweepv1alpha1.RoundCompleted, 3*time.Minute)
			oldJobs := cl.jobs(t, ns)
			for i := range oldJobs {
				patch := fmt.Appendf(nil, `{"metadata":{"finalizers":[%q]}}`, holdFinalizer)
				if err := cl.c.Patch(ctx, &oldJobs[i], client.RawPatch(types.MergePatchType, patch)); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() { cl.releaseFinalizers(t, ns) })
			if err := cl.c.Delete(ctx, cl.round(t, ns, "today"), client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
				t.Fatal(err)
			}
			await(t, 2*time.Minute, "the garbage collector to delete the old round's jobs (held terminating)", func(ctx context.Context) (bool, error) {
				for _, cj := range cl.jobs(t, ns) {
					if cj.DeletionTimestamp == nil {
						return false, nil
					}
				}
				err := cl.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "today"}, &sweepv1alpha1.TestingRound{})
				return client.IgnoreNotFound(err) == nil && err != nil, nil
			})

			// The same name, another seed and two visits: a different
			// ground truth, so an old result counted would show.
			again := drillRound(ns, "today", 16, 2, time.Hour, 2)
			again.Spec.BuildingSelector = xinjiang
			if err := cl.c.Create(ctx, again); err != nil {
				t.Fatal(err)
			}
			done := cl.awaitRoundPhase(t, ns, "today", sweepv1alpha1.RoundCompleted, 5*time.Minute)
			var mine []sweepv1alpha1.CollectionJob
			terminating := 0
			for _, cj := range cl.jobs(t, ns) {
				switch {
				case round.Controls(done, &cj):
					mine = append(mine, cj)
				case cj.DeletionTimestamp != nil:
					terminating++
				default:
					t.Errorf("job %s is neither the new round's nor terminating", cj.Name)
				}
			}
			if terminating != len(oldJobs) {
				t.Fatalf("%d of the old round's %d jobs still terminating when the new round completed: the test proves nothing", terminating, len(oldJobs))
			}
			if b := done.Status.Buildings; b.Total != int32(len(swept)) || len(mine) != len(swept) {
				t.Errorf("the new round counts %d buildings and controls %d jobs, want %d", b.Total, len(mine), len(swept))
			}
			checkAgainstTruth(t, mine, groundTruth(t, swept, again, 2), done.Status)
		})

		t.Run("a deadline moved later and then earlier is honoured by every building", func(t *testing.T) {
			t.Parallel()
			ns := cl.namespace(t, "deadline-edit")
			swept := cl.community(t, ns, "xinjiang")
			tr := drillRound(ns, "moved", 16, 1, 75*time.Second, 3)
			tr.Spec.BuildingSelector = xinjiang
			if err := cl.c.Create(ctx, tr); err != nil {
				t.Fatal(err)
			}
			oldDeadline := tr.Spec.Deadline.Time
			await(t, time.Minute, "every building's first visit under way (held by the kubelet)", func(ctx context.Context) (bool, error) {
				return len(cl.visitJobs(t, ns)) == len(swept), nil
			})

			// Later: past the old deadline nobody expires and no visit Job
			// is cut by its own activeDeadlineSeconds.
			later := time.Now().Add(10 * time.Minute).Truncate(time.Second)
			cl.moveDeadline(t, ns, "moved", later)
			await(t, 30*time.Second, "every visit Job's own deadline to follow the round's", func(ctx context.Context) (bool, error) {
				for _, j := range cl.visitJobs(t, ns) {
					if end, ok := jobDeadline(j); !ok || end.Before(later) {
						return false, nil
					}
				}
				return true, nil
			})
			for time.Now().Before(oldDeadline.Add(20 * time.Second)) {
				for _, cj := range cl.jobs(t, ns) {
					if cj.Status.Phase != sweepv1alpha1.JobActive {
						t.Fatalf("building %s is %s %s after the old deadline, which was moved later", cj.Spec.Building, cj.Status.Phase, time.Since(oldDeadline).Round(time.Second))
					}
				}
				for _, j := range cl.visitJobs(t, ns) {
					for _, c := range j.Status.Conditions {
						if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
							t.Fatalf("visit Job %s failed (%s) after the deadline was moved later", j.Name, c.Reason)
						}
					}
				}
				if p := cl.round(t, ns, "moved").Status.Phase; p != sweepv1alpha1.RoundRunning {
					t.Fatalf("round %s after its deadline was moved later", p)
				}
				time.Sleep(time.Second) // watching a span of time: nothing to await
			}

			// Half the visits finish; then the deadline moves earlier and
			// stops the others at once.
			released := map[string]bool{}
			for i, b := range swept {
				if i%2 == 0 {
					released[b.Name] = true
				}
			}
			for _, cj := range cl.jobs(t, ns) {
				if released[cj.Spec.Building] {
					cl.releasePods(t, ns, cj.Name+"-v1")
				}
			}
			await(t, 2*time.Minute, "the released buildings completed", func(ctx context.Context) (bool, error) {
				n := 0
				for _, cj := range cl.jobs(t, ns) {
					if released[cj.Spec.Building] && cj.Status.Phase == sweepv1alpha1.JobCompleted {
						n++
					}
				}
				return n == len(released), nil
			})
			earlier := time.Now().Add(20 * time.Second).Truncate(time.Second)
			cl.moveDeadline(t, ns, "moved", earlier)
			await(t, 30*time.Second, "every running visit Job's own deadline to follow the round's earlier one", func(ctx context.Context) (bool, error) {
				for _, j := range cl.visitJobs(t, ns) {
					if end, ok := jobDeadline(j); ok && j.Status.CompletionTime == nil && end.After(earlier.Add(3*time.Minute)) {
						return false, nil
					}
				}
				return true, nil
			})
			cl.awaitRoundPhase(t, ns, "moved", sweepv1alpha1.RoundDeadlineExceeded, time.Minute)
			await(t, 30*time.Second, "the held buildings expired and their visits stopped", func(ctx context.Context) (bool, error) {
				for _, cj := range cl.jobs(t, ns) {
					if !released[cj.Spec.Building] && cj.Status.Phase != sweepv1alpha1.JobExpired {
						return false, nil
					}
				}
				for _, j := range cl.visitJobs(t, ns) {
					if j.Status.CompletionTime == nil && j.DeletionTimestamp == nil {
						return false, nil // a visit still running past the deadline
					}
				}
				return true, nil
			})
			for _, cj := range cl.jobs(t, ns) {
				if released[cj.Spec.Building] {
					continue
				}
				at := cj.Status.CompletionTime
				if at == nil || at.Before(&metav1.Time{Time: earlier.Add(-time.Second)}) || at.After(earlier.Add(10*time.Second)) {
					t.Errorf("building %s expired at %v, want at the moved deadline %v", cj.Spec.Building, at, earlier)
				}
			}
			truth := groundTruth(t, swept, tr, 1)
			for b := range truth {
				if !released[b] {
					w := truth[b]
					w.sampled, w.missedHouseholds = 0, nil // stopped before its report
					truth[b] = w
				}
			}
			done := cl.round(t, ns, "moved")
			checkAgainstTruth(t, cl.jobs(t, ns), truth, done.Status)
		})

		t.Run("a suspended round starts no re-knock", func(t *testing.T) {
			t.Parallel()
			ns := cl.namespace(t, "suspend")
			swept := cl.community(t, ns, "xinjiang")
			if len(swept) == 0 {
				t.Fatal("the demo district has no building in community xinjiang")
			}
			tr := drillRound(ns, "held", int32(len(swept)), 2, time.Hour, 4)
			tr.Spec.BuildingSelector = xinjiang
			tr.Spec.Collector.Drill.AbsentPercent = ptr.To[int32](30)
			if err := cl.c.Create(ctx, tr); err != nil {
				t.Fatal(err)
			}
			// Suspended while the first visits are under way (a team for
			// every building, so each has its visit Job): the visits under
			// way finish, and no re-knock may start, however long the
			// machine takes to finish them.
			await(t, 2*time.Minute, "a first visit Job for every building", func(ctx context.Context) (bool, error) {
				return len(cl.visitJobs(t, ns)) >= len(swept), nil
			})
			patch := []byte(`{"spec":{"suspend":true}}`)
			if err := cl.c.Patch(ctx, cl.round(t, ns, "held"), client.RawPatch(types.MergePatchType, patch)); err != nil {
				t.Fatal(err)
			}
			oneVisitEach := func() {
				t.Helper()
				if n := len(cl.visitJobs(t, ns)); n != len(swept) {
					t.Fatalf("%d visit Jobs for %d buildings while the round is suspended: a re-knock started", n, len(swept))
				}
				for _, cj := range cl.jobs(t, ns) {
					if cj.Status.Visits > 1 {
						t.Fatalf("building %s is on visit %d while the round is suspended", cj.Spec.Building, cj.Status.Visits)
					}
				}
			}
			oneVisitEach()
			var waiting []sweepv1alpha1.CollectionJob
			await(t, 3*time.Minute, "every first visit over", func(ctx context.Context) (bool, error) {
				oneVisitEach()
				waiting = nil
				jobs := cl.jobs(t, ns)
				for _, cj := range jobs {
					switch cj.Status.Phase {
					case sweepv1alpha1.JobWaiting:
						waiting = append(waiting, cj)
					case sweepv1alpha1.JobCompleted:
					default:
						return false, nil
					}
				}
				return len(jobs) == len(swept), nil
			})
			if len(waiting) == 0 {
				t.Fatalf("no building waits for a re-knock: the test proves nothing (the drill's seed finds every resident of %d buildings at home)", len(swept))
			}
			var due time.Time
			for _, cj := range waiting {
				if cj.Status.NextVisitTime == nil {
					t.Fatalf("building %s waits with no next visit time", cj.Spec.Building)
				}
				if cj.Status.NextVisitTime.After(due) {
					due = cj.Status.NextVisitTime.Time
				}
			}
			// Watch until 20 s after the last re-knock came due.
			for time.Now().Before(due.Add(20 * time.Second)) {
				oneVisitEach()
				for _, cj := range cl.jobs(t, ns) {
					if cj.Status.Phase == sweepv1alpha1.JobActive {
						t.Fatalf("building %s is Active again while the round is suspended", cj.Spec.Building)
					}
				}
				time.Sleep(time.Second) // watching a span of time: nothing to await
			}
			patch = []byte(`{"spec":{"suspend":false}}`)
			if err := cl.c.Patch(ctx, cl.round(t, ns, "held"), client.RawPatch(types.MergePatchType, patch)); err != nil {
				t.Fatal(err)
			}
			done := cl.awaitRoundPhase(t, ns, "held", sweepv1alpha1.RoundCompleted, 5*time.Minute)
			jobs := cl.jobs(t, ns)
			cl.checkOneOfEach(t, ns, swept, jobs)
			checkAgainstTruth(t, jobs, groundTruth(t, swept, tr, 2), done.Status)
			t.Logf("%d of %d buildings waited for a re-knock while the round was suspended", len(waiting), len(swept))
		})
	})
}

var xinjiang = &metav1.LabelSelector{MatchLabels: map[string]string{sweepv1alpha1.LabelCommunity: "xinjiang"}}

// community applies the demo district to ns and returns the buildings of
// one community.
func (cl *cluster) community(t *testing.T, ns, name string) []sweepv1alpha1.Building {
	t.Helper()
	var out []sweepv1alpha1.Building
	for _, b := range cl.applyDistrict(t, ns) {
		if b.Labels[sweepv1alpha1.LabelCommunity] == name {
			out = append(out, b)
		}
	}
	return out
}

func (cl *cluster) moveDeadline(t *testing.T, ns, name string, to time.Time) {
	t.Helper()
	patch := fmt.Appendf(nil, `{"spec":{"deadline":%q}}`, to.UTC().Format(time.RFC3339))
	obj := &sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := cl.c.Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
}

// releasePods labels a held visit Job's pods so the kubelet harness runs
// them (the label change is the pod update that makes it look again).
func (cl *cluster) releasePods(t *testing.T, ns, job string) {
	t.Helper()
	var pods corev1.PodList
	if err := cl.c.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{"job-name": job}); err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) == 0 {
		t.Fatalf("visit Job %s has no pod to release", job)
	}
	for i := range pods.Items {
		patch := []byte(`{"metadata":{"labels":{"release":"true"}}}`)
		if err := cl.c.Patch(context.Background(), &pods.Items[i], client.RawPatch(types.MergePatchType, patch)); err != nil {
			t.Fatal(err)
		}
	}
}

// releaseFinalizers lets the held jobs of ns go.
func (cl *cluster) releaseFinalizers(t *testing.T, ns string) {
	for _, cj := range cl.jobs(t, ns) {
		if len(cj.Finalizers) == 0 {
			continue
		}
		if err := cl.c.Patch(context.Background(), &cj, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`))); client.IgnoreNotFound(err) != nil {
			t.Error(err)
		}
	}
}

// jobDeadline is when a visit Job's own activeDeadlineSeconds ends it.
func jobDeadline(j batchv1.Job) (time.Time, bool) {
	if j.Spec.ActiveDeadlineSeconds == nil || j.Status.StartTime == nil {
		return time.Time{}, false
	}
	return j.Status.StartTime.Add(time.Duration(*j.Spec.ActiveDeadlineSeconds) * time.Second), true
}
