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

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// applyStatus writes status to obj's status subresource with server-side
// apply as fieldOwner, so each writer owns only the fields it sends. With
// resourceVersion set, the write fails with a conflict when the object
// changed since it was read. It returns the object's resourceVersion after
// the write (the same one when the write changed nothing).
func applyStatus(ctx context.Context, c client.Client, kind string, obj client.Object, status any, fieldOwner, resourceVersion string) (string, error) {
	fields, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return "", err
	}
	dropEmptyObjects(fields)
	u := &unstructured.Unstructured{Object: map[string]any{"status": fields}}
	u.SetGroupVersionKind(sweepv1alpha1.GroupVersion.WithKind(kind))
	u.SetNamespace(obj.GetNamespace())
	u.SetName(obj.GetName())
	u.SetResourceVersion(resourceVersion)
	if err := c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldOwner), client.ForceOwnership); err != nil {
		return "", err
	}
	return u.GetResourceVersion(), nil // the API server's answer, decoded into u
}

// dropEmptyObjects removes, at any depth, the objects with no fields left
// once their zero fields were omitted, such as a round's missedByReason when
// nobody is missed. Applied as {}, such an object would not clear the fields
// this owner set before: server-side apply removes them and stores the
// object as null, which the schema refuses ("must be of type object"), so
// every later status write of that object would fail. Left out, the fields
// are removed with the object, and readers see the zero value. No status
// field Sweep writes is a required object that can be empty.
func dropEmptyObjects(fields map[string]any) {
	for k, v := range fields {
		switch v := v.(type) {
		case map[string]any:
			dropEmptyObjects(v)
			if len(v) == 0 {
				delete(fields, k)
			}
		case []any:
			for _, item := range v {
				if m, ok := item.(map[string]any); ok {
					dropEmptyObjects(m) // an item is kept: lists keep their length
				}
			}
		}
	}
}
