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

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
)

// `sweep missed` over a round and its mop-up rounds: who is still missing
// once every mop-up went back. Kept apart from missed.go, which lists one
// round.

// mopUpRound is a mop-up round and the jobs it controls.
type mopUpRound struct {
	round *sweepv1alpha1.TestingRound
	jobs  []sweepv1alpha1.CollectionJob
}

// readMopUps reads the mop-up rounds of tr: the rounds of its namespace
// whose spec.mopUpOf names it or one of its mop-ups, each after the round
// it mops up, and the jobs each controls (found by the round label, kept
// by controller UID, as for the round itself).
func readMopUps(ctx context.Context, cl client.Client, tr *sweepv1alpha1.TestingRound) ([]mopUpRound, error) {
	var rounds sweepv1alpha1.TestingRoundList
	if err := cl.List(ctx, &rounds, client.InNamespace(tr.Namespace)); err != nil {
		return nil, fmt.Errorf("listing rounds for the mop-ups of %s: %w", tr.Name, err)
	}
	children := map[string][]*sweepv1alpha1.TestingRound{}
	for i := range rounds.Items {
		r := &rounds.Items[i]
		if r.Spec.MopUpOf != "" && r.Spec.MopUpOf != r.Name {
			children[r.Spec.MopUpOf] = append(children[r.Spec.MopUpOf], r)
		}
	}
	var out []mopUpRound
	seen := map[string]bool{tr.Name: true}
	for queue := []string{tr.Name}; len(queue) > 0; queue = queue[1:] {
		kids := children[queue[0]]
		sort.Slice(kids, func(a, b int) bool {
			if !kids[a].CreationTimestamp.Equal(&kids[b].CreationTimestamp) {
				return kids[a].CreationTimestamp.Before(&kids[b].CreationTimestamp)
			}
			return kids[a].Name < kids[b].Name
		})
		for _, m := range kids {
			if seen[m.Name] {
				continue
			}
			seen[m.Name] = true
			var jobs sweepv1alpha1.CollectionJobList
			if err := cl.List(ctx, &jobs, client.InNamespace(tr.Namespace), client.MatchingLabels{sweepv1alpha1.LabelRound: round.LabelValue(m.Name)}); err != nil {
				return nil, fmt.Errorf("listing the jobs of mop-up round %s: %w", m.Name, err)
			}
			out = append(out, mopUpRound{round: m, jobs: round.Controlled(m, jobs.Items)})
			queue = append(queue, m.Name)
		}
	}
	return out, nil
}

// applyMopUps updates the missed list of round tr with its mop-ups, in the
// order readMopUps gives (each after the round it mops up); jobs are the
// round's own, which the list was made from. A building's
// entry follows its chain of jobs: a mop-up job takes it over when it
// mops up the job the entry came from (spec.mopUp.job) and has visited or
// finished; the entry then holds that job's residents still not sampled
// and, once it reported, its missed households, so a household the round
// missed and a mop-up sampled is no longer listed. LastMissedIn names the
// round whose job the entry holds. A building nobody is missing in any
// more leaves the list. The mop-ups' retests join the round's.
func applyMopUps(l *MissedList, tr *sweepv1alpha1.TestingRound, jobs []sweepv1alpha1.CollectionJob, mopUps []mopUpRound, address map[string]string, community, building string) {
	if len(mopUps) == 0 {
		return
	}
	entries := map[string]*MissedBuilding{}
	for i := range l.Buildings {
		l.Buildings[i].LastMissedIn = tr.Name
		entries[l.Buildings[i].Building] = &l.Buildings[i]
	}
	for i := range l.Retests {
		l.Retests[i].LastMissedIn = tr.Name
	}
	// The job each building's entry came from, where a mop-up of it goes
	// on.
	from := map[string]string{}
	for i := range jobs {
		if j := &jobs[i]; j.Spec.Round == tr.Name && !round.IsRetest(j) {
			from[j.Spec.Building] = j.Name
		}
	}
	removed := map[string]bool{}
	for _, m := range mopUps {
		l.MopUps = append(l.MopUps, m.round.Name)
		for k := range m.jobs {
			j := &m.jobs[k]
			if j.Spec.Round != m.round.Name || (building != "" && j.Spec.Building != building) || (community != "" && round.Community(j) != community) {
				continue
			}
			if round.IsRetest(j) {
				if mb, ok := missedEntry(j, m.round.Status.Phase, nil); ok && (j.Status.Visits > 0 || j.Status.Phase.Finished()) {
					mb.Address, mb.LastMissedIn = address[j.Spec.Building], m.round.Name
					l.Retests = append(l.Retests, MissedRetest{Pool: j.Spec.Retest.Pool, Tube: j.Spec.Retest.Tube, MissedBuilding: mb})
				}
				continue
			}
			b := j.Spec.Building
			e := entries[b]
			if j.Spec.MopUp == nil || e == nil || from[b] != j.Spec.MopUp.Job {
				continue
			}
			from[b] = j.Name
			if j.Status.Visits == 0 && !j.Status.Phase.Finished() {
				continue // not knocked yet: the earlier round's word stands
			}
			mb, missed := missedEntry(j, m.round.Status.Phase, e)
			if !missed {
				removed[b] = true
				continue
			}
			mb.Address, mb.LastMissedIn = address[b], m.round.Name
			*e = mb
		}
	}
	kept := l.Buildings[:0]
	for _, b := range l.Buildings {
		if !removed[b.Building] {
			kept = append(kept, b)
		}
	}
	l.Buildings = kept
	// The counts by reason are the residents still missing.
	l.MissedByReason = sweepv1alpha1.MissedReasonTotals{}
	for _, b := range l.Buildings {
		l.MissedByReason.AddCounts(b.MissedByReason)
	}
	sort.SliceStable(l.Retests, func(a, b int) bool { return l.Retests[a].Pool < l.Retests[b].Pool })
}

