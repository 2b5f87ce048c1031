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
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/expectations"
	"github.com/masstesting/sweep/internal/lab"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/testenv"
	"github.com/masstesting/sweep/internal/testharness"
	"github.com/masstesting/sweep/internal/testobjects"
)

// The controller tests run the real reconciler in a real manager against a
// real kube-apiserver and etcd (envtest, binaries from bin/k8s). envtest has
// no kube-controller-manager, so there is no garbage collector here; the
// end-to-end tests cover what needs one. The control plane starts when the
// first test needs it (apiServer, called by newNamespace and the manager
// helpers), so the tests named …Pure run without one.
var (
	plane  = &testenv.Plane{CRDs: filepath.Join("..", "config", "crd", "bases"), Ready: connect}
	cfg    *rest.Config
	scheme = runtime.NewScheme()
	k8s    client.WithWatch
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	_ = clientgoscheme.AddToScheme(scheme)
	_ = sweepv1alpha1.AddToScheme(scheme)
	code := m.Run()
	if err := plane.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
}

// apiServer starts the control plane if no test has yet; every test that
// talks to the API server calls it (most through newNamespace) before it
// uses cfg or k8s.
func apiServer(t *testing.T) {
	t.Helper()
	plane.Start(t)
}

// connect makes the test's client once the control plane runs.
func connect(_ *envtest.Environment, c *rest.Config) (err error) {
	cfg = c
	// The test's own client is not throttled: it plays ops and the
	// collectors, and measures the API server's ceiling.
	cfg.QPS, cfg.Burst = -1, 0
	k8s, err = client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	return err
}

