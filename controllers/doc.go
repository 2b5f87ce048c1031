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

// Package controllers holds Sweep's reconcilers: the round controller, which
// expands a TestingRound into CollectionJobs and admits them team by team, and
// the collection controller, which runs each building's visits.
//
// The RBAC markers below are the permissions every Sweep controller shares;
// each reconciler adds its own beside its code. `make manifests` turns them
// into config/rbac/role.yaml, which the Helm chart and kustomize both use.
//
// Buildings are only read: the roster belongs to ops (`sweep import`).
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=buildings,verbs=get;list;watch
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=testingrounds;collectionjobs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=testingrounds/status;collectionjobs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=testingrounds/finalizers;collectionjobs/finalizers,verbs=update
// Events tell people about transitions (events.k8s.io, as the manager's
// recorder writes them).
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
package controllers
