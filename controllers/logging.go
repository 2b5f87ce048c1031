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

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// Every log line about a round carries "round"; every line about a
// building's job carries "round" and "building" too, including
// controller-runtime's own "Reconciler error" lines. Ops answer "what
// happened to building X in today's round" with one grep (or one Loki
// query) instead of first mapping hashed job names to buildings.

// roundLogger is the round controller's log constructor.
func roundLogger(mgr ctrl.Manager) func(*reconcile.Request) logr.Logger {
	base := mgr.GetLogger().WithValues("controller", "testinground", "controllerGroup", sweepv1alpha1.GroupVersion.Group, "controllerKind", "TestingRound")
	return func(req *reconcile.Request) logr.Logger {
		if req == nil {
			return base
		}
		return base.WithValues("TestingRound", klog.KRef(req.Namespace, req.Name), "namespace", req.Namespace, "round", req.Name)
	}
}

// collectionJobLogger is the collection controller's log constructor. The
// job's round and building come from the informer cache (a local read); a
// job already gone from the cache is logged by its name alone.
func collectionJobLogger(mgr ctrl.Manager) func(*reconcile.Request) logr.Logger {
	base := mgr.GetLogger().WithValues("controller", "collectionjob", "controllerGroup", sweepv1alpha1.GroupVersion.Group, "controllerKind", "CollectionJob")
	reader := mgr.GetCache()
	return func(req *reconcile.Request) logr.Logger {
		if req == nil {
			return base
		}
		l := base.WithValues("CollectionJob", klog.KRef(req.Namespace, req.Name), "namespace", req.Namespace)
		var cj sweepv1alpha1.CollectionJob
		if err := reader.Get(context.Background(), client.ObjectKey{Namespace: req.Namespace, Name: req.Name}, &cj); err == nil {
			l = l.WithValues("round", cj.Spec.Round, "building", cj.Spec.Building)
		}
		return l
	}
}
