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
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	watchpkg "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collection"
	"github.com/masstesting/sweep/internal/collector"
	"github.com/masstesting/sweep/internal/testharness"
	"github.com/masstesting/sweep/internal/testobjects"
)

// faultInjector wraps the manager's client (controller-runtime's
// interceptor) and makes the API server seem to fail some writes, counted
// per kind of write so the faults are spread over the whole round:
//   - every 3rd patch, update and status write (server-side apply or patch
//     of the status subresource) fails with 409 Conflict before reaching
//     the API server, as when another writer got there first;
//   - every 7th status write and every 4th create fails with a 503 or a
//     500. Every other one of those is sent first and fails after the API
//     server took it (an etcd timeout on the way back): the operator must
//     cope with writes whose fate it does not know.
//
// Reads come from the informer cache and are not touched.
type faultInjector struct {
	mu    sync.Mutex
	calls map[string]int
	// injected counts the faults, by kind of write and fault.
	injected map[string]int
}

func newFaultInjector() *faultInjector {
	return &faultInjector{calls: map[string]int{}, injected: map[string]int{}}
}

// injectedConflict is the API server's own wording for an optimistic
// concurrency failure.
func injectedConflict(what string) error {
	return apierrors.NewConflict(schema.GroupResource{Group: sweepv1alpha1.GroupVersion.Group, Resource: what}, "injected",
		errors.New("the object has been modified; please apply your changes to the latest version and try again"))
}

// decide says which fault, if any, the n-th write of a kind gets.
func (f *faultInjector) decide(kind string, conflictEvery, serverErrorEvery int) (conflict bool, serverErr error, after bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[kind]++
	n := f.calls[kind]
	switch {
	case conflictEvery > 0 && n%conflictEvery == 0:
		f.injected[kind+" conflict"]++
		return true, nil, false
	case serverErrorEvery > 0 && n%serverErrorEvery == 1 && n > 1:
		f.injected[kind+" 5xx"]++
		if n%2 == 0 {
			return false, apierrors.NewServiceUnavailable("injected: the server is currently unable to handle the request"), n%4 == 0
		}
		return false, apierrors.NewInternalError(errors.New("injected: etcdserver: request timed out")), n%4 == 1
	}
	return false, nil, false
}

// write runs one intercepted write.
func (f *faultInjector) write(kind string, conflictEvery, serverErrorEvery int, do func() error) error {
	conflict, serverErr, after := f.decide(kind, conflictEvery, serverErrorEvery)
	switch {
	case conflict:
		return injectedConflict(kind)
	case serverErr != nil && after:
		_ = do()
		return serverErr
	case serverErr != nil:
		return serverErr
	}
	return do()
}

func (f *faultInjector) counts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.injected {
		out[k] = v
	}
	return out
}

// newClient is a client.NewClientFunc for ctrl.Options: the default client
// wrapped by the injector.
func (f *faultInjector) newClient(config *rest.Config, options client.Options) (client.Client, error) {
	c, err := client.NewWithWatch(config, options)
	if err != nil {
		return nil, err
	}
	return interceptor.NewClient(c, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			return f.write("create", 0, 4, func() error { return c.Create(ctx, obj, opts...) })
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			return f.write("update", 3, 0, func() error { return c.Update(ctx, obj, opts...) })
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			return f.write("patch", 3, 0, func() error { return c.Patch(ctx, obj, patch, opts...) })
		},
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			return f.write("apply", 3, 0, func() error { return c.Apply(ctx, obj, opts...) })
		},
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			return f.write(sub+" update", 3, 7, func() error { return c.SubResource(sub).Update(ctx, obj, opts...) })
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			return f.write(sub+" patch", 3, 7, func() error { return c.SubResource(sub).Patch(ctx, obj, patch, opts...) })
		},
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			return f.write(sub+" apply", 3, 7, func() error { return c.SubResource(sub).Apply(ctx, obj, opts...) })
		},
	}), nil
}

// logLine is one line of the manager's JSON log.
type logLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Error string `json:"error"`
	Raw   string `json:"-"`
}

