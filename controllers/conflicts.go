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
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// conflictRequeue is how soon a reconcile that lost a race runs again.
const conflictRequeue = 100 * time.Millisecond

// requeueOnConflict is the one place where Sweep's controllers treat a 409
// Conflict. A conflict means another writer (a collector's report, ops
// editing a round, another reconcile through a lagging cache) changed the
// object after this reconcile read it: the write it wanted was not made,
// and the right answer is to decide again from the newer object. That is
// how optimistic concurrency is meant to work, not an error: returned as
// one, controller-runtime would log "Reconciler error" at error level, with
// a stack trace, for every race, and ops would chase noise. So a conflict
// (also one wrapped in another error, such as "admitting CollectionJob
// ...: conflict") requeues quietly, logged at V(1); every other error is
// returned unchanged and retried with backoff as before.
func requeueOnConflict(r reconcile.Reconciler) reconcile.Reconciler {
	return reconcile.Func(func(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
		res, err := r.Reconcile(ctx, req)
		if err != nil && apierrors.IsConflict(err) {
			log.FromContext(ctx).V(1).Info("lost a race with another writer; deciding again from the newer object", "cause", err.Error())
			return reconcile.Result{RequeueAfter: conflictRequeue}, nil
		}
		return res, err
	})
}
