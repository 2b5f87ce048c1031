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

package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collection"
	"github.com/masstesting/sweep/internal/collector"
	"github.com/masstesting/sweep/internal/testharness"
	"github.com/masstesting/sweep/internal/testobjects"
)

func jobExecutor(mgr ctrl.Manager) Executor {
	return &JobExecutor{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Image: "sweep:test"}
}

// oneBuilding creates building "b" (120 residents, 20 exempt, 4 at home)
// and a drill round "r" over it, and returns the round's job name.
func oneBuilding(t *testing.T, ns string, now time.Time, absent, stillAbsent, maxVisits int32) string {
	t.Helper()
	ctx := context.Background()
	b := testobjects.Building(ns, "b").WithLabels(street).Residents(120).Exempt(20).HomeVisit(4).Households(48).
		Layout(2, 6).Level(sweepv1alpha1.ControlLevelSealed).Obj()
	if err := k8s.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	tr := newRound(ns, "r", now, 1, street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: maxVisits, Interval: &sweepv1alpha1.Duration{Duration: time.Hour}}
	tr.Spec.Collector.Drill = &sweepv1alpha1.DrillSource{Seed: 7, AbsentPercent: &absent, StillAbsentPercent: &stillAbsent}
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	return jobName(t, ns, "r", "b")
}

// getJob reads a CollectionJob; one not created yet reads as empty, so
// awaited conditions simply do not hold yet.
func getJob(t *testing.T, ns, name string) *sweepv1alpha1.CollectionJob {
	t.Helper()
	var cj sweepv1alpha1.CollectionJob
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &cj); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	return &cj
}

func awaitPhase(t *testing.T, ns, name string, phase sweepv1alpha1.JobPhase, visits int32) *sweepv1alpha1.CollectionJob {
	t.Helper()
	var cj *sweepv1alpha1.CollectionJob
	err := testharness.Poll(context.Background(), time.Minute, 50*time.Millisecond, func(context.Context) (bool, error) {
		cj = getJob(t, ns, name)
		return cj.Status.Phase == phase && cj.Status.Visits == visits, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s %s after visit %d: %v; status: %+v", name, phase, visits, err, cj.Status)
	}
	return cj
}

// pokeJob touches a CollectionJob so it is reconciled now, after the test
// moved the fake clock.
func pokeJob(t *testing.T, ns, name string) {
	t.Helper()
	touch(t, &sweepv1alpha1.CollectionJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
}

// drillOutcome is what the drill source says of visit v of building "b".
func drillOutcome(t *testing.T, cj *sweepv1alpha1.CollectionJob, v int32) collector.Outcome {
	t.Helper()
	o, err := collector.DrillSource{}.Visit(context.Background(), assignmentOf(t, cj, v), nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// assignmentOf is the assignment of visit v of cj as an executor gets it:
// with its round's values as the round says them now (collection.FollowRound),
// which a stored job does not carry.
func assignmentOf(t *testing.T, cj *sweepv1alpha1.CollectionJob, v int32) collector.Assignment {
	t.Helper()
	followed := cj.DeepCopy()
	collection.FollowRound(followed, getRound(t, cj.Namespace, cj.Spec.Round))
	return collector.AssignmentFor(followed, v, 0)
}

func jobEvents(t *testing.T, ns, name string) map[string]string {
	t.Helper()
	return eventsAbout(t, ns, "CollectionJob", name)
}

func TestOneVisitCompletes(t *testing.T) {
	ns := newNamespace(t)
	clk := clocktesting.NewFakeClock(time.Now())
	kubelet := startFakeKubelet(t, ns, func(*batchv1.Job) kubeletAction { return runCollector })
	startManagerWith(t, ns, clk, nil, jobExecutor)
	name := oneBuilding(t, ns, clk.Now(), 0, 0, 3)

	cj := awaitPhase(t, ns, name, sweepv1alpha1.JobCompleted, 1)
	if cj.Status.Sampled != 100 || cj.Status.Missed != 0 || cj.Status.HomeVisited != 4 || cj.Status.Tubes != 10 || len(cj.Status.MissedHouseholds) != 0 {
		t.Errorf("status after one full visit: %+v", cj.Status)
	}
	if got := kubelet.jobs(); !slices.Equal(got, []string{name + "-v1"}) {
		t.Errorf("visit Jobs %v, want one", got)
	}
	var job batchv1.Job
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name + "-v1"}, &job); err != nil {
		t.Fatal(err)
	}
	pod := job.Spec.Template.Spec
	c := pod.Containers[0]
	if ref := metav1.GetControllerOf(&job); ref == nil || ref.Name != name || ref.Kind != "CollectionJob" {
		t.Errorf("visit Job not owned by its CollectionJob: %+v", job.OwnerReferences)
	}
	if pod.ServiceAccountName != CollectorServiceAccount || c.Image != "sweep:test" || !slices.Equal(c.Args, []string{"collect"}) ||
		*c.SecurityContext.AllowPrivilegeEscalation || !*c.SecurityContext.ReadOnlyRootFilesystem || !*pod.SecurityContext.RunAsNonRoot ||
		c.Resources.Requests.Cpu().IsZero() || *job.Spec.BackoffLimit != 0 {
		t.Errorf("default collector pod is not the restricted one: %+v", pod)
	}
	var role rbacv1.Role
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: CollectorServiceAccount}, &role); err != nil {
		t.Fatalf("collector Role: %v", err)
	}
	if len(role.Rules) != 2 || !slices.Equal(role.Rules[0].Verbs, []string{"get"}) || !slices.Equal(role.Rules[1].Resources, []string{"collectionjobs/status"}) || !slices.Equal(role.Rules[1].Verbs, []string{"patch"}) {
		t.Errorf("collector Role grants more than reading jobs and patching their status: %+v", role.Rules)
	}
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: CollectorServiceAccount}, &corev1.ServiceAccount{}); err != nil {
		t.Errorf("collector ServiceAccount: %v", err)
	}
	await(t, "round Completed", func() (bool, error) {
		st := getRound(t, ns, "r").Status
		return st.Phase == sweepv1alpha1.RoundCompleted && st.Residents.Sampled == 100, nil
	})
}

