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
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

func unstructuredRound(t *testing.T, name string, phase sweepv1alpha1.RoundPhase) *unstructured.Unstructured {
	t.Helper()
	tr := &sweepv1alpha1.TestingRound{
		TypeMeta:   metav1.TypeMeta{APIVersion: sweepv1alpha1.GroupVersion.String(), Kind: "TestingRound"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "district", Name: name},
		Status:     sweepv1alpha1.TestingRoundStatus{Phase: phase},
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(tr)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: u}
}

// The round's completion is seen on the watch, after the wait began: the
// wait neither returns on the phase it started with nor needs a poll.
func TestAwaitRoundCompletedReturnsWhenTheWatchShowsThePhase(t *testing.T) {
	scheme := runtime.NewScheme() // without Sweep's types: the fake then serves unstructured objects, as a dynamic client gets
	gvr := sweepv1alpha1.GroupVersion.WithResource("testingrounds")
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{gvr: "TestingRoundList"},
		unstructuredRound(t, "city", sweepv1alpha1.RoundRunning))
	done := make(chan error, 1)
	go func() {
		done <- awaitRoundCompleted(context.Background(), dyn, "district", "city", time.Minute)
	}()
	select {
	case err := <-done:
		t.Fatalf("returned while the round was Running: %v", err)
	case <-time.After(200 * time.Millisecond): // still waiting, as it should
	}
	if _, err := dyn.Resource(gvr).Namespace("district").UpdateStatus(context.Background(), unstructuredRound(t, "city", sweepv1alpha1.RoundCompleted), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("awaiting Completed: %v", err)
	}
}

// A caller that stops waiting with a cause (the manager exited) gets that
// cause, not a bare context error.
func TestAwaitRoundCompletedReturnsTheCallersCause(t *testing.T) {
	scheme := runtime.NewScheme() // without Sweep's types: the fake then serves unstructured objects, as a dynamic client gets
	gvr := sweepv1alpha1.GroupVersion.WithResource("testingrounds")
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{gvr: "TestingRoundList"},
		unstructuredRound(t, "city", sweepv1alpha1.RoundRunning))
	ctx, stop := context.WithCancelCause(context.Background())
	exited := errors.New("the manager exited")
	stop(exited)
	if err := awaitRoundCompleted(ctx, dyn, "district", "city", time.Minute); !errors.Is(err, exited) {
		t.Fatalf("got %v, want %v", err, exited)
	}
}
