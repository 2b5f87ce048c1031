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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

func pipelineJobs(round string, n int) []*sweepv1alpha1.CollectionJob {
	out := make([]*sweepv1alpha1.CollectionJob, n)
	for i := range out {
		out[i] = &sweepv1alpha1.CollectionJob{}
		out[i].Namespace, out[i].Name = "ns", fmt.Sprintf("%s-%03d", round, i)
	}
	return out
}

func pipelineRound(name string) *sweepv1alpha1.TestingRound {
	r := &sweepv1alpha1.TestingRound{}
	r.Namespace, r.Name = "ns", name
	return r
}

// startPipeline runs p until the test ends.
func startPipeline(t *testing.T, p *createPipeline) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor polls cond (pure memory, no API) until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCreatePipelineBoundsCreatesInFlightAcrossRounds(t *testing.T) {
	const workers, perRound = 4, 50
	var inFlight, peak, sent atomic.Int64
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseAll := func() { releaseOnce.Do(func() { close(release) }) }
	p := newCreatePipeline(workers, perRound, func(_ context.Context, _ createTask) {
		n := inFlight.Add(1)
		for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
		}
		<-release
		inFlight.Add(-1)
		sent.Add(1)
	})
	startPipeline(t, p)
	t.Cleanup(releaseAll) // runs before the pipeline's stop
	for _, name := range []string{"a", "b", "c"} {
		p.Add(pipelineRound(name), pipelineJobs(name, perRound))
	}
	waitFor(t, "every worker busy", func() bool { return inFlight.Load() >= workers })
	if room := p.Room(types.NamespacedName{Namespace: "ns", Name: "a"}); room != 0 {
		t.Errorf("round a has room for %d more with %d queued or in flight (depth %d)", room, perRound, perRound)
	}
	releaseAll()
	waitFor(t, "every create sent", func() bool { return sent.Load() == 3*perRound })
	if peak.Load() > workers {
		t.Errorf("%d creates were in flight at once, want at most %d (the workers)", peak.Load(), workers)
	}
}

func TestCreatePipelineHasNoBarrierAndWakesTheRoundForMore(t *testing.T) {
	const depth = 10
	stuck := make(chan struct{})
	var mu sync.Mutex
	var sent []string
	p := newCreatePipeline(4, depth, func(_ context.Context, task createTask) {
		if task.job.Name == "a-000" {
			<-stuck // one slow create, as an API server call that hangs
		}
		mu.Lock()
		sent = append(sent, task.job.Name)
		mu.Unlock()
	})
	startPipeline(t, p)
	defer close(stuck)
	key := types.NamespacedName{Namespace: "ns", Name: "a"}
	p.Add(pipelineRound("a"), pipelineJobs("a", depth))

	// Half of the round's creates answered: it is woken to plan more, and
	// has room for them while its slow create is still in flight.
	select {
	case ev := <-p.wake:
		if ev.Object.GetName() != "a" {
			t.Fatalf("woke %s, want a", ev.Object.GetName())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the round was not woken at half depth")
	}
	if room := p.Room(key); room < depth/2 {
		t.Fatalf("room %d after half of the creates were answered, want at least %d", room, depth/2)
	}
	more := pipelineJobs("a", depth+5)[depth:]
	p.Add(pipelineRound("a"), more)
	waitFor(t, "the next jobs sent while the first create still hangs", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(sent) == depth-1+len(more)
	})
	if n := p.InFlight(key); n != 1 {
		t.Errorf("%d of the round's creates in flight, want 1 (the hanging one)", n)
	}
}

func TestCreatePipelineWakesTheRoundWhenItsLastCreateIsAnswered(t *testing.T) {
	p := newCreatePipeline(2, 100, func(context.Context, createTask) {})
	startPipeline(t, p)
	p.Add(pipelineRound("a"), pipelineJobs("a", 3))
	select {
	case ev := <-p.wake:
		if ev.Object.GetName() != "a" || ev.Object.GetNamespace() != "ns" {
			t.Fatalf("woke %s/%s, want ns/a", ev.Object.GetNamespace(), ev.Object.GetName())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the round was not woken when its creates were answered")
	}
	if n := p.InFlight(types.NamespacedName{Namespace: "ns", Name: "a"}); n != 0 {
		t.Errorf("%d in flight after every create was answered", n)
	}
}