func TestRevisitsUntilEveryoneIsSampled(t *testing.T) {
	ns := newNamespace(t)
	clk := clocktesting.NewFakeClock(time.Now())
	kubelet := startFakeKubelet(t, ns, func(*batchv1.Job) kubeletAction { return runCollector })
	startManagerWith(t, ns, clk, nil, jobExecutor)
	// A fifth are out on the first visit; all are home on the second.
	name := oneBuilding(t, ns, clk.Now(), 20, 0, 3)

	cj := awaitPhase(t, ns, name, sweepv1alpha1.JobWaiting, 1)
	first := drillOutcome(t, cj, 1)
	// Waiting for a re-knock: the residents not found are outstanding, not
	// missed yet (kubectl shows both columns).
	if cj.Status.Sampled != first.Sampled || cj.Status.Outstanding != 100-first.Sampled || cj.Status.Missed != 0 || len(cj.Status.MissedHouseholds) == 0 ||
		cj.Status.NextVisitTime == nil || !cj.Status.NextVisitTime.Time.Equal(clk.Now().Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("after visit 1: %+v", cj.Status)
	}
	if row := printedRow(t, ns, name); fmt.Sprint(row["Outstanding"]) != fmt.Sprint(100-first.Sampled) || row["Missed"] != nil {
		t.Errorf("kubectl get collectionjobs while Waiting shows %v; want Outstanding %d and no Missed", row, 100-first.Sampled)
	}
	clk.Step(time.Hour)
	pokeJob(t, ns, name)
	cj = awaitPhase(t, ns, name, sweepv1alpha1.JobCompleted, 2)
	if cj.Status.Sampled != 100 || cj.Status.Missed != 0 || cj.Status.Outstanding != 0 || len(cj.Status.MissedHouseholds) != 0 {
		t.Errorf("after visit 2: %+v", cj.Status)
	}
	if got := kubelet.jobs(); !slices.Equal(got, []string{name + "-v1", name + "-v2"}) {
		t.Errorf("visit Jobs %v", got)
	}
}

func TestRevisitsExhaustedLeaveMissedHouseholds(t *testing.T) {
	ns := newNamespace(t)
	clk := clocktesting.NewFakeClock(time.Now())
	startFakeKubelet(t, ns, func(*batchv1.Job) kubeletAction { return runCollector })
	startManagerWith(t, ns, clk, nil, jobExecutor)
	name := oneBuilding(t, ns, clk.Now(), 40, 50, 2)

	awaitPhase(t, ns, name, sweepv1alpha1.JobWaiting, 1)
	clk.Step(time.Hour)
	pokeJob(t, ns, name)
	cj := awaitPhase(t, ns, name, sweepv1alpha1.JobCompleted, 2)
	want := drillOutcome(t, cj, 2)
	if cj.Status.Sampled != want.Sampled || cj.Status.Missed != 100-want.Sampled || cj.Status.Missed == 0 || cj.Status.Outstanding != 0 ||
		!slices.Equal(cj.Status.MissedHouseholds, want.MissedHouseholds) || len(want.MissedHouseholds) == 0 {
		t.Errorf("after the last visit: %+v, want sampled %d and households %v", cj.Status, want.Sampled, want.MissedHouseholds)
	}
	await(t, "round Completed with the missed residents", func() (bool, error) {
		st := getRound(t, ns, "r").Status
		return st.Phase == sweepv1alpha1.RoundCompleted && st.Residents.Missed == int64(100-want.Sampled), nil
	})
}

