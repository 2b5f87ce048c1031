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

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// awaitObject waits until done holds for one object, on a list and watch of
// that object alone (a field selector on its name), as `kubectl wait` does.
// The benchmark used to GET the round every 100 ms instead: each GET is a
// read from etcd, and over the 50,000 round's visits they were 7 % of the
// API server's CPU, taken from the round being measured. A watch costs one
// event per status write, and sees the change the moment it is stored.
func awaitObject[T any](ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, name string, timeout time.Duration, done func(*T) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ri := dyn.Resource(gvr).Namespace(ns)
	sel := fields.OneTermEqualSelector("metadata.name", name).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			return ri.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.FieldSelector = sel
			return ri.Watch(ctx, o)
		},
	}
	// A client that cannot stream the initial list (a fake) is listed.
	_, err := watchtools.UntilWithSync(ctx, cache.ToListWatcherWithWatchListSemantics(lw, dyn), &unstructured.Unstructured{}, nil, func(e watch.Event) (bool, error) {
		u, ok := e.Object.(*unstructured.Unstructured)
		if !ok || e.Type == watch.Deleted {
			return false, nil
		}
		var obj T
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &obj); err != nil {
			return false, fmt.Errorf("reading %s: %w", name, err)
		}
		return done(&obj)
	})
	if err != nil && context.Cause(ctx) != nil && !errors.Is(context.Cause(ctx), context.DeadlineExceeded) && !errors.Is(context.Cause(ctx), context.Canceled) {
		return context.Cause(ctx) // why the caller stopped waiting
	}
	return err
}

// awaitRoundCompleted waits until the round ns/name is Completed.
func awaitRoundCompleted(ctx context.Context, dyn dynamic.Interface, ns, name string, timeout time.Duration) error {
	return awaitObject(ctx, dyn, sweepv1alpha1.GroupVersion.WithResource("testingrounds"), ns, name, timeout, func(tr *sweepv1alpha1.TestingRound) (bool, error) {
		return tr.Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})
}

// awaitJobComplete waits until the Job ns/name is Complete.
func awaitJobComplete(ctx context.Context, dyn dynamic.Interface, ns, name string, timeout time.Duration) error {
	return awaitObject(ctx, dyn, batchv1.SchemeGroupVersion.WithResource("jobs"), ns, name, timeout, func(j *batchv1.Job) (bool, error) {
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}