// captureManagerLog makes the managers a test starts log to a buffer at
// debug level, in controller-runtime's production (JSON) format, and
// returns a function that parses what was logged so far.
func captureManagerLog(t *testing.T) func() []logLine {
	t.Helper()
	logs := &testharness.SyncBuffer{}
	testManagerLogger = zap.New(zap.WriteTo(logs), zap.Level(zapcore.DebugLevel))
	t.Cleanup(func() { testManagerLogger = logr.Logger{} })
	return func() []logLine {
		var out []logLine
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var l logLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Errorf("a manager log line is not JSON (%v): %s", err, sc.Text())
				continue
			}
			l.Raw = sc.Text()
			out = append(out, l)
		}
		return out
	}
}

// conflictWords are what a conflict looks like in a log line.
var conflictWords = []string{"conflict", "the object has been modified", "Operation cannot be fulfilled"}

func mentionsConflict(l logLine) bool {
	text := strings.ToLower(l.Msg + " " + l.Error)
	for _, w := range conflictWords {
		if strings.Contains(text, strings.ToLower(w)) {
			return true
		}
	}
	return false
}

// advanceToNextVisits moves the fake clock to the latest next-visit time of
// the waiting jobs (retries and re-knocks) and pokes them, so a round with
// revisits runs without sleeping. It never moves the clock backwards.
func advanceToNextVisits(t *testing.T, ns string, clk *clocktesting.FakeClock) {
	t.Helper()
	var latest time.Time
	var due []string
	for _, j := range listJobs(t, ns) {
		if j.Status.NextVisitTime != nil && j.Status.Phase != sweepv1alpha1.JobCompleted {
			due = append(due, j.Name)
			if j.Status.NextVisitTime.After(latest) {
				latest = j.Status.NextVisitTime.Time
			}
		}
	}
	if latest.After(clk.Now()) {
		clk.SetTime(latest)
	}
	for _, name := range due {
		pokeJob(t, ns, name)
	}
}

// checkGroundTruth compares every job and the round with what the drill
// says: sampled, missed, at home, tubes and missed households, exactly.
func checkGroundTruth(t *testing.T, ns, roundName string, maxVisits int32) (sampled, missed int64) {
	t.Helper()
	var home int64
	var expected int64
	for _, j := range listJobs(t, ns) {
		want, err := testharness.DrillTruth(assignmentOf(t, &j, 1), maxVisits)
		if err != nil {
			t.Fatal(err)
		}
		st := j.Status
		if st.Phase != sweepv1alpha1.JobCompleted || st.Visits != want.Visit || st.Sampled != want.Sampled || st.Missed != want.Missed ||
			st.HomeVisited != want.HomeVisited || st.Tubes != want.Tubes || !slices.Equal(st.MissedHouseholds, want.MissedHouseholds) {
			t.Errorf("building %s ended with phase %s, visit %d: sampled %d, missed %d, at home %d, tubes %d, missed households %v; the drill says visit %d: sampled %d, missed %d, at home %d, tubes %d, missed households %v",
				j.Spec.Building, st.Phase, st.Visits, st.Sampled, st.Missed, st.HomeVisited, st.Tubes, st.MissedHouseholds,
				want.Visit, want.Sampled, want.Missed, want.HomeVisited, want.Tubes, want.MissedHouseholds)
		}
		sampled += int64(want.Sampled)
		missed += int64(want.Missed)
		home += int64(want.HomeVisited)
		expected += int64(j.Spec.Expected)
	}
	res := getRound(t, ns, roundName).Status.Residents
	if res.Sampled != sampled || res.Missed != missed || res.HomeVisited != home || res.Expected != expected || res.Outstanding != 0 {
		t.Errorf("round residents %+v; the drill says sampled %d, missed %d, at home %d of %d expected", res, sampled, missed, home, expected)
	}
	return sampled, missed
}

