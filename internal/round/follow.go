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

package round

import sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"

// PoolSize is the swabs per tube of job j in round r: a retest's own (one
// swab a tube, in its spec), otherwise the round's. A building's job does
// not copy the round's pool size (nor its deadline, visits or collector):
// what can be read from the round is read from it.
func PoolSize(r *sweepv1alpha1.TestingRound, j *sweepv1alpha1.CollectionJob) int32 {
	if j.Spec.Retest != nil && j.Spec.PoolSize > 0 {
		return j.Spec.PoolSize
	}
	return max(r.Spec.PoolSize, 1)
}