func TestDeadlineMidVisitExpiresAndKeepsWhatWasReported(t *testing.T) {
	ns := newNamespace(t)
	clk := clocktesting.NewFakeClock(time.Now())
	startFakeKubelet(t, ns, func(*batchv1.Job) kubeletAction { return hold })
	startManagerWith(t, ns, clk, nil, jobExecutor)
	name := oneBuilding(t, ns, clk.Now(), 0, 0, 3)
	cj := awaitPhase(t, ns, name, sweepv1alpha1.JobActive, 1)

	// Halfway through the visit the collector reports 37 sampled.
	a := assignmentOf(t, cj, 1)
	if err := (collector.StatusReporter{Client: k8s}).Report(context.Background(), a, collector.Outcome{Sampled: 37, HomeVisited: 4}, false); err != nil {
		t.Fatal(err)
	}
	await(t, "the progress report taken", func() (bool, error) { return getJob(t, ns, name).Status.Sampled == 37, nil })

	clk.SetTime(getRound(t, ns, cj.Spec.Round).Spec.Deadline.Time)
	pokeJob(t, ns, name)
	cj = awaitPhase(t, ns, name, sweepv1alpha1.JobExpired, 1)
	if cj.Status.Sampled != 37 || cj.Status.Missed != 63 || cj.Status.ActiveJob != "" || cj.Status.CompletionTime == nil {
		t.Errorf("expired status: %+v", cj.Status)
	}
	await(t, "the visit Job stopped", func() (bool, error) {
		var job batchv1.Job
		err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name + "-v1"}, &job)
		return apierrors.IsNotFound(err) || job.DeletionTimestamp != nil, nil
	})
}

func TestCrashingCollectorIsRetriedThenFails(t *testing.T) {
	ns := newNamespace(t)
	clk := clocktesting.NewFakeClock(time.Now())
	kubelet := startFakeKubelet(t, ns, func(*batchv1.Job) kubeletAction { return crash })
	startManagerWith(t, ns, clk, nil, jobExecutor)
	name := oneBuilding(t, ns, clk.Now(), 0, 0, 3)

	for attempt := int32(1); attempt < collection.MaxAttempts; attempt++ {
		await(t, fmt.Sprintf("failed attempt %d", attempt), func() (bool, error) {
			st := getJob(t, ns, name).Status
			return st.FailedAttempts == attempt && st.ActiveJob == "" && st.NextVisitTime != nil, nil
		})
		clk.Step(collection.RetryBackoff << (attempt - 1))
		pokeJob(t, ns, name)
	}
	cj := awaitPhase(t, ns, name, sweepv1alpha1.JobFailed, 1)
	c := meta.FindStatusCondition(cj.Status.Conditions, sweepv1alpha1.ConditionFailed)
	if c == nil || c.Reason != sweepv1alpha1.ReasonVisitFailed || !strings.Contains(c.Message, "visit 1") || !strings.Contains(c.Message, "BackoffLimitExceeded") {
		t.Errorf("Failed condition does not name the visit and the cause: %+v", c)
	}
	if cj.Status.Sampled != 0 || cj.Status.Missed != 100 {
		t.Errorf("a failed visit counted residents: %+v", cj.Status)
	}
	if got := kubelet.jobs(); !slices.Equal(got, []string{name + "-v1", name + "-v1-r1", name + "-v1-r2"}) {
		t.Errorf("visit Jobs %v, want three attempts", got)
	}
	await(t, "the Failed event", func() (bool, error) { return jobEvents(t, ns, name)["Failed"] != "", nil })
}

