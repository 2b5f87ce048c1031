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

	corev1 "k8s.io/api/core/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/event"
)

// Events are the transitions between two statuses of a round worth telling
// people about: start, suspend and resume, each tenth of the buildings done,
// the deadline, completion, and input the schema could not catch. Nothing is
// said about single buildings, so a city-wide round makes no event storm.
func Events(r *sweepv1alpha1.TestingRound, old, cur *sweepv1alpha1.TestingRoundStatus) []event.Event {
	var out []event.Event
	add := func(typ, reason, format string, args ...any) {
		out = append(out, event.Event{Type: typ, Reason: reason, Message: fmt.Sprintf(format, args...)})
	}
	b, res := cur.Buildings, cur.Residents
	if old.StartTime == nil && cur.StartTime != nil {
		add(corev1.EventTypeNormal, "Started", "Round started: %d buildings, %d residents expected, %d teams.",
			b.Total, res.Expected, r.Spec.Teams)
	}
	if old.Phase != sweepv1alpha1.RoundSuspended && cur.Phase == sweepv1alpha1.RoundSuspended {
		add(corev1.EventTypeNormal, "Suspended", "Round suspended: no new building is admitted.")
	}
	if old.Phase == sweepv1alpha1.RoundSuspended && cur.Phase == sweepv1alpha1.RoundRunning {
		add(corev1.EventTypeNormal, "Resumed", "Round resumed.")
	}
	if d0, d1 := decile(old.Buildings), decile(cur.Buildings); d1 > d0 && d1 < 10 {
		add(corev1.EventTypeNormal, "Progress", "%d%% of buildings done (%s): %d residents sampled, %d missed.",
			d1*10, cur.BuildingProgress, res.Sampled, res.Missed)
	}
	if old.Phase != cur.Phase {
		switch cur.Phase {
		case sweepv1alpha1.RoundCompleted:
			add(corev1.EventTypeNormal, "Completed", "All %d buildings finished: %d of %d residents sampled, %d missed.",
				b.Total, res.Sampled, res.Expected, res.Missed)
		case sweepv1alpha1.RoundDeadlineExceeded:
			if DeadlinePassedAtCreation(r) {
				add(corev1.EventTypeWarning, sweepv1alpha1.ReasonDeadlineAlreadyPassed,
					"spec.deadline had already passed when the round was created; nothing was swept. Create a new round with a deadline in the future.")
			} else {
				add(corev1.EventTypeWarning, "DeadlineExceeded", "Deadline passed with %d of %d buildings unfinished; residents not sampled there count as missed.",
					b.Total-b.Completed-b.Expired-b.Failed, b.Total)
			}
		}
	}
	// A mop-up round waiting for the round it mops up says why, once per
	// reason; a wait that cannot end by itself is a warning.
	if why := progressingReason(cur); mopUpWaits[why] != "" && why != progressingReason(old) {
		add(mopUpWaits[why], why, "%s", message(cur, sweepv1alpha1.ConditionProgressing))
	}
	if old.Phase != cur.Phase && progressingReason(cur) == sweepv1alpha1.ReasonNothingToMopUp {
		add(corev1.EventTypeNormal, sweepv1alpha1.ReasonNothingToMopUp, "%s", message(cur, sweepv1alpha1.ConditionProgressing))
	}
	if progressingReason(cur) == sweepv1alpha1.ReasonNoBuildingsSelected && progressingReason(old) != sweepv1alpha1.ReasonNoBuildingsSelected {
		add(corev1.EventTypeWarning, sweepv1alpha1.ReasonNoBuildingsSelected, "spec.buildingSelector selects no Building in namespace %s.", r.Namespace)
	}
	return out
}

// decile is how many tenths of the buildings are finished.
func decile(b sweepv1alpha1.BuildingCounts) int32 {
	if b.Total == 0 {
		return 0
	}
	return (b.Completed + b.Expired + b.Failed) * 10 / b.Total
}

// mopUpWaits are the reasons a mop-up round waits, with their event type.
var mopUpWaits = map[string]string{
	sweepv1alpha1.ReasonEarlierRoundNotFinished:   corev1.EventTypeNormal,
	sweepv1alpha1.ReasonEarlierBuildingsFinishing: corev1.EventTypeNormal,
	sweepv1alpha1.ReasonEarlierRoundNotFound:      corev1.EventTypeWarning,
	sweepv1alpha1.ReasonMopUpOfItself:             corev1.EventTypeWarning,
}

func message(st *sweepv1alpha1.TestingRoundStatus, condType string) string {
	for _, c := range st.Conditions {
		if c.Type == condType {
			return c.Message
		}
	}
	return ""
}

// progressingReason is the reason of the round's Progressing condition.
func progressingReason(st *sweepv1alpha1.TestingRoundStatus) string {
	for _, c := range st.Conditions {
		if c.Type == sweepv1alpha1.ConditionProgressing {
			return c.Reason
		}
	}
	return ""
}