// zapLevel keeps the manager quiet unless SWEEP_TEST_LOG=debug.
func zapLevel() zapcore.Level {
	if os.Getenv("SWEEP_TEST_LOG") == "debug" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

// startManager runs the round controller in its own manager, watching only
// namespace ns, until the returned stop function is called (or the test
// ends). Each call is a fresh process as far as the controller can tell:
// new cache, no memory of earlier managers.
func startManager(t *testing.T, ns string, clk clock.PassiveClock, tune func(*TestingRoundReconciler)) (stop func()) {
	t.Helper()
	return startManagerWith(t, ns, clk, tune, nil)
}

// testCacheOptions is the manager's own cache configuration, limited to
// the test's namespace.
func testCacheOptions(ns string) cache.Options {
	opts := CacheOptions()
	opts.DefaultNamespaces = map[string]cache.Config{ns: {}}
	return opts
}

// startManagerWith also runs the collection controller with the executor
// newExecutor makes (none when nil).
func startManagerWith(t *testing.T, ns string, clk clock.PassiveClock, tune func(*TestingRoundReconciler), newExecutor func(ctrl.Manager) Executor) (stop func()) {
	t.Helper()
	mgr := newTestManager(t, testCacheOptions(ns))
	memory := &expectations.Store{}
	rec := &TestingRoundReconciler{
		Memory:         memory,
		Client:         mgr.GetClient(),
		Clock:          clk,
		Recorder:       mgr.GetEventRecorder("sweep-round-controller"),
		StatusInterval: 200 * time.Millisecond,
	}
	if tune != nil {
		tune(rec)
	}
	if err := rec.SetupWithManager(mgr, 4); err != nil {
		t.Fatal(err)
	}
	labRec := &LabReconciler{
		Client: mgr.GetClient(), Clock: clk, Recorder: mgr.GetEventRecorder("sweep-lab-controller"),
		Rounds: rec, Sources: testLabSources,
	}
	if err := labRec.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	if f, ok := fieldTeamsOf.Load(ns); ok {
		if newExecutor == nil {
			memory.OnAdmit(f.(*fieldTeams).start) // it stands in for the collection controller
		} else {
			memory.OnAdmit(f.(*fieldTeams).admittedInMemory)
		}
	}
	if newExecutor != nil {
		cr := &CollectionJobReconciler{
			Memory:   memory,
			Client:   mgr.GetClient(),
			Clock:    clk,
			Recorder: mgr.GetEventRecorder("sweep-collection-controller"),
			Executor: newExecutor(mgr),
		}
		if err := cr.SetupWithManager(mgr, 8); err != nil {
			t.Fatal(err)
		}
	}
	return runManager(t, mgr)
}

// newTestManager makes a manager as the operator's, with the given cache.
func newTestManager(t *testing.T, cacheOpts cache.Options) ctrl.Manager {
	t.Helper()
	apiServer(t)
	mcfg := rest.CopyConfig(cfg)
	mcfg.QPS, mcfg.Burst = 500, 1000 // the manager's defaults
	mgr, err := ctrl.NewManager(mcfg, ctrl.Options{
		Logger:                 testManagerLogger,
		NewClient:              testManagerNewClient,
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: testMetricsAddr},
		HealthProbeBindAddress: "0",
		Cache:                  cacheOpts,
		// Tests start several managers in one process, one after another.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}

// runManager starts mgr until the returned stop function is called (or
// the test ends).
func runManager(t *testing.T, mgr ctrl.Manager) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// testManagerLogger is the logger of managers started by tests: the
// process's (zero value: ctrl.Log), unless a test captures the log.
var testManagerLogger logr.Logger

// testManagerNewClient makes the client of managers started by tests: the
// default (nil), unless a test wraps it to inject faults.
var testManagerNewClient client.NewClientFunc

// testLabSources makes the lab sources of the managers tests start (the
// drill lab needs none).
var testLabSources func(ctx context.Context, tr *sweepv1alpha1.TestingRound) (lab.Source, error)

// testMetricsAddr is where managers started by tests serve metrics: nowhere
// ("0"), unless a metrics test sets it.
var testMetricsAddr = "0"

func newNamespace(t *testing.T) string {
	t.Helper()
	apiServer(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "round-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// createBuildings creates n buildings named b-0000...; every seventh is
// Sealed and every fifth (not sealed) Controlled.
func createBuildings(t *testing.T, ns string, n int, lbl map[string]string) []sweepv1alpha1.Building {
	t.Helper()
	out := make([]sweepv1alpha1.Building, n)
	for i := range out {
		level := sweepv1alpha1.ControlLevelPrecaution
		switch {
		case i%7 == 3:
			level = sweepv1alpha1.ControlLevelSealed
		case i%5 == 1:
			level = sweepv1alpha1.ControlLevelControlled
		}
		out[i] = *testobjects.Building(ns, fmt.Sprintf("b-%04d", i)).WithLabels(lbl).
			Residents(int32(100 + i%50)).Exempt(int32(i % 4)).HomeVisit(int32(i % 3)).Households(40).Level(level).Obj()
	}
	err := inParallel(context.Background(), 16, n, func(ctx context.Context, i int) error {
		return k8s.Create(ctx, &out[i])
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// newRound is the suite's usual round: the drill collector, a deadline 12
// hours after now, and the buildings labelled sel (all when sel is nil).
func newRound(ns, name string, now time.Time, teams int32, sel map[string]string) *sweepv1alpha1.TestingRound {
	return testobjects.Round(ns, name).Deadline(now.Add(12 * time.Hour)).Teams(teams).Drill().Selector(sel).Obj()
}

// await is testharness.Await with this suite's timeout, generous for a
// loaded machine, and a short poll (envtest answers in milliseconds). An
// error from cond ends the wait at once: here it is an assertion.
func await(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	testharness.Await(t, what, 3*time.Minute, 50*time.Millisecond, testharness.StopOnError(cond))
}

func getRound(t *testing.T, ns, name string) *sweepv1alpha1.TestingRound {
	t.Helper()
	var tr sweepv1alpha1.TestingRound
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &tr); err != nil {
		t.Fatal(err)
	}
	return &tr
}

// jobName is the name of a building's job in the round stored as ns/roundName
// (job names hash the round's UID).
func jobName(t *testing.T, ns, roundName, building string) string {
	t.Helper()
	return round.JobName(roundName, getRound(t, ns, roundName).UID, building)
}

func listJobs(t *testing.T, ns string) []sweepv1alpha1.CollectionJob {
	t.Helper()
	var l sweepv1alpha1.CollectionJobList
	if err := k8s.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// poke touches the round so the controller reconciles it now; tests use it
// after moving the fake clock, where a real manager would wake up by itself.
func poke(t *testing.T, ns, name string) {
	t.Helper()
	touch(t, &sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
}

// touch changes an annotation of obj, which every watch reports.
func touch(t *testing.T, obj client.Object) {
	t.Helper()
	p := client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"metadata":{"annotations":{"test.sweep.masstesting.io/poke":"%d"}}}`, time.Now().UnixNano()))
	if err := k8s.Patch(context.Background(), obj, p); err != nil {
		t.Fatal(err)
	}
}

// roundEvents lists the events about a round.
func roundEvents(t *testing.T, ns, name string) map[string]string {
	t.Helper()
	return eventsAbout(t, ns, "TestingRound", name)
}

// watchRoundStatus checks every status of the round the API server ever
// stores: expected = sampled + outstanding + missed, and counts the writes.
func watchRoundStatus(t *testing.T, ns, name string) (writes func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := k8s.Watch(ctx, &sweepv1alpha1.TestingRoundList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			tr, ok := ev.Object.(*sweepv1alpha1.TestingRound)
			if !ok || tr.Name != name || ev.Type == watch.Deleted {
				continue
			}
			res := tr.Status.Residents
			if res.Expected != res.Sampled+res.Outstanding+res.Missed {
				t.Errorf("round status broke expected = sampled + outstanding + missed: %+v", res)
			}
			if tr.Status.Phase != "" {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { cancel(); w.Stop(); <-done })
	return func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// awaitRoundEvents waits until the round has an event for every reason.
// Events are written asynchronously by the broadcaster, so a test that
// checked them once right after a status change would be flaky.
func awaitRoundEvents(t *testing.T, ns, name string, reasons ...string) {
	t.Helper()
	await(t, fmt.Sprintf("events %v on round %s", reasons, name), func() (bool, error) {
		ev := roundEvents(t, ns, name)
		for _, r := range reasons {
			if ev[r] == "" {
				return false, nil
			}
		}
		return true, nil
	})
}

// eventsAbout maps reason to message for the events about one object.
func eventsAbout(t *testing.T, ns, kind, name string) map[string]string {
	t.Helper()
	var l eventsv1.EventList
	if err := k8s.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range l.Items {
		if e.Regarding.Kind == kind && e.Regarding.Name == name {
			out[e.Reason] = e.Note
		}
	}
	return out
}
