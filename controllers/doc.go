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
// expands a TestingRound (or a mop-up round) into CollectionJobs and admits
// them team by team; the collection controller, which runs each building's
// visits; the schedule controller, which creates a TestingSchedule's rounds
// and mop-ups; and the lab controller, which polls a round's lab results
// into PositivePools and their single-tube retests.
//
// Each reconciler declares the permissions it needs in RBAC markers beside
// its code; `make manifests` turns them into config/rbac/role.yaml, which the
// Helm chart and kustomize both use.
package controllers
