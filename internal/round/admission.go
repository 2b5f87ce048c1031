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
	"container/heap"
	"slices"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// Admitted reports whether the API shows a job admitted: created admitted
// (spec.suspend false, when a team was free at its creation), or with a
// status the collection controller wrote after a visit began. A job the
// round admits from its queue stays spec.suspend true: the admission is
// kept in the manager's memory (expectations.Store) and recorded by the
// job's first status write, not by a patch of its own (docs/rounds.md).
func Admitted(j *sweepv1alpha1.CollectionJob) bool {
	return !j.Spec.Suspend || j.Status.Phase != "" && j.Status.Phase != sweepv1alpha1.JobQueued
}

// HoldsTeam reports whether a job was admitted and has not finished.
func HoldsTeam(j *sweepv1alpha1.CollectionJob) bool {
	return Admitted(j) && !j.Status.Phase.Finished()
}

// Admit returns the queued jobs to admit now, first in the round's order, as
// many as there are free teams. Jobs admitted in memory whose admission the
// API does not show yet must be given as admitted copies (AsAdmitted): they
// hold a team and are not admitted twice, which is what keeps the team
// bound while an admission lives only in the manager's memory.
func Admit(r *sweepv1alpha1.TestingRound, jobs []*sweepv1alpha1.CollectionJob) []*sweepv1alpha1.CollectionJob {
	busy := 0
	var queued []*sweepv1alpha1.CollectionJob
	for _, j := range jobs {
		switch {
		case HoldsTeam(j):
			busy++
		case !Admitted(j) && !j.Status.Phase.Finished():
			queued = append(queued, j)
		}
	}
	free := int(r.Spec.Teams) - busy
	if free <= 0 || len(queued) == 0 {
		return nil
	}
	return firstInOrder(queued, free, func(a, b *sweepv1alpha1.CollectionJob) bool {
		return admitsBefore(r.Spec.Order, &a.Spec, &b.Spec)
	})
}

// firstInOrder returns the k first items by less, in that order. A city
// round has tens of thousands of queued jobs and a reconcile frees a few
// teams, so it keeps the k best in a max-heap (O(n log k)) instead of
// sorting them all.
func firstInOrder[T any](items []T, k int, less func(a, b T) bool) []T {
	if k <= 0 {
		return nil
	}
	if k >= len(items) {
		out := slices.Clone(items)
		slices.SortFunc(out, func(a, b T) int { return compare(less, a, b) })
		return out
	}
	// best.items[0] is the last of the k first so far.
	best := &maxHeap[T]{less: less}
	for _, it := range items {
		switch {
		case len(best.items) < k:
			heap.Push(best, it)
		case less(it, best.items[0]):
			best.items[0] = it
			heap.Fix(best, 0)
		}
	}
	out := best.items
	slices.SortFunc(out, func(a, b T) int { return compare(less, a, b) })
	return out
}

func compare[T any](less func(a, b T) bool, a, b T) int {
	switch {
	case less(a, b):
		return -1
	case less(b, a):
		return 1
	}
	return 0
}

// maxHeap is a heap whose root is the item that comes last by less.
type maxHeap[T any] struct {
	items []T
	less  func(a, b T) bool
}

func (h *maxHeap[T]) Len() int           { return len(h.items) }
func (h *maxHeap[T]) Less(a, b int) bool { return h.less(h.items[b], h.items[a]) }
func (h *maxHeap[T]) Swap(a, b int)      { h.items[a], h.items[b] = h.items[b], h.items[a] }
func (h *maxHeap[T]) Push(x any)         { h.items = append(h.items, x.(T)) }
func (h *maxHeap[T]) Pop() any {
	last := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return last
}
