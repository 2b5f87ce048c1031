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
	"sort"

	"k8s.io/apimachinery/pkg/util/sets"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collection"
)

// Finished reports whether a job is done for good: Completed, Expired or
// Failed. A finished job no longer holds a team.
func Finished(j *sweepv1alpha1.CollectionJob) bool {
	return collection.Finished(j.Status.Phase)
}

// HoldsTeam reports whether a job was admitted and has not finished.
func HoldsTeam(j *sweepv1alpha1.CollectionJob) bool {
	return !j.Spec.Suspend && !Finished(j)
}

// Admit returns the queued jobs to admit now, first in the round's order, as
// many as there are free teams. pending names jobs this controller admitted
// whose admission the cache may not show yet: they hold a team and are not
// admitted twice. Counting them is what keeps the team bound when the cache
// lags behind the API server.
func Admit(r *sweepv1alpha1.TestingRound, jobs []sweepv1alpha1.CollectionJob, pending sets.Set[string]) []*sweepv1alpha1.CollectionJob {
	busy := 0
	var queued []*sweepv1alpha1.CollectionJob
	for i := range jobs {
		j := &jobs[i]
		switch {
		case HoldsTeam(j):
			busy++
		case pending.Has(j.Name):
			if !Finished(j) {
				busy++
			}
		case j.Spec.Suspend && !Finished(j):
			queued = append(queued, j)
		}
	}
	free := int(r.Spec.Teams) - busy
	if free <= 0 || len(queued) == 0 {
		return nil
	}
	sort.Slice(queued, func(a, b int) bool {
		return admitsBefore(r.Spec.Order, &queued[a].Spec, &queued[b].Spec)
	})
	return queued[:min(free, len(queued))]
}
