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

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
)

// lastAppliedAnnotation is kubectl's client-side apply record: a full copy
// of the object as last applied, never read by the operator.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// CacheOptions is how the manager caches what it watches: trimmed
// (TrimForCache), and of batch Jobs only the visit Jobs it created (they
// carry LabelCollectionJob). A cluster's other Jobs, however many, are
// neither sent to the manager nor kept in its memory.
func CacheOptions() cache.Options {
	visitJobs, err := labels.NewRequirement(LabelCollectionJob, selection.Exists, nil)
	if err != nil {
		panic(err) // a constant, valid label key
	}
	return cache.Options{
		DefaultTransform: TrimForCache,
		ByObject: map[client.Object]cache.ByObject{
			&batchv1.Job{}: {Label: labels.NewSelector().Add(*visitJobs)},
		},
	}
}

// TrimForCache drops from every object the manager caches what no
// controller reads: managed fields (server-side apply's bookkeeping, often
// the biggest part of a small object) and kubectl's last-applied copy. At
// 50,000 Buildings and 50,000 CollectionJobs this is most of the cache.
// A visit Job also loses its pod template: the operator reads only its
// conditions, and never updates a Job (it creates and deletes them).
// Writes are unaffected: status is applied with the operator's own field
// manager and the API server keeps the managed fields.
func TrimForCache(obj any) (any, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil // not an object (a tombstone): leave it
	}
	if job, ok := obj.(*batchv1.Job); ok {
		job.Spec.Template = corev1.PodTemplateSpec{}
	}
	m.SetManagedFields(nil)
	if a := m.GetAnnotations(); a != nil {
		if _, ok := a[lastAppliedAnnotation]; ok {
			delete(a, lastAppliedAnnotation)
			if len(a) == 0 {
				a = nil
			}
			m.SetAnnotations(a)
		}
	}
	return obj, nil
}

// roundIndex indexes cached CollectionJobs by the UID of the TestingRound
// that controls them (round.ControllerUID). By UID, not by name: a round
// deleted and created again under its name must not find its predecessor's
// jobs, which the garbage collector may take minutes to delete.
const roundIndex = "sweep.masstesting.io/round-uid"

func indexByRound(obj any) ([]string, error) {
	cj, ok := obj.(*sweepv1alpha1.CollectionJob)
	if !ok {
		return nil, nil
	}
	if uid := round.ControllerUID(cj); uid != "" {
		return []string{string(uid)}, nil
	}
	return nil, nil
}

// controllingRound is the name of the TestingRound that controls obj, or "".
// It only says which round to wake for a job's event; whether the job is
// that round's is decided by UID (round.Controls).
func controllingRound(obj metav1.Object) string {
	if round.ControllerUID(obj) == "" {
		return ""
	}
	return metav1.GetControllerOf(obj).Name
}

// cacheReader reads the objects a round reconcile needs straight from the
// manager's informers: the cache's own objects, not copies. A client List
// copies every item into its list, even without a deep copy; at 50,000 jobs
// and 50,000 Buildings that is about 50 MB of garbage per reconcile, which
// is most of a city round's memory and garbage collection. Callers must
// treat the objects as read-only (DeepCopy before changing one).
//
// A cache limited to some namespaces (cache.Options.DefaultNamespaces, as
// the envtest suites use) has one informer per namespace behind a wrapper
// that hides their indexers; the reader then lists through the client, with
// the copies.
type cacheReader struct {
	jobs, buildings toolscache.Indexer // nil: list through reader
	reader          client.Reader
}

// roundOwnerField is the client field index behind the fallback: the
// controlling round's UID, as roundIndex.
const roundOwnerField = ".metadata.controller.uid"

