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

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// firstInOrder must pick exactly what sorting every job and taking the
// first k would, for every k, whatever the input order.
func TestFirstInOrderEqualsSortingAll(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	levels := []sweepv1alpha1.ControlLevel{"", sweepv1alpha1.ControlLevelSealed, sweepv1alpha1.ControlLevelControlled}
	jobs := make([]*sweepv1alpha1.CollectionJob, 300)
	for i := range jobs {
		jobs[i] = &sweepv1alpha1.CollectionJob{Spec: sweepv1alpha1.CollectionJobSpec{
			Building: fmt.Sprintf("b-%03d", i), ControlLevel: levels[rng.IntN(len(levels))]}}
	}
	rng.Shuffle(len(jobs), func(a, b int) { jobs[a], jobs[b] = jobs[b], jobs[a] })
	for _, order := range []sweepv1alpha1.RoundOrder{sweepv1alpha1.OrderName, sweepv1alpha1.OrderSealedFirst} {
		less := func(a, b *sweepv1alpha1.CollectionJob) bool { return admitsBefore(order, &a.Spec, &b.Spec) }
		all := slices.Clone(jobs)
		slices.SortFunc(all, func(a, b *sweepv1alpha1.CollectionJob) int { return compare(less, a, b) })
		for _, k := range []int{0, 1, 2, 7, 150, 299, 300, 301} {
			got := firstInOrder(slices.Clone(jobs), k, less)
			want := all[:min(k, len(all))]
			if !slices.Equal(got, want) {
				t.Errorf("order %q, k=%d: got %d jobs, not the first %d in order", order, k, len(got), len(want))
			}
		}
	}
}
