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
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

const earlierJobsFinishingMessage = "Round %s is %s; %d of its buildings are not written finished yet, so their missed households are not final. The mop-up takes its buildings once they are."

// IsMopUp reports whether a job is a building's share of a mop-up round.
func IsMopUp(j *sweepv1alpha1.CollectionJob) bool {
	return j.Spec.MopUp != nil
}

// Wait says, for people, why a round cannot know its buildings yet.
type Wait struct {
	Reason, Message string
}

// MopUpWait says why mop-up round r cannot take its buildings from the
// round it mops up yet, or nil when it can (or has them already). earlier
// is that round, nil when it does not exist; earlierJobs its jobs (those it
// controls, round.Controls); jobs r's own. The buildings are taken only
// once the earlier round finished and every one of its buildings is
// written finished: before that its missed households are not final (a
// round past its deadline counts its unfinished buildings missed at once,
// their jobs write Expired a moment later). A round deleted after the
// mop-up took its buildings leaves the mop-up as it is.
func MopUpWait(r, earlier *sweepv1alpha1.TestingRound, earlierJobs, jobs []*sweepv1alpha1.CollectionJob) *Wait {
	if r.Spec.MopUpOf == "" {
		return nil
	}
	if r.Spec.MopUpOf == r.Name {
		return &Wait{sweepv1alpha1.ReasonMopUpOfItself, "spec.mopUpOf names this round itself; a mop-up goes back for an earlier round's missed residents. Create a new round with mopUpOf naming the round to mop up."}
	}
	if earlier == nil {
		if len(jobs) > 0 {
			return nil
		}
		return &Wait{sweepv1alpha1.ReasonEarlierRoundNotFound, fmt.Sprintf("Round %s (spec.mopUpOf) does not exist in namespace %s; the mop-up waits for it.", r.Spec.MopUpOf, r.Namespace)}
	}
	if !earlier.Status.Phase.Finished() {
		phase := string(earlier.Status.Phase)
		if phase == "" {
			phase = "not started"
		}
		return &Wait{sweepv1alpha1.ReasonEarlierRoundNotFinished, fmt.Sprintf("Round %s is %s: its missed residents are known once it finishes. The mop-up takes its buildings then.", earlier.Name, phase)}
	}
	if n := unfinished(SweepJobs(earlierJobs)); n > 0 {
		return &Wait{sweepv1alpha1.ReasonEarlierBuildingsFinishing, fmt.Sprintf(earlierJobsFinishingMessage, earlier.Name, earlier.Status.Phase, n)}
	}
	return nil
}

func unfinished(jobs []*sweepv1alpha1.CollectionJob) int {
	n := 0
	for _, j := range jobs {
		if !j.Status.Phase.Finished() {
			n++
		}
	}
	return n
}

// MissedIn is the residents a finished job of an earlier round missed, as
// that round counts them (JobResidents).
func MissedIn(j *sweepv1alpha1.CollectionJob) int32 {
	return int32(JobResidents(j, "").NotSampled())
}

// MopUpJobs is MissingJobs for mop-up round r: one job for each building
// of the earlier round with residents missed that has none yet in r, the
// first limit of them in admission order, and how many are missing in all.
// Retests of the earlier round are left out: a pool's residents not
// retested are the pool's business (its status and `sweep missed`), not a
// building's.
func MopUpJobs(r, earlier *sweepv1alpha1.TestingRound, earlierJobs, jobs []*sweepv1alpha1.CollectionJob, limit int) ([]*sweepv1alpha1.CollectionJob, int) {
	if earlier == nil {
		return nil, 0
	}
	have := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		have[j.Spec.Building] = true
	}
	var without []*sweepv1alpha1.CollectionJob
	for _, e := range SweepJobs(earlierJobs) {
		if have[e.Spec.Building] || MissedIn(e) == 0 {
			continue
		}
		without = append(without, e)
	}
	first := firstInOrder(without, limit, func(a, b *sweepv1alpha1.CollectionJob) bool {
		return admitsBefore(r.Spec.Order, &a.Spec, &b.Spec)
	})
	missing := make([]*sweepv1alpha1.CollectionJob, len(first))
	for i, e := range first {
		missing[i] = NewMopUpJob(r, earlier, e)
	}
	return missing, len(without)
}

// NewMopUpJob is the CollectionJob of mop-up round r for the building of
// e, a finished job of the earlier round: expected is e's missed
// residents, the knock list e's missed households, and the building's
// other counts e's, so a mop-up of a building never visited (no list)
// knocks its every door. Nobody is expected to be sampled at home (the
// residents who are were found) and nobody is exempt (the earlier round
// already left them out).
func NewMopUpJob(r, earlier *sweepv1alpha1.TestingRound, e *sweepv1alpha1.CollectionJob) *sweepv1alpha1.CollectionJob {
	labels := map[string]string{
		sweepv1alpha1.LabelRound:    LabelValue(r.Name),
		sweepv1alpha1.LabelBuilding: LabelValue(e.Spec.Building),
	}
	for _, k := range []string{sweepv1alpha1.LabelStreet, sweepv1alpha1.LabelCommunity} {
		if v, ok := e.Labels[k]; ok {
			labels[k] = v
		}
	}
	expected := MissedIn(e)
	return &sweepv1alpha1.CollectionJob{
		ObjectMeta: metav1.ObjectMeta{
			Name:            JobName(r.Name, r.UID, e.Spec.Building),
			Namespace:       r.Namespace,
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(r, sweepv1alpha1.GroupVersion.WithKind("TestingRound"))},
		},
		Spec: sweepv1alpha1.CollectionJobSpec{
			Round:        r.Name,
			Building:     e.Spec.Building,
			Expected:     expected,
			Households:   e.Spec.Households,
			Units:        e.Spec.Units,
			Floors:       e.Spec.Floors,
			ControlLevel: e.Spec.ControlLevel,
			Supplies:     ptr.To(Forecast(expected, r.Spec.PoolSize, r.Spec.Supplies)),
			Suspend:      true,
			MopUp: &sweepv1alpha1.MopUpJobSpec{
				Round:      earlier.Name,
				Job:        e.Name,
				Households: slices.Clone(e.Status.MissedHouseholds),
			},
		},
	}
}