// newCacheReader registers the round index and keeps the two indexers.
func newCacheReader(ctx context.Context, mgr manager.Manager) (*cacheReader, error) {
	c := &cacheReader{reader: mgr.GetClient()}
	jobs, jobsOK, err := indexerFor(ctx, mgr.GetCache(), &sweepv1alpha1.CollectionJob{})
	if err != nil {
		return nil, err
	}
	buildings, buildingsOK, err := indexerFor(ctx, mgr.GetCache(), &sweepv1alpha1.Building{})
	if err != nil {
		return nil, err
	}
	if jobsOK && buildingsOK {
		if err := jobs.AddIndexers(toolscache.Indexers{roundIndex: indexByRound}); err != nil {
			return nil, err
		}
		c.jobs, c.buildings = jobs, buildings
		return c, nil
	}
	err = mgr.GetFieldIndexer().IndexField(ctx, &sweepv1alpha1.CollectionJob{}, roundOwnerField, func(obj client.Object) []string {
		if uid := round.ControllerUID(obj); uid != "" {
			return []string{string(uid)}
		}
		return nil
	})
	return c, err
}

func indexerFor(ctx context.Context, c cache.Cache, obj client.Object) (toolscache.Indexer, bool, error) {
	inf, err := c.GetInformer(ctx, obj)
	if err != nil {
		return nil, false, err
	}
	sii, ok := inf.(toolscache.SharedIndexInformer)
	if !ok {
		return nil, false, nil
	}
	return sii.GetIndexer(), true, nil
}

// roundJobs returns the cached jobs the round controls (round.Controls).
func (c *cacheReader) roundJobs(ctx context.Context, tr *sweepv1alpha1.TestingRound) ([]*sweepv1alpha1.CollectionJob, error) {
	var out []*sweepv1alpha1.CollectionJob
	if c.jobs == nil {
		var list sweepv1alpha1.CollectionJobList
		if err := c.reader.List(ctx, &list, client.InNamespace(tr.Namespace), client.MatchingFields{roundOwnerField: string(tr.UID)}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		out = pointersTo(list.Items)
	} else {
		objs, err := c.jobs.ByIndex(roundIndex, string(tr.UID))
		if err != nil {
			return nil, err
		}
		out = make([]*sweepv1alpha1.CollectionJob, 0, len(objs))
		for _, o := range objs {
			if cj, ok := o.(*sweepv1alpha1.CollectionJob); ok {
				out = append(out, cj)
			}
		}
	}
	// The index is the rule; the filter keeps it one rule (a job in another
	// namespace naming the round's UID is not the round's).
	kept := out[:0]
	for _, cj := range out {
		if round.Controls(tr, cj) {
			kept = append(kept, cj)
		}
	}
	return kept, nil
}

// RoundJobs returns the cached CollectionJobs a round controls: the cache's
// own objects, read-only. The metrics collector reads them on every scrape
// without copying a city's jobs.
func (r *TestingRoundReconciler) RoundJobs(ctx context.Context, tr *sweepv1alpha1.TestingRound) ([]*sweepv1alpha1.CollectionJob, error) {
	return r.cached.roundJobs(ctx, tr)
}

// buildingsMatching returns the cached Buildings of a namespace that the
// selector picks.
func (c *cacheReader) buildingsMatching(ctx context.Context, namespace string, selector labels.Selector) ([]*sweepv1alpha1.Building, error) {
	if c.buildings == nil {
		var list sweepv1alpha1.BuildingList
		if err := c.reader.List(ctx, &list, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: selector}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		return pointersTo(list.Items), nil
	}
	objs, err := c.buildings.ByIndex(toolscache.NamespaceIndex, namespace)
	if err != nil {
		return nil, err
	}
	out := make([]*sweepv1alpha1.Building, 0, len(objs))
	for _, o := range objs {
		if b, ok := o.(*sweepv1alpha1.Building); ok && selector.Matches(labels.Set(b.Labels)) {
			out = append(out, b)
		}
	}
	return out, nil
}

func pointersTo[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// roundPools returns the cached PositivePools the round controls: a few per
// round, so a namespace list filtered by round.Controls is enough.
func (c *cacheReader) roundPools(ctx context.Context, tr *sweepv1alpha1.TestingRound) ([]*sweepv1alpha1.PositivePool, error) {
	var list sweepv1alpha1.PositivePoolList
	if err := c.reader.List(ctx, &list, client.InNamespace(tr.Namespace)); err != nil {
		return nil, err
	}
	var out []*sweepv1alpha1.PositivePool
	for i := range list.Items {
		if round.Controls(tr, &list.Items[i]) {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}