// TestConflictsAndServerErrorsLoseNoResult runs a drill round with the
// local executor through a manager whose client fails writes: every 3rd
// patch and status write with 409 Conflict, every 4th create and every 7th
// status write with a 500 or 503 (half of them after the write took
// effect). The round must complete with one CollectionJob per building
// and, for every building, exactly the drill's numbers; the team bound
// must hold throughout; and no conflict may be logged at error level:
// a conflict is the normal outcome of a race, to be decided again, not
// an error for ops to chase.
func TestConflictsAndServerErrorsLoseNoResult(t *testing.T) {
	logs := captureManagerLog(t)
	faults := newFaultInjector()
	testManagerNewClient = faults.newClient
	defer func() { testManagerNewClient = nil }()

	const n, teams, maxVisits = 24, 5, 2
	ns := newNamespace(t)
	buildings := createBuildings(t, ns, n, street)
	field := startFieldTeams(t, ns, teams, false)
	clk := clocktesting.NewFakeClock(time.Now())
	startManagerWith(t, ns, clk, nil, func(mgr ctrl.Manager) Executor {
		// A small time scale: each visit takes a few hundred milliseconds
		// and sends a progress report halfway, through the faulty client.
		return NewLocalExecutor(mgr.GetClient(), 8, 0.0001)
	})
	tr := newRound(ns, "faulty", clk.Now(), teams, street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: maxVisits, Interval: &sweepv1alpha1.Duration{Duration: time.Minute}}
	tr.Spec.Collector.Drill = &sweepv1alpha1.DrillSource{Seed: 9, AbsentPercent: ptr.To[int32](25), StillAbsentPercent: ptr.To[int32](40)}
	if err := k8s.Create(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, ns, "faulty")
	start := time.Now()
	await(t, "round Completed", func() (bool, error) {
		if getRound(t, ns, "faulty").Status.Phase == sweepv1alpha1.RoundCompleted {
			return true, nil
		}
		advanceToNextVisits(t, ns, clk)
		return false, nil
	})
	t.Logf("round completed in %s with faults injected: %v", time.Since(start).Round(time.Millisecond), faults.counts())

	oneJobPerBuilding(t, ns, getRound(t, ns, "faulty"), buildings)
	sampled, missed := checkGroundTruth(t, ns, "faulty", maxVisits)
	if missed == 0 || sampled == 0 {
		t.Errorf("the drill sampled %d and missed %d: the round proves little", sampled, missed)
	}
	if _, peak := field.snapshot(); peak > teams {
		t.Errorf("peak %d busy teams, bound %d", peak, teams)
	}

	// Every kind of fault happened, or the test proves nothing. (The round
	// admits without a patch; the status applies are the writes that
	// race with the collectors.)
	got := faults.counts()
	for _, kind := range []string{"status apply conflict", "status apply 5xx", "create 5xx"} {
		if got[kind] == 0 {
			t.Errorf("no %s was injected: %v", kind, got)
		}
	}
	// The log: 5xx errors are errors (a reconcile retried with backoff),
	// conflicts are not.
	lines := logs()
	var serverErrors int
	for _, l := range lines {
		if l.Level != "error" {
			continue
		}
		if strings.Contains(l.Error, "injected:") {
			serverErrors++
		}
		if mentionsConflict(l) {
			t.Errorf("a conflict logged at error level: %s", l.Raw)
		}
	}
	if serverErrors == 0 {
		t.Errorf("none of the %d log lines is an injected server error at error level: the log is not captured, so the search for conflicts proves nothing", len(lines))
	}
}

// dumpOnFailure logs the round's and its jobs' status if the test fails,
// to see where a round got stuck.
func dumpOnFailure(t *testing.T, ns, roundName string) {
	t.Helper()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		var tr sweepv1alpha1.TestingRound
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: roundName}, &tr); err == nil {
			t.Logf("round %s: suspend %t, teams %d, status %+v", roundName, tr.Spec.Suspend, tr.Spec.Teams, tr.Status)
		}
		var l sweepv1alpha1.CollectionJobList
		if err := k8s.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
			return
		}
		for _, j := range l.Items {
			t.Logf("job %s: suspend %t, phase %s, visits %d, failed attempts %d, active %q, next %v, sampled %d, missed %d, report %+v",
				j.Spec.Building, j.Spec.Suspend, j.Status.Phase, j.Status.Visits, j.Status.FailedAttempts, j.Status.ActiveJob,
				j.Status.NextVisitTime, j.Status.Sampled, j.Status.Missed, j.Status.Report)
		}
	})
}

// raceReport is report k (1..raceReports) of a building in
// TestCollectorAndOperatorRaceOnTheSameJob: every report samples one more
// resident and finds one more missed household at home, so a lost or
// reordered report shows in any of its numbers.
func raceReport(cj *sweepv1alpha1.CollectionJob, k int32) collector.Outcome {
	households := make([]string, 0, raceReports)
	for h := k; h < raceReports; h++ {
		households = append(households, fmt.Sprintf("1-%04d", h))
	}
	sampled := raceBase + k
	return collector.Outcome{Sampled: sampled, HomeVisited: min(cj.Spec.HomeVisit, sampled), MissedHouseholds: households}
}

