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

// Package testobjects builds Sweep's API objects for tests: unit tests,
// envtest suites and end-to-end tests alike. Each kind has a wrapper with
// chainable setters and Obj, after kubernetes-sigs/jobset's test wrappers:
//
//	b := testobjects.Building("pingfang", "xinjiang-7").
//		Label(sweepv1alpha1.LabelStreet, "baoguo").
//		Residents(120).Households(40).Level(sweepv1alpha1.ControlLevelSealed).Obj()
//	r := testobjects.Round("pingfang", "baoguo-1126").
//		Deadline(now.Add(12 * time.Hour)).Teams(3).Drill().Obj()
//
// A wrapper starts with only the namespace and name set, so a test says
// every value it relies on and no default hides in here. New tests should
// build objects with this package rather than by hand; add a setter when a
// test needs a field that has none. A literal stays clearer only for an
// object a test means to be odd (malformed input, a table of raw values).
//
// The package imports only the API and Kubernetes' own packages, so that
// the in-package tests of internal/... can use it without an import cycle.
// Rules that live in those packages (a job's name, what a round copies
// into a job) stay there: callers pass their results in.
package testobjects