func TestJobThatSucceedsWithoutAReportIsAFailedAttempt(t *testing.T) {
	ns := newNamespace(t)
	clk := clocktesting.NewFakeClock(time.Now())
	kubelet := startFakeKubelet(t, ns, func(job *batchv1.Job) kubeletAction {
		if strings.HasSuffix(job.Name, "-v1") {
			return succeedSilently
		}
		return runCollector
	})
	startManagerWith(t, ns, clk, nil, jobExecutor)
	name := oneBuilding(t, ns, clk.Now(), 0, 0, 3)

	await(t, "the silent success counted as a failed attempt", func() (bool, error) {
		return getJob(t, ns, name).Status.FailedAttempts == 1, nil
	})
	if getJob(t, ns, name).Status.Sampled != 0 {
		t.Error("a Job's success alone counted residents as sampled")
	}
	clk.Step(collection.RetryBackoff)
	pokeJob(t, ns, name)
	cj := awaitPhase(t, ns, name, sweepv1alpha1.JobCompleted, 1)
	if cj.Status.Sampled != 100 {
		t.Errorf("after the retry: %+v", cj.Status)
	}
	if got := kubelet.jobs(); !slices.Equal(got, []string{name + "-v1", name + "-v1-r1"}) {
		t.Errorf("visit Jobs %v", got)
	}
	await(t, "the NoFinalReport event", func() (bool, error) { return jobEvents(t, ns, name)[sweepv1alpha1.ReasonNoFinalReport] != "", nil })
}

func TestImpossibleAndStaleReportsAreIgnored(t *testing.T) {
	ns := newNamespace(t)
	clk := clocktesting.NewFakeClock(time.Now())
	release := make(chan struct{})
	startFakeKubelet(t, ns, func(*batchv1.Job) kubeletAction { <-release; return runCollector })
	startManagerWith(t, ns, clk, nil, jobExecutor)
	name := oneBuilding(t, ns, clk.Now(), 0, 0, 3)
	cj := awaitPhase(t, ns, name, sweepv1alpha1.JobActive, 1)
	rep := collector.StatusReporter{Client: k8s}
	ctx := context.Background()

	a := assignmentOf(t, cj, 1)
	if err := rep.Report(ctx, a, collector.Outcome{Sampled: 30}, false); err != nil {
		t.Fatal(err)
	}
	await(t, "a good progress report taken", func() (bool, error) { return getJob(t, ns, name).Status.Sampled == 30, nil })

	// Fewer sampled than already accepted: the schema allows it, the
	// operator does not (counts are for the whole round). The collector's
	// ReportFor makes every other impossible report possible (it caps
	// sampled at expected); TestHostileReportsThroughTheAPI writes those.
	if err := rep.Report(ctx, a, collector.Outcome{Sampled: 20}, true); err != nil {
		t.Fatal(err)
	}
	await(t, "the impossible report ignored", func() (bool, error) {
		c := meta.FindStatusCondition(getJob(t, ns, name).Status.Conditions, sweepv1alpha1.ConditionReportIgnored)
		return c != nil && c.Status == metav1.ConditionTrue && c.Reason == sweepv1alpha1.ReasonImpossibleReport, nil
	})
	// A report for a visit that has not begun.
	future := a
	future.Visit = 3
	if err := rep.Report(ctx, future, collector.Outcome{Sampled: 99}, true); err != nil {
		t.Fatal(err)
	}
	await(t, "the report for another visit ignored", func() (bool, error) {
		c := meta.FindStatusCondition(getJob(t, ns, name).Status.Conditions, sweepv1alpha1.ConditionReportIgnored)
		return c != nil && c.Reason == sweepv1alpha1.ReasonReportForAnotherVisit, nil
	})
	cj = getJob(t, ns, name)
	if cj.Status.Sampled != 30 || cj.Status.Phase != sweepv1alpha1.JobActive {
		t.Errorf("an ignored report changed the results: %+v", cj.Status)
	}
	// Events are written asynchronously by the broadcaster, so await them.
	await(t, "Warning events for both ignored reports", func() (bool, error) {
		ev := jobEvents(t, ns, name)
		return ev[sweepv1alpha1.ReasonImpossibleReport] != "" && ev[sweepv1alpha1.ReasonReportForAnotherVisit] != "", nil
	})

	close(release)
	cj = awaitPhase(t, ns, name, sweepv1alpha1.JobCompleted, 1)
	if cj.Status.Sampled != 100 {
		t.Errorf("the real report after ignored ones: %+v", cj.Status)
	}
}

