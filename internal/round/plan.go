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

// Package round holds the decisions the round controller makes about a
// TestingRound, as pure functions of the round, its buildings, its jobs and
// the time: which CollectionJobs should exist, which to admit next, and what
// the round's status is. The reconciler in controllers/ only reads the world,
// calls these, and writes.
package round

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// NewJob is the CollectionJob of building b in round r, as the round creates
// it: suspended (queued), owned by the round, with the building's counts
// copied so that later edits of the roster do not change the round. What
// can be read from the round (deadline, visits, collector, pool size) is
// not copied: every reader takes it from the round as it is now.
func NewJob(r *sweepv1alpha1.TestingRound, b *sweepv1alpha1.Building) *sweepv1alpha1.CollectionJob {
	labels := map[string]string{
		sweepv1alpha1.LabelRound:    LabelValue(r.Name),
		sweepv1alpha1.LabelBuilding: LabelValue(b.Name),
	}
	for _, k := range []string{sweepv1alpha1.LabelStreet, sweepv1alpha1.LabelCommunity} {
		if v, ok := b.Labels[k]; ok {
			labels[k] = v
		}
	}
	expected := b.Spec.Residents - b.Spec.Exempt
	homeVisit := min(b.Spec.HomeVisit, expected)
	return &sweepv1alpha1.CollectionJob{
		ObjectMeta: metav1.ObjectMeta{
			Name:            JobName(r.Name, r.UID, b.Name),
			Namespace:       r.Namespace,
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(r, sweepv1alpha1.GroupVersion.WithKind("TestingRound"))},
		},
		Spec: sweepv1alpha1.CollectionJobSpec{
			Round:        r.Name,
			Building:     b.Name,
			Expected:     expected,
			Exempt:       b.Spec.Exempt,
			Households:   b.Spec.Households,
			Units:        b.Spec.Units,
			Floors:       b.Spec.Floors,
			HomeVisit:    homeVisit,
			ControlLevel: b.Spec.ControlLevel,
			Supplies:     ptr.To(Forecast(expected, r.Spec.PoolSize, r.Spec.Supplies)),
			Suspend:      true,
		},
	}
}

// MissingJobs returns the jobs to create next: one for each selected
// building that has none yet in this round, the first limit of them in
// admission order so that the buildings swept first exist first, and how
// many are missing in all. A city round creates its jobs limit at a time, so
// that one reconcile never holds tens of thousands of new objects at once.
// A building that stops matching keeps its job: jobs are never removed here.
func MissingJobs(r *sweepv1alpha1.TestingRound, selected []*sweepv1alpha1.Building, jobs []*sweepv1alpha1.CollectionJob, limit int) ([]*sweepv1alpha1.CollectionJob, int) {
	have := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		have[j.Spec.Building] = true
	}
	var without []*sweepv1alpha1.Building
	for _, b := range selected {
		if have[b.Name] || b.DeletionTimestamp != nil {
			continue
		}
		without = append(without, b)
	}
	first := firstInOrder(without, limit, func(a, b *sweepv1alpha1.Building) bool {
		return admitsBefore(r.Spec.Order, &sweepv1alpha1.CollectionJobSpec{Building: a.Name, ControlLevel: a.Spec.ControlLevel},
			&sweepv1alpha1.CollectionJobSpec{Building: b.Name, ControlLevel: b.Spec.ControlLevel})
	})
	missing := make([]*sweepv1alpha1.CollectionJob, len(first))
	for i, b := range first {
		missing[i] = NewJob(r, b)
	}
	return missing, len(without)
}

// levelRank orders control levels for SealedFirst: sealed buildings are
// swept first because their residents cannot come down to a sampling point.
func levelRank(l sweepv1alpha1.ControlLevel) int {
	switch l {
	case sweepv1alpha1.ControlLevelSealed:
		return 0
	case sweepv1alpha1.ControlLevelControlled:
		return 1
	default:
		return 2
	}
}

// admitsBefore is the round's admission order: positive pools' retests
// first, whatever the order (a positive pool is chased the same night), by
// their pooled tube; then by control level for SealedFirst, then by
// building name.
func admitsBefore(order sweepv1alpha1.RoundOrder, a, b *sweepv1alpha1.CollectionJobSpec) bool {
	if (a.Retest != nil) != (b.Retest != nil) {
		return a.Retest != nil
	}
	if a.Retest != nil && a.Retest.Tube != b.Retest.Tube {
		return a.Retest.Tube < b.Retest.Tube
	}
	if order != sweepv1alpha1.OrderName {
		if ra, rb := levelRank(a.ControlLevel), levelRank(b.ControlLevel); ra != rb {
			return ra < rb
		}
	}
	return a.Building < b.Building
}

// Selector is the round's building selector. An empty or absent selector
// selects every Building in the round's namespace (metav1's own conversion
// would select nothing for an absent one).
func Selector(r *sweepv1alpha1.TestingRound) (labels.Selector, error) {
	if r.Spec.BuildingSelector == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(r.Spec.BuildingSelector)
}
