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
	"testing"
	"time"

	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// The reconciler table tests (…Table) run one Reconcile against
// controller-runtime's fake client, with a fixed clock and a fake event
// recorder, and compare what it returned, wrote and said with go-cmp. They
// need no API server: they say what one reconcile does from one stored
// state, which an envtest, racing a manager and its cache, cannot pin
// down. What needs the API server (schema, admission, the cache, several
// controllers together) stays in the envtests and end-to-end tests.

// tableNow is the table tests' "now": whole seconds, since a status time
// stored through the API keeps only seconds.
var tableNow = time.Date(2026, time.April, 2, 8, 0, 0, 0, time.UTC)

// tableNamespace is the district of every table test's objects.
const tableNamespace = "baoguo"

// seeded is an object to store before a table test's reconcile, with its
// status written by the controllers (or the collector) that own it.
type seeded struct {
	kind string
	obj  client.Object
	// status is applied, in order, to obj's status subresource, each by
	// its field owner, so that the reconciler's own server-side apply may
	// change or drop the fields it owns, and only those, as against the
	// API server.
	status []ownedStatus
}

// ownedStatus is a status (a *…Status) written by owner.
type ownedStatus struct {
	owner  string
	status any
}

// newTableClient makes a fake client with the manager's scheme, the status
// subresources and indexes the reconcilers use, and stores objs in order.
// Calls made after that go through funcs (zero: straight to the fake), so
// that a case can have the API server refuse a write.
func newTableClient(t *testing.T, funcs interceptor.Funcs, objs ...seeded) client.Client {
	t.Helper()
	c := fake.NewClientBuilder().
		WithScheme(scheme).
		WithStatusSubresource(&sweepv1alpha1.CollectionJob{}, &sweepv1alpha1.TestingRound{}, &sweepv1alpha1.TestingSchedule{}).
		WithIndex(&sweepv1alpha1.TestingRound{}, roundOwnerKey, roundOwnerIndex).
		Build()
	ctx := context.Background()
	for _, s := range objs {
		if err := c.Create(ctx, s.obj); err != nil {
			t.Fatalf("storing %s %s: %v", s.kind, s.obj.GetName(), err)
		}
		for _, w := range s.status {
			if _, err := applyStatus(ctx, c, s.kind, s.obj, w.status, w.owner, ""); err != nil {
				t.Fatalf("writing the status of %s %s as %s: %v", s.kind, s.obj.GetName(), w.owner, err)
			}
		}
	}
	return interceptor.NewClient(c, funcs)
}

// drainEvents returns the events recorded so far, as "<type> <reason>
// <message>".
func drainEvents(rec *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}