func TestManagerRestartBetweenVisitsNeitherRepeatsNorSkips(t *testing.T) {
	ns := newNamespace(t)
	clk := clocktesting.NewFakeClock(time.Now())
	kubelet := startFakeKubelet(t, ns, func(*batchv1.Job) kubeletAction { return runCollector })
	stop := startManagerWith(t, ns, clk, nil, jobExecutor)
	name := oneBuilding(t, ns, clk.Now(), 40, 50, 3)
	awaitPhase(t, ns, name, sweepv1alpha1.JobWaiting, 1)
	stop()

	startManagerWith(t, ns, clk, nil, jobExecutor)
	clk.Step(time.Hour)
	pokeJob(t, ns, name)
	awaitPhase(t, ns, name, sweepv1alpha1.JobWaiting, 2)
	clk.Step(time.Hour)
	pokeJob(t, ns, name)
	cj := awaitPhase(t, ns, name, sweepv1alpha1.JobCompleted, 3)
	if want := drillOutcome(t, cj, 3); cj.Status.Sampled != want.Sampled {
		t.Errorf("sampled %d, want the drill's %d after visit 3", cj.Status.Sampled, want.Sampled)
	}
	if got := kubelet.jobs(); !slices.Equal(got, []string{name + "-v1", name + "-v2", name + "-v3"}) {
		t.Errorf("visit Jobs %v, want v1, v2, v3 once each", got)
	}
}

func TestLocalExecutorMatchesJobExecutor(t *testing.T) {
	const n = 200
	results := map[string]map[string]sweepv1alpha1.CollectionJobStatus{}
	for _, executor := range []string{"job", "local"} {
		ns := newNamespace(t)
		clk := clocktesting.NewFakeClock(time.Now())
		newExec := jobExecutor
		if executor == "local" {
			newExec = func(mgr ctrl.Manager) Executor { return NewLocalExecutor(mgr.GetClient(), 16, 0) }
		} else {
			startFakeKubelet(t, ns, func(*batchv1.Job) kubeletAction { return runCollector })
		}
		createBuildings(t, ns, n, street)
		stop := startManagerWith(t, ns, clk, nil, newExec)
		tr := newRound(ns, "drill", clk.Now(), 20, street)
		tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
		tr.Spec.Collector.Drill = &sweepv1alpha1.DrillSource{Seed: 42, AbsentPercent: ptr.To[int32](12), StillAbsentPercent: ptr.To[int32](40)}
		if err := k8s.Create(context.Background(), tr); err != nil {
			t.Fatal(err)
		}
		await(t, executor+" round Completed", func() (bool, error) {
			return getRound(t, ns, "drill").Status.Phase == sweepv1alpha1.RoundCompleted, nil
		})
		stop()
		results[executor] = map[string]sweepv1alpha1.CollectionJobStatus{}
		for _, j := range listJobs(t, ns) {
			results[executor][j.Spec.Building] = j.Status
		}
		st := getRound(t, ns, "drill").Status
		t.Logf("%s executor: %d buildings, %d sampled, %d missed", executor, st.Buildings.Completed, st.Residents.Sampled, st.Residents.Missed)
	}
	if len(results["local"]) != n {
		t.Fatalf("local executor: %d jobs", len(results["local"]))
	}
	missed := 0
	for b, js := range results["job"] {
		ls := results["local"][b]
		if js.Sampled != ls.Sampled || js.Missed != ls.Missed || js.HomeVisited != ls.HomeVisited || js.Tubes != ls.Tubes ||
			!slices.Equal(js.MissedHouseholds, ls.MissedHouseholds) || ls.Phase != sweepv1alpha1.JobCompleted {
			t.Errorf("building %s: job executor %+v, local executor %+v", b, js, ls)
		}
		missed += int(js.Missed)
	}
	if missed == 0 {
		t.Error("the drill missed nobody; the comparison proves little")
	}
}

// printedRow is the job's row as `kubectl get collectionjobs` prints it: the
// API server's Table, column name to cell.
func printedRow(t *testing.T, ns, name string) map[string]any {
	t.Helper()
	rc, err := rest.RESTClientFor(restConfigFor(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var table metav1.Table
	err = rc.Get().AbsPath("/apis", sweepv1alpha1.GroupVersion.Group, sweepv1alpha1.GroupVersion.Version, "namespaces", ns, "collectionjobs", name).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Do(context.Background()).Into(&table)
	if err != nil || len(table.Rows) != 1 {
		t.Fatalf("table of %s: %v (%d rows)", name, err, len(table.Rows))
	}
	row := map[string]any{}
	for i, c := range table.ColumnDefinitions {
		row[c.Name] = table.Rows[0].Cells[i]
	}
	return row
}

func restConfigFor(c *rest.Config) *rest.Config {
	c = rest.CopyConfig(c)
	c.GroupVersion = &metav1.SchemeGroupVersion
	c.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
	return c
}
