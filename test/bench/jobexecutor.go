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

import "errors"

// jobWrites is what one building costs in API writes with the job executor.
type jobWrites struct {
	Buildings   int                // buildings in the measured round
	PerBuilding float64            // Sweep's writes plus the visit Job's, per building
	ByResource  map[string]float64 // per building, by resource and subresource
}

// jobExecutorWrites measures the job executor's API writes per one-visit
// building on a local kwok cluster. Not written yet.
func jobExecutorWrites(buildings int, k8sBin, sweepBin string) (jobWrites, error) {
	return jobWrites{}, errors.New("not measured yet")
}
