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

// Package testharness holds what Sweep's tests need beside the objects
// they build: a free loopback port, a scrape of a /metrics endpoint parsed
// into families, a wait for a condition with a timeout, the drill's ground
// truth, and the local kwok cluster of hack/cluster.sh. Unit, envtest,
// end-to-end tests and test/bench use it instead of writing their own;
// the stand-in kubelets are in the sub-package kubelet.
//
// It imports no package of Sweep's but the API types and the collector
// (for the drill), so the tests of any other package but those two may
// use it.
package testharness
