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

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collection"
)

// Executor runs visits. Two implement it: JobExecutor (a batch/v1 Job per
// visit attempt, the default) and LocalExecutor (in the manager's process,
// for demos, development and small installs). Both run the same collector
// code, which reports through the CollectionJob's status. Every cj handed
// to an executor carries its round's values as the round says them now
// (collection.FollowRound): a stored job holds no deadline, visits,
// collector or pool size of its own unless it is a retest.
type Executor interface {
	// Start starts visit attempt `name` (visit number `visit`) unless it is
	// already running or done: calling it twice is harmless.
	Start(ctx context.Context, cj *sweepv1alpha1.CollectionJob, tr *sweepv1alpha1.TestingRound, name string, visit int32) error
	// Observe says what became of attempt `name`.
	Observe(ctx context.Context, cj *sweepv1alpha1.CollectionJob, name string) (collection.Observed, error)
	// Stop stops attempt `name`; stopping one that is gone is not an error.
	Stop(ctx context.Context, cj *sweepv1alpha1.CollectionJob, name string) error
	// Forget drops what the executor keeps of a CollectionJob that finished
	// or is gone.
	Forget(key types.NamespacedName)
	// Setup adds to the collection controller what must wake it when an
	// attempt changes without an API write it watches, and to the manager
	// what must stop with it. It is called once, before the manager starts.
	Setup(mgr manager.Manager, b *builder.Builder) error
}

var (
	_ Executor       = (*JobExecutor)(nil)
	_ Executor       = (*LocalExecutor)(nil)
	_ deadlineKeeper = (*JobExecutor)(nil)
)

// deadlineKeeper is an executor whose running visits carry a deadline of
// their own (the job executor's visit Jobs: activeDeadlineSeconds). The
// collection controller calls it while a visit runs, so that a round
// deadline moved later does not let the visit's own deadline cut it, and
// one moved earlier is followed.
type deadlineKeeper interface {
	KeepDeadline(ctx context.Context, cj *sweepv1alpha1.CollectionJob, name string) error
}

// unrecordedStarts says whether the executor's visits run in the manager's
// process (LocalExecutor), so that a visit's start need not be written
// before it runs: a manager that stops forgets the start and loses the
// visit with it, and the next one starts it again from the stored status.
// A visit Job must not start before status.activeJob names it: the
// collector-report policy lets its pod report only then.
func unrecordedStarts(e Executor) bool {
	_, ok := e.(*LocalExecutor)
	return ok
}