const (
	raceBuildings = 10
	raceReports   = 100 // per building: 99 progress reports and a final one
	raceBase      = 30  // sampled before the first report
)

// TestCollectorAndOperatorRaceOnTheSameJob has ten collectors write 100
// reports each (1,000 in all) to their CollectionJob's status.report, the
// way the collector does (collector.StatusReporter: server-side apply under
// its own field manager, progress reports then a final one), as fast as
// the API server takes them, while the operator reconciles the same
// objects and writes their status. Then each collector's visit Job
// succeeds at once, as when its pod exits: the operator sees the Job
// finish and the final report at nearly the same moment, through two
// informers that may lag each other.
//
// A watch checks every stored version of every job: status.report and the
// operator's status.sampled never go back; the operator's numbers are
// always exactly those of one report; no report is ignored and no attempt
// failed. At the end every job holds its final report's numbers.
func TestCollectorAndOperatorRaceOnTheSameJob(t *testing.T) {
	logs := captureManagerLog(t)
	ns := newNamespace(t)
	ctx := context.Background()
	for i := range raceBuildings {
		b := testobjects.Building(ns, fmt.Sprintf("c-%d", i)).WithLabels(street).Residents(raceBase + raceReports + 20).
			HomeVisit(5).Households(2 * raceReports).Obj()
		if err := k8s.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	// The test plays the kubelet: visit Jobs stay running until their
	// collector below is done.
	startFakeKubelet(t, ns, func(*batchv1.Job) kubeletAction { return hold })
	clk := clocktesting.NewFakeClock(time.Now())
	startManagerWith(t, ns, clk, nil, jobExecutor)
	tr := newRound(ns, "race", clk.Now(), raceBuildings, street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	await(t, "every job running its first visit", func() (bool, error) {
		jobs := listJobs(t, ns)
		for _, j := range jobs {
			if j.Status.Phase != sweepv1alpha1.JobActive || j.Status.ActiveJob == "" {
				return false, nil
			}
		}
		return len(jobs) == raceBuildings, nil
	})
	watch := watchRace(t, tr)

	began := time.Now()
	var wg sync.WaitGroup
	for _, cj := range listJobs(t, ns) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := assignmentOf(t, &cj, 1)
			rep := collector.StatusReporter{Client: k8s}
			for k := int32(1); k <= raceReports; k++ {
				if err := rep.Report(ctx, a, raceReport(&cj, k), k == raceReports); err != nil {
					t.Errorf("collector of %s, report %d: %v", cj.Spec.Building, k, err)
					return
				}
				watch.reported(cj.Name, k)
			}
			// The pod exits 0 after its final report: the Job succeeds.
			var job batchv1.Job
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: cj.Status.ActiveJob}, &job); err != nil {
				t.Errorf("visit Job of %s: %v", cj.Spec.Building, err)
				return
			}
			now := metav1.Now()
			job.Status.StartTime, job.Status.CompletionTime, job.Status.Succeeded = &now, &now, 1
			job.Status.Conditions = []batchv1.JobCondition{
				{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
				{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
			}
			if err := k8s.Status().Update(ctx, &job); err != nil {
				t.Errorf("finishing the visit Job of %s: %v", cj.Spec.Building, err)
			}
		}()
	}
	wg.Wait()
	reporting := time.Since(began)
	await(t, "round Completed", func() (bool, error) {
		return getRound(t, ns, "race").Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})

	for _, cj := range listJobs(t, ns) {
		want := collector.ReportFor(assignmentOf(t, &cj, 1), raceReport(&cj, raceReports), true, time.Now())
		st := cj.Status
		if st.Phase != sweepv1alpha1.JobCompleted || st.FailedAttempts != 0 || st.Sampled != want.Sampled || st.Missed != want.Missed ||
			st.HomeVisited != want.HomeVisited || st.Tubes != want.Tubes || !slices.Equal(st.MissedHouseholds, want.MissedHouseholds) {
			t.Errorf("building %s ended with %+v; its final report was %+v", cj.Spec.Building, st, want)
		}
	}
	res := getRound(t, ns, "race").Status.Residents
	if want := int64(raceBuildings * (raceBase + raceReports)); res.Sampled != want {
		t.Errorf("round sampled %d, want %d", res.Sampled, want)
	}
	operatorWrites, versions := watch.summary()
	races := 0
	for _, l := range logs() {
		if strings.Contains(l.Msg, "lost a race") {
			races++
		}
	}
	t.Logf("%d reports in %s, %d stored versions watched, %d operator status writes taking a new report, %d operator writes that lost a race",
		raceBuildings*raceReports, reporting.Round(time.Millisecond), versions, operatorWrites, races)
	// The race must have happened, or the test proves nothing.
	if operatorWrites < 2*raceBuildings || races == 0 {
		t.Errorf("the operator wrote %d times and lost %d races: the collectors and the operator did not race", operatorWrites, races)
	}
}

