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

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// createPipeline is the manager's one queue of CollectionJob creates, shared
// by every round. A fixed number of workers send them, so the creates in
// flight never exceed workers, whatever the number of rounds; a round
// reconcile hands its planned jobs over and returns without waiting for
// them, so the workers never stand idle between one reconcile's jobs and
// the next's (the barrier of a batch that must finish before the next is
// planned). Each round has at most depth jobs queued or in flight; when its
// count falls to half of that, and when it reaches zero, the pipeline wakes
// the round to plan more.
//
// The jobs it holds are lost with the process, and nothing is lost by that:
// they are expectations (expectations.Store.Created) that a restarted
// manager does not have, so its first decision plans them again from the
// Buildings.
type createPipeline struct {
	workers int
	depth   int
	// create sends one job's create and records its outcome.
	create func(ctx context.Context, t createTask)
	// wake receives a round (as an object key) that has room again.
	wake chan event.GenericEvent

	mu      sync.Mutex
	ready   *sync.Cond
	queue   []createTask
	pending map[types.NamespacedName]int
}

// createTask is one job to create for a round. owner carries only the
// round's metadata, a copy of its own: a worker reads it while the
// reconcile goes on.
type createTask struct {
	owner *sweepv1alpha1.TestingRound
	job   *sweepv1alpha1.CollectionJob
}

func newCreatePipeline(workers, depth int, create func(context.Context, createTask)) *createPipeline {
	p := &createPipeline{workers: max(workers, 1), depth: max(depth, 1), create: create,
		wake: make(chan event.GenericEvent, 1024), pending: map[types.NamespacedName]int{}}
	p.ready = sync.NewCond(&p.mu)
	return p
}

// Room is how many more jobs the pipeline takes from the round now.
func (p *createPipeline) Room(round types.NamespacedName) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.depth-p.pending[round], 0)
}

// InFlight is how many of the round's jobs are queued or being created.
func (p *createPipeline) InFlight(round types.NamespacedName) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pending[round]
}

// Add queues the round's jobs, in order, behind those already queued.
func (p *createPipeline) Add(tr *sweepv1alpha1.TestingRound, jobs []*sweepv1alpha1.CollectionJob) {
	if len(jobs) == 0 {
		return
	}
	owner := &sweepv1alpha1.TestingRound{TypeMeta: tr.TypeMeta, ObjectMeta: *tr.ObjectMeta.DeepCopy()}
	key := types.NamespacedName{Namespace: tr.Namespace, Name: tr.Name}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, j := range jobs {
		p.queue = append(p.queue, createTask{owner: owner, job: j})
	}
	p.pending[key] += len(jobs)
	p.ready.Broadcast()
}

// Start runs the workers until ctx ends (a manager Runnable: only the
// leader creates jobs).
func (p *createPipeline) Start(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		p.mu.Lock()
		p.ready.Broadcast()
		p.mu.Unlock()
	}()
	var wg sync.WaitGroup
	for range p.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t, ok := p.next(ctx)
				if !ok {
					return
				}
				p.create(ctx, t)
				p.done(ctx, t)
			}
		}()
	}
	wg.Wait()
	return nil
}

// next takes the oldest queued task, waiting for one.
func (p *createPipeline) next(ctx context.Context) (createTask, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) == 0 && ctx.Err() == nil {
		p.ready.Wait()
	}
	if ctx.Err() != nil {
		return createTask{}, false
	}
	t := p.queue[0]
	p.queue[0] = createTask{}
	p.queue = p.queue[1:]
	if len(p.queue) == 0 {
		p.queue = nil // give back the backing array of a city round's queue
	}
	return t, true
}

// done counts a task's create finished and wakes its round at half depth
// and when its last job is done.
func (p *createPipeline) done(ctx context.Context, t createTask) {
	key := types.NamespacedName{Namespace: t.owner.Namespace, Name: t.owner.Name}
	p.mu.Lock()
	p.pending[key]--
	left := p.pending[key]
	if left <= 0 {
		delete(p.pending, key)
	}
	p.mu.Unlock()
	if left == 0 || left == p.depth/2 {
		obj := &sweepv1alpha1.TestingRound{}
		obj.Namespace, obj.Name = key.Namespace, key.Name
		select {
		case p.wake <- event.GenericEvent{Object: obj}:
		case <-ctx.Done():
		}
	}
}

// NeedLeaderElection: only the leader's round controller queues creates.
func (p *createPipeline) NeedLeaderElection() bool { return true }
