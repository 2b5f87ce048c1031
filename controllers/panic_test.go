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
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/masstesting/sweep/internal/testharness"
)

// TestReconcilePanicIsRecoveredAndCounted pins what docs/metrics.md says:
// with the manager options Sweep uses (RecoverPanic unset), controller-runtime
// v0.25 recovers a panic in Reconcile, retries the request, keeps the
// manager running, and counts it in controller_runtime_reconcile_panics_total.
// Sweep's reconcilers run under the same wrapper, so this is how a bug that
// panics on hostile input shows up: a counter and retries, not a crash loop.
func TestReconcilePanicIsRecoveredAndCounted(t *testing.T) {
	addr := testharness.FreeAddr(t)
	ns := newNamespace(t)
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: addr},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	err = ctrl.NewControllerManagedBy(mgr).For(&corev1.ConfigMap{}).Named("panicky").
		Complete(reconcile.Func(func(context.Context, reconcile.Request) (reconcile.Result, error) {
			if calls.Add(1) <= 2 {
				panic("hostile input")
			}
			return reconcile.Result{}, nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}()

	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "poison", Namespace: ns}}
	if err := k8s.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	// Two panics, then the retry succeeds: the request was not dropped.
	await(t, "the third reconcile", func() (bool, error) { return calls.Load() >= 3, nil })
	select {
	case err := <-done:
		done <- err // for the deferred stop
		t.Fatalf("the manager stopped after a panic: %v", err)
	default:
	}
	await(t, "the panics counted", func() (bool, error) {
		m, err := testharness.Scrape("http://"+addr+"/metrics", testharness.ScrapeOptions{})
		if err != nil {
			return false, nil // not serving yet
		}
		n, _ := m.Value("controller_runtime_reconcile_panics_total", "controller=panicky")
		return n == 2, nil
	})
}
