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
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/source"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collection"
	"github.com/masstesting/sweep/internal/collector"
)

// LocalExecutor runs visits inside the manager's process with the same
// collector code and the same status contract as a visit Job, at most
// Workers at once. It is for demos, development and small installs
// (`sweep manager --executor=local`): visits under way are lost when the
// manager stops, and are run again (reports are cumulative, so a rerun
// counts nobody twice). The csv source needs the job executor, which mounts
// the ConfigMap.
type LocalExecutor struct {
	Client         client.Client
	DrillTimeScale float64
	// Done receives each CollectionJob whose visit ended, so the collection
	// controller reconciles it at once.
	Done chan event.GenericEvent

	// queue holds the visits waiting for one of the workers. A round with
	// thousands of free teams starts thousands of visits at once: they wait
	// here as small structs, not as thousands of blocked goroutines.
	queue workqueue.TypedInterface[*localVisit]
	base  context.Context
	stop  context.CancelFunc

	mu sync.Mutex
	// runs holds the latest attempt of each CollectionJob.
	runs map[types.NamespacedName]*localRun
}

type localRun struct {
	name    string
	state   collection.VisitState
	cause   string
	started time.Time
	cancel  context.CancelFunc
	// final is the visit's final report, kept here rather than written to
	// the API: the collection controller takes it from Observe and writes
	// it with the status that ends the visit, one API write less per visit.
	final *sweepv1alpha1.VisitReport
}

// localVisit is one visit attempt waiting for, or run by, a worker.
type localVisit struct {
	key types.NamespacedName
	run *localRun
	ctx context.Context
	a   collector.Assignment
}

// NewLocalExecutor makes an executor running at most workers visits at once.
// Shutdown stops its workers.
func NewLocalExecutor(c client.Client, workers int, timeScale float64) *LocalExecutor {
	ctx, cancel := context.WithCancel(context.Background())
	e := &LocalExecutor{
		Client: c, DrillTimeScale: timeScale, Done: make(chan event.GenericEvent, 1024),
		queue: workqueue.NewTyped[*localVisit](), base: ctx, stop: cancel,
		runs: map[types.NamespacedName]*localRun{},
	}
	for range max(workers, 1) {
		go e.work()
	}
	return e
}

func (e *LocalExecutor) work() {
	for {
		v, quit := e.queue.Get()
		if quit {
			return
		}
		e.runVisit(v)
		e.queue.Done(v)
	}
}

// runVisit runs one visit unless it was stopped while it waited, records
// how it ended, and tells the controller.
func (e *LocalExecutor) runVisit(v *localVisit) {
	defer v.run.cancel()
	if v.ctx.Err() != nil {
		return
	}
	err := e.visit(v.ctx, v.a, v.run)
	e.mu.Lock()
	if e.runs[v.key] == v.run {
		v.run.state, v.run.cause = collection.VisitSucceeded, ""
		if err != nil {
			v.run.state, v.run.cause = collection.VisitFailed, err.Error()
		}
	}
	e.mu.Unlock()
	if v.ctx.Err() == nil {
		obj := &sweepv1alpha1.CollectionJob{}
		obj.Namespace, obj.Name = v.key.Namespace, v.key.Name
		e.Done <- event.GenericEvent{Object: obj}
	}
}

// Start runs the attempt in a goroutine unless it is already known.
func (e *LocalExecutor) Start(_ context.Context, cj *sweepv1alpha1.CollectionJob, _ *sweepv1alpha1.TestingRound, name string, visit int32) error {
	key := client.ObjectKeyFromObject(cj)
	e.mu.Lock()
	if r := e.runs[key]; r != nil && r.name == name {
		e.mu.Unlock()
		return nil
	}
	if r := e.runs[key]; r != nil && r.cancel != nil {
		r.cancel()
	}
	ctx, cancel := context.WithCancel(e.base)
	run := &localRun{name: name, state: collection.VisitRunning, started: time.Now(), cancel: cancel}
	e.runs[key] = run
	e.mu.Unlock()

	e.queue.Add(&localVisit{key: key, run: run, ctx: ctx, a: collector.AssignmentFor(cj, visit, e.DrillTimeScale)})
	return nil
}

func (e *LocalExecutor) visit(ctx context.Context, a collector.Assignment, run *localRun) error {
	src, err := collector.SourceFor(a)
	if err != nil {
		return err
	}
	return collector.Run(ctx, a, src, localReporter{api: collector.StatusReporter{Client: e.Client}, e: e, run: run})
}

// localReporter sends progress reports to the API, as a collector pod does,
// and keeps the final one with the run.
type localReporter struct {
	api collector.StatusReporter
	e   *LocalExecutor
	run *localRun
}

func (r localReporter) Report(ctx context.Context, a collector.Assignment, o collector.Outcome, final bool) error {
	if !final {
		return r.api.Report(ctx, a, o, false)
	}
	rep := collector.ReportFor(a, o, true, time.Now())
	r.e.mu.Lock()
	r.run.final = rep
	r.e.mu.Unlock()
	return nil
}

// Observe says what became of the attempt.
func (e *LocalExecutor) Observe(_ context.Context, cj *sweepv1alpha1.CollectionJob, name string) (collection.Observed, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.runs[client.ObjectKeyFromObject(cj)]
	if r == nil || r.name != name {
		return collection.Observed{State: collection.VisitUnknown}, nil
	}
	obs := collection.Observed{State: r.state, Cause: r.cause, Started: r.started}
	if r.state == collection.VisitSucceeded && r.final != nil {
		obs.Report = r.final.DeepCopy()
	}
	return obs, nil
}

// Stop cancels the attempt.
func (e *LocalExecutor) Stop(_ context.Context, cj *sweepv1alpha1.CollectionJob, name string) error {
	key := client.ObjectKeyFromObject(cj)
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.runs[key]; r != nil && r.name == name {
		if r.cancel != nil {
			r.cancel()
		}
		e.forgetLocked(key)
	}
	return nil
}

// Forget drops what is known about a CollectionJob that finished or is gone.
func (e *LocalExecutor) Forget(key types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.runs[key]; r != nil && r.cancel != nil {
		r.cancel()
	}
	e.forgetLocked(key)
}

// forgetLocked drops a run, and gives back the map's memory once no run is
// left: a Go map keeps the buckets of its largest size (a city round's
// 100,000 buildings) otherwise. The caller holds e.mu.
func (e *LocalExecutor) forgetLocked(key types.NamespacedName) {
	delete(e.runs, key)
	if len(e.runs) == 0 {
		e.runs = map[types.NamespacedName]*localRun{}
	}
}

// Setup makes the collection controller watch the executor's finished
// visits (Done), which no API write announces, and stops every visit under
// way when the manager stops.
func (e *LocalExecutor) Setup(mgr manager.Manager, b *builder.Builder) error {
	b.WatchesRawSource(source.Channel(e.Done, &handler.EnqueueRequestForObject{}))
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		e.Shutdown()
		return nil
	}))
}

// Shutdown stops every visit under way.
func (e *LocalExecutor) Shutdown() {
	e.stop()
	e.queue.ShutDown()
}
