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
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collection"
	"github.com/masstesting/sweep/internal/expectations"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/testobjects"
)

// A job whose last attempt failed is written Failed. A reconcile woken
// right after (the executor's "visit ended" event) can still read the
// cache's copy from before that write, with the attempt running. It must
// wait for the write, not start the attempt again: a registry request more
// than the retries allow, and a visit run for a job already final. The
// reconciler runs here against the real API server, reading through a
// client that serves that older copy once, as a lagging cache does.
func TestFinishedJobIsNotRestartedFromAStaleCache(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	clk := clocktesting.NewFakeClock(time.Now())
	tr := newRound(ns, "r", clk.Now(), 1, street)
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	cj := round.NewJob(tr, testobjects.Building(ns, "b").Residents(10).Households(4).Obj())
	cj.Spec.Suspend = false
	if err := k8s.Create(ctx, cj); err != nil {
		t.Fatal(err)
	}
	exec := &scriptedExecutor{state: map[string]collection.VisitState{}}
	reads := &staleReads{Client: k8s}
	r := &CollectionJobReconciler{Client: reads, Clock: clk, Recorder: events.NewFakeRecorder(100), Executor: exec, Memory: &expectations.Store{}}
	req := ctrl.Request{NamespacedName: client.ObjectKeyFromObject(cj)}
	reconcile := func() {
		t.Helper()
		if _, err := r.Reconcile(ctx, req); err != nil {
			t.Fatal(err)
		}
	}

	var lastRunning *sweepv1alpha1.CollectionJob
	for range collection.MaxAttempts {
		reconcile() // starts the next attempt
		lastRunning = getJob(t, ns, cj.Name)
		if lastRunning.Status.ActiveJob == "" {
			t.Fatalf("no attempt started: %+v", lastRunning.Status)
		}
		exec.fail(lastRunning.Status.ActiveJob)
		reconcile()           // records the failure
		clk.Step(time.Minute) // past the retry's backoff
	}
	if st := getJob(t, ns, cj.Name).Status; st.Phase != sweepv1alpha1.JobFailed || st.FailedAttempts != collection.MaxAttempts {
		t.Fatalf("after %d failed attempts: phase %s, %d failed attempts; want Failed", collection.MaxAttempts, st.Phase, st.FailedAttempts)
	}
	starts := exec.starts()

	reads.serveOnce(lastRunning)
	if _, err := r.Reconcile(ctx, req); err != nil && !apierrors.IsConflict(err) {
		t.Fatal(err)
	}
	if got := exec.starts(); got != starts {
		t.Errorf("a reconcile from the copy before the job failed started %s again (%d starts, want %d)",
			lastRunning.Status.ActiveJob, got, starts)
	}
}

// scriptedExecutor runs nothing: its attempts run until the test fails
// them, and an attempt it was told to stop is unknown to it, as with the
// local executor.
type scriptedExecutor struct {
	mu      sync.Mutex
	state   map[string]collection.VisitState
	started int
}

func (e *scriptedExecutor) Start(_ context.Context, _ *sweepv1alpha1.CollectionJob, _ *sweepv1alpha1.TestingRound, name string, _ int32) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.state[name]; !ok {
		e.state[name] = collection.VisitRunning
		e.started++
	}
	return nil
}

func (e *scriptedExecutor) Observe(_ context.Context, _ *sweepv1alpha1.CollectionJob, name string) (collection.Observed, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	obs := collection.Observed{State: e.state[name]} // absent: VisitUnknown
	if obs.State == collection.VisitFailed {
		obs.Cause = "the registry answered 500"
	}
	return obs, nil
}

func (e *scriptedExecutor) Forget(types.NamespacedName) {}

func (e *scriptedExecutor) Setup(manager.Manager, *builder.Builder) error { return nil }

func (e *scriptedExecutor) Stop(_ context.Context, _ *sweepv1alpha1.CollectionJob, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.state, name)
	return nil
}

func (e *scriptedExecutor) fail(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.state[name] = collection.VisitFailed
}

func (e *scriptedExecutor) starts() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started
}

// staleReads is the API server's client, except that its next Get of a
// CollectionJob answers with an older copy, as a cache that has not yet
// seen the latest write does.
type staleReads struct {
	client.Client
	mu    sync.Mutex
	stale *sweepv1alpha1.CollectionJob
}

func (c *staleReads) serveOnce(old *sweepv1alpha1.CollectionJob) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stale = old.DeepCopy()
}

func (c *staleReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.mu.Lock()
	old := c.stale
	c.stale = nil
	c.mu.Unlock()
	if cj, ok := obj.(*sweepv1alpha1.CollectionJob); ok && old != nil && client.ObjectKeyFromObject(old) == key {
		old.DeepCopyInto(cj)
		return nil
	}
	return c.Client.Get(ctx, key, obj, opts...)
}