// raceWatch checks every stored version of the jobs of a namespace.
type raceWatch struct {
	t     *testing.T
	round *sweepv1alpha1.TestingRound
	mu    sync.Mutex
	// last holds, per job, the report k the collector last saw accepted.
	last map[string]int32
	// report and sampled hold, per job, the newest report and operator
	// status seen in the watch.
	report, sampled map[string]int32
	writes, seen    int
}

func (w *raceWatch) reported(job string, k int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last[job] = k
}

func (w *raceWatch) summary() (writes, seen int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes, w.seen
}

func watchRace(t *testing.T, tr *sweepv1alpha1.TestingRound) *raceWatch {
	t.Helper()
	ns := tr.Namespace
	w := &raceWatch{t: t, round: tr, last: map[string]int32{}, report: map[string]int32{}, sampled: map[string]int32{}}
	watchEveryVersion(t, ns, &sweepv1alpha1.CollectionJobList{}, func(_ watchpkg.EventType, obj runtime.Object) {
		if cj, ok := obj.(*sweepv1alpha1.CollectionJob); ok {
			w.observe(cj)
		}
	})
	return w
}

// watchEveryVersion calls fn with every object of a namespace now, and then
// with every version stored from now until the test ends, in order. A watch the API server
// ends (they time out) is started again from the last version seen, so no
// version is missed.
func watchEveryVersion(t *testing.T, ns string, list client.ObjectList, fn func(watchpkg.EventType, runtime.Object)) {
	t.Helper()
	if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	rv := list.GetResourceVersion()
	items, err := meta.ExtractList(list)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range items {
		fn(watchpkg.Added, o)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			wi, err := k8s.Watch(ctx, list, client.InNamespace(ns), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("watching: %v", err)
				}
				return
			}
			for ev := range wi.ResultChan() {
				if ev.Type == watchpkg.Error {
					if ctx.Err() == nil {
						t.Errorf("watch error: %v", apierrors.FromObject(ev.Object))
					}
					return
				}
				if o, ok := ev.Object.(client.Object); ok {
					rv = o.GetResourceVersion()
				}
				fn(ev.Type, ev.Object)
			}
			wi.Stop()
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func (w *raceWatch) observe(cj *sweepv1alpha1.CollectionJob) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seen++
	st := cj.Status
	if r := st.Report; r != nil {
		if r.Sampled < w.report[cj.Name] {
			w.t.Errorf("%s: status.report went back from sampled %d to %d: a report was overwritten", cj.Spec.Building, w.report[cj.Name], r.Sampled)
		}
		w.report[cj.Name] = r.Sampled
	}
	if st.Sampled < w.sampled[cj.Name] {
		w.t.Errorf("%s: status.sampled went back from %d to %d", cj.Spec.Building, w.sampled[cj.Name], st.Sampled)
	}
	if st.Sampled > w.sampled[cj.Name] {
		w.writes++
	}
	w.sampled[cj.Name] = st.Sampled
	if st.FailedAttempts != 0 {
		w.t.Errorf("%s: a failed attempt although the collector reported every time: %+v", cj.Spec.Building, st)
	}
	if c := meta.FindStatusCondition(st.Conditions, sweepv1alpha1.ConditionReportIgnored); c != nil {
		w.t.Errorf("%s: a report was ignored: %s", cj.Spec.Building, c.Message)
	}
	if st.Sampled == 0 {
		return
	}
	// The operator's numbers are exactly one report's (the report's missed
	// are the status's outstanding until the job is final, then its missed).
	k := st.Sampled - raceBase
	followed := cj.DeepCopy()
	collection.FollowRound(followed, w.round)
	want := collector.ReportFor(collector.AssignmentFor(followed, 1, 0), raceReport(cj, k), false, time.Now())
	if k < 1 || k > raceReports || st.Outstanding+st.Missed != want.Missed || st.HomeVisited != want.HomeVisited || st.Tubes != want.Tubes ||
		!slices.Equal(st.MissedHouseholds, want.MissedHouseholds) {
		w.t.Errorf("%s: status %+v is not report %d's numbers %+v", cj.Spec.Building, st, k, want)
	}
}

