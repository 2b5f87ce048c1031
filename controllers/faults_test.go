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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collector"
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
	logs := &syncBuffer{}
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

// drillTruth is what the drill source says a building ends with after a
// round of at most maxVisits visits that nothing cuts short: the last
// visit's report (a building with nobody missed is not visited again).
func drillTruth(t *testing.T, cj *sweepv1alpha1.CollectionJob, maxVisits int32) *sweepv1alpha1.VisitReport {
	t.Helper()
	for v := int32(1); ; v++ {
		a := collector.AssignmentFor(cj, v, 0)
		o := drillOutcome(t, cj, v)
		if o.Sampled == cj.Spec.Expected || v == maxVisits {
			return collector.ReportFor(a, o, true, time.Now())
		}
	}
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
		want := drillTruth(t, &j, maxVisits)
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
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: maxVisits, Interval: &metav1.Duration{Duration: time.Minute}}
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

	// Every kind of fault happened, or the test proves nothing.
	got := faults.counts()
	for _, kind := range []string{"patch conflict", "status apply conflict", "status apply 5xx", "create 5xx"} {
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