// missedEntry is the entry of a job of a mop-up round in phase phase: its
// residents not sampled and, once it reported, its missed households
// (before that, the earlier entry's, prev, which may be nil). ok is false
// when nobody is missing.
func missedEntry(j *sweepv1alpha1.CollectionJob, phase sweepv1alpha1.RoundPhase, prev *MissedBuilding) (MissedBuilding, bool) {
	mb, ok := missedBuilding(j, round.JobResidents(j, phase))
	if !ok {
		return mb, false
	}
	if j.Status.Report == nil && prev != nil {
		// Never visited (its deadline came first): the households it
		// was sent to are still the ones to knock.
		mb.MissedHouseholds, mb.HouseholdsTruncated = slices.Clone(prev.MissedHouseholds), prev.HouseholdsTruncated
		mb.MissedHouseholdReasons = slices.Clone(prev.MissedHouseholdReasons)
	}
	return mb, true
}

// noteMopUps says, like the round's own note, which mop-ups are not over:
// their residents are not sampled yet, not finally missed.
func noteMopUps(w io.Writer, mopUps []mopUpRound) {
	for _, m := range mopUps {
		if !m.round.Status.Phase.Finished() {
			fmt.Fprintf(w, "note: mop-up round %s/%s is %s: its residents are not sampled yet, not finally missed\n",
				m.round.Namespace, m.round.Name, orDash(string(m.round.Status.Phase)))
		}
	}
}

// lastMissedIn is the round that last missed an entry's residents: the
// list's round when no mop-up took it over.
func lastMissedIn(l MissedList, b MissedBuilding) string {
	if b.LastMissedIn != "" {
		return b.LastMissedIn
	}
	return l.Round
}

// mopUpColumn is the table's extra column header, or "" without mop-ups.
func mopUpColumn(l MissedList) string {
	if len(l.MopUps) == 0 {
		return ""
	}
	return "\tLAST MISSED IN"
}

// mopUpCell is a row's cell in that column, or "" without mop-ups.
func mopUpCell(l MissedList, b MissedBuilding) string {
	if len(l.MopUps) == 0 {
		return ""
	}
	return "\t" + lastMissedIn(l, b)
}

// missedWhere says where the residents were not sampled: the round, and
// its mop-ups when it has any.
func missedWhere(l MissedList) string {
	if len(l.MopUps) == 0 {
		return fmt.Sprintf("in round %s/%s (%s)", l.Namespace, l.Round, orDash(string(l.Phase)))
	}
	return fmt.Sprintf("in round %s/%s (%s) and still missing after its mop-ups %s", l.Namespace, l.Round, orDash(string(l.Phase)), strings.Join(l.MopUps, ", "))
}

// nobodyWhere is where nobody is missing: the round, or the round after
// its mop-ups.
func nobodyWhere(l MissedList) string {
	if len(l.MopUps) == 0 {
		return fmt.Sprintf("in round %s/%s", l.Namespace, l.Round)
	}
	return fmt.Sprintf("in round %s/%s after its mop-ups %s", l.Namespace, l.Round, strings.Join(l.MopUps, ", "))
}