// TestOpsEditsARunningRoundWhileCollectorsReport edits a running drill
// round the way ops do (raise spec.teams, suspend, move the deadline,
// resume, lower spec.teams, move the deadline back, raise spec.teams)
// while its visits run and send progress reports (local executor, each
// visit about a second, with a progress report halfway), each edit awaited
// while visits are under way. The team bound is checked on every stored
// version of every job (fieldTeams), as is that nothing is admitted while
// the controller has the round suspended, that no job's sampled count or
// report ever goes back; at the end every building holds exactly the
// drill's numbers.
func TestOpsEditsARunningRoundWhileCollectorsReport(t *testing.T) {
	const n, maxVisits = 30, 2
	ns := newNamespace(t)
	buildings := createBuildings(t, ns, n, street)
	field := startFieldTeams(t, ns, 3, false)
	var mu sync.Mutex
	sampled, reported := map[string]int32{}, map[string]*sweepv1alpha1.VisitReport{}
	progress := 0
	watchEveryVersion(t, ns, &sweepv1alpha1.CollectionJobList{}, func(_ watchpkg.EventType, obj runtime.Object) {
		cj, ok := obj.(*sweepv1alpha1.CollectionJob)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if cj.Status.Sampled < sampled[cj.Name] {
			t.Errorf("%s: sampled went back from %d to %d", cj.Spec.Building, sampled[cj.Name], cj.Status.Sampled)
		}
		sampled[cj.Name] = cj.Status.Sampled
		if r, last := cj.Status.Report, reported[cj.Name]; r != nil {
			if last != nil && (r.Visit < last.Visit || r.Visit == last.Visit && r.Sampled < last.Sampled) {
				t.Errorf("%s: the report went back from visit %d sampled %d to visit %d sampled %d", cj.Spec.Building, last.Visit, last.Sampled, r.Visit, r.Sampled)
			}
			if last == nil || r.Visit != last.Visit || r.Sampled != last.Sampled {
				progress++
			}
			reported[cj.Name] = r.DeepCopy()
		}
		if c := meta.FindStatusCondition(cj.Status.Conditions, sweepv1alpha1.ConditionReportIgnored); c != nil {
			t.Errorf("%s: a report was ignored: %s", cj.Spec.Building, c.Message)
		}
	})
	clk := clocktesting.NewFakeClock(time.Now())
	startManagerWith(t, ns, clk, nil, func(mgr ctrl.Manager) Executor {
		// About a second per first visit of 100 residents.
		return NewLocalExecutor(mgr.GetClient(), 16, 0.0003)
	})
	ctx := context.Background()
	tr := newRound(ns, "edited", clk.Now(), 3, street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: maxVisits, Interval: &sweepv1alpha1.Duration{Duration: time.Minute}}
	tr.Spec.Collector.Drill = &sweepv1alpha1.DrillSource{Seed: 3, AbsentPercent: ptr.To[int32](20), StillAbsentPercent: ptr.To[int32](50)}
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, ns, "edited")

	// awaitRunning waits for cond while re-knocks come due on the round
	// clock.
	awaitRunning := func(what string, cond func(*sweepv1alpha1.TestingRound) bool) *sweepv1alpha1.TestingRound {
		t.Helper()
		var tr *sweepv1alpha1.TestingRound
		await(t, what, func() (bool, error) {
			tr = getRound(t, ns, "edited")
			if cond(tr) {
				return true, nil
			}
			advanceToNextVisits(t, ns, clk)
			return false, nil
		})
		return tr
	}
	// underWay is a visit running now: an edit made then overlaps it.
	underWay := func() bool {
		for _, j := range listJobs(t, ns) {
			if j.Status.ActiveJob != "" {
				return true
			}
		}
		return false
	}
	edit := func(what, patch string) int64 {
		t.Helper()
		obj := &sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edited"}}
		if err := k8s.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !underWay() {
			t.Logf("%s: no visit was under way", what)
		}
		return obj.Generation
	}
	// seen waits until the controller has taken the edit, and returns the
	// version of the round it wrote then.
	seen := func(what string, gen int64, cond func(*sweepv1alpha1.TestingRound) bool) string {
		t.Helper()
		return awaitRunning(what, func(tr *sweepv1alpha1.TestingRound) bool {
			return tr.Status.ObservedGeneration >= gen && cond(tr)
		}).ResourceVersion
	}
	always := func(*sweepv1alpha1.TestingRound) bool { return true }
	doneCount := func(tr *sweepv1alpha1.TestingRound) int32 {
		b := tr.Status.Buildings
		return b.Completed + b.Expired + b.Failed
	}

	awaitRunning("the first progress reports", func(*sweepv1alpha1.TestingRound) bool {
		mu.Lock()
		defer mu.Unlock()
		return progress >= 3
	})
	field.raiseTeams(6)
	seen("teams raised to 6", edit("raise teams to 6", `{"spec":{"teams":6}}`), func(tr *sweepv1alpha1.TestingRound) bool {
		return tr.Status.Buildings.Active+tr.Status.Buildings.Waiting > 3
	})

	gen := edit("suspend", `{"spec":{"suspend":true}}`)
	field.suspended(seen("suspended", gen, func(tr *sweepv1alpha1.TestingRound) bool {
		return tr.Status.Phase == sweepv1alpha1.RoundSuspended
	}))
	// Visits under way go on while the round is suspended, and their
	// reports are taken; no visit starts, not even a re-knock that comes
	// due (awaitRunning moves the clock past them).
	visits := func() (n int32) {
		for _, j := range listJobs(t, ns) {
			n += j.Status.Visits
		}
		return n
	}
	awaitRunning("the visits under way ended while suspended", func(tr *sweepv1alpha1.TestingRound) bool {
		return tr.Status.Buildings.Active == 0 && !underWay()
	})
	startedBefore := visits()
	advanceToNextVisits(t, ns, clk)
	later := tr.Spec.Deadline.Add(2 * time.Hour).UTC().Format(time.RFC3339)
	seen("deadline moved later", edit("move the deadline 2h later", fmt.Sprintf(`{"spec":{"deadline":%q}}`, later)), always)
	if n := visits(); n != startedBefore {
		t.Errorf("%d visits started while the round was suspended", n-startedBefore)
	}

	field.suspended("")
	seen("resumed", edit("resume", `{"spec":{"suspend":false}}`), func(tr *sweepv1alpha1.TestingRound) bool {
		return tr.Status.Phase == sweepv1alpha1.RoundRunning
	})
	field.lowerTeams(2, seen("teams lowered to 2", edit("lower teams to 2", `{"spec":{"teams":2}}`), always))
	earlier := tr.Spec.Deadline.Add(time.Hour).UTC().Format(time.RFC3339)
	seen("deadline moved back", edit("move the deadline 1h earlier", fmt.Sprintf(`{"spec":{"deadline":%q}}`, earlier)), always)
	before := doneCount(getRound(t, ns, "edited"))
	awaitRunning("a building finished with two teams", func(tr *sweepv1alpha1.TestingRound) bool {
		return doneCount(tr) > before+1
	})
	field.raiseTeams(5)
	edit("raise teams to 5", `{"spec":{"teams":5}}`)

	tr = awaitRunning("round Completed", func(tr *sweepv1alpha1.TestingRound) bool {
		return tr.Status.Phase == sweepv1alpha1.RoundCompleted
	})
	oneJobPerBuilding(t, ns, tr, buildings)
	checkGroundTruth(t, ns, "edited", maxVisits)
	if tr.Status.ObservedGeneration != tr.Generation {
		t.Errorf("the round did not take the last edits: generation %d, observed %d", tr.Generation, tr.Status.ObservedGeneration)
	}
	admitted, peak := field.snapshot()
	mu.Lock()
	t.Logf("%d admissions, peak %d teams busy, %d reports seen", len(admitted), peak, progress)
	mu.Unlock()
	if len(admitted) != n {
		t.Errorf("%d admissions for %d buildings", len(admitted), n)
	}
	awaitRoundEvents(t, ns, "edited", "Started", "Suspended", "Resumed", "Completed")
}
