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

// Package schedule holds the decisions the schedule controller makes about
// a TestingSchedule, as pure functions of the schedule, its rounds and the
// time: which round to create now, which running rounds a Replace deletes,
// which finished rounds fall out of the history, and when to wake up next.
// It follows the CronJob controller's reasoning; the reconciler in
// controllers/ only reads the world, calls Decide, and writes.
package schedule

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
)

// parser reads the five standard fields and the @daily-style descriptors,
// as CronJob does. Seconds are not accepted: rounds run for hours.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse reads a schedule in its time zone. Errors name the field.
func Parse(spec, timeZone string) (cron.Schedule, *time.Location, error) {
	if timeZone == "" {
		timeZone = "UTC"
	}
	loc, err := time.LoadLocation(timeZone)
	if err != nil {
		return nil, nil, fmt.Errorf("spec.timeZone %q is not a known IANA time zone: %w", timeZone, err)
	}
	sched, err := parser.Parse(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("spec.schedule %q: %w", spec, err)
	}
	// A schedule such as "0 0 30 2 *" (30 February) parses but never fires;
	// say so rather than waiting for ever.
	if sched.Next(time.Now().In(loc)).IsZero() {
		return nil, nil, fmt.Errorf("spec.schedule %q never fires", spec)
	}
	return sched, loc, nil
}

// maxMissed bounds how many scheduled times Decide walks through: a
// minutely schedule whose operator was down for a week must not make one
// reconcile walk ten thousand times.
const maxMissed = 1000

// Round is what Decide needs to know about one of the schedule's rounds.
type Round struct {
	Name string
	// Scheduled is the scheduled time the round was created for.
	Scheduled time.Time
	Phase     sweepv1alpha1.RoundPhase
	// CompletionTime is when the round finished; zero while it runs.
	CompletionTime time.Time
}

// Input is a schedule, its rounds and the time.
type Input struct {
	Schedule *sweepv1alpha1.TestingSchedule
	Cron     cron.Schedule
	Location *time.Location
	Rounds   []Round
	Now      time.Time
}

// Decision is what the controller should do now.
type Decision struct {
	// Create is the scheduled time of the round to create, or zero.
	Create time.Time
	// Missed is the latest scheduled time that passed without a round and
	// can no longer start (startingDeadlineSeconds, or its deadline is
	// already past), or zero.
	Missed time.Time
	// Forbidden is the scheduled time of a round that is due but waits for
	// an earlier round to finish (Forbid), or zero.
	Forbidden time.Time
	// Replace are the running rounds to delete before Create (Replace).
	Replace []string
	// Prune are the finished rounds beyond the history limits, oldest first.
	Prune []string
	// Active are the rounds that have not finished, by scheduled time.
	Active []string
	// LastSuccessful is the last round that Completed, if any.
	LastSuccessful *Round
	// Next is the next scheduled time after now.
	Next time.Time
	// TooManyMissed is set when more than maxMissed scheduled times passed
	// unseen; only the latest is considered.
	TooManyMissed bool
}

// Wake is how long after now the controller should look again: at the next
// scheduled time. A forbidden round is retried when the running round
// finishes, which its watch reports.
func (d Decision) Wake(now time.Time) time.Duration {
	if d.Next.IsZero() {
		return 0
	}
	return max(d.Next.Sub(now), time.Second)
}

// Decide is the CronJob decision for rounds. The latest scheduled time at
// or before now that has no round yet is due, if it is within
// startingDeadlineSeconds and before the deadline its round would have;
// earlier missed times are skipped, as CronJob skips them.
func Decide(in Input) Decision {
	s := in.Schedule
	now := in.Now.In(in.Location)
	var d Decision
	d.Next = in.Cron.Next(now)

	byTime := map[int64]bool{}
	var active, succeeded, failed []Round
	for _, r := range in.Rounds {
		byTime[r.Scheduled.Unix()] = true
		switch r.Phase {
		case sweepv1alpha1.RoundCompleted:
			succeeded = append(succeeded, r)
		case sweepv1alpha1.RoundDeadlineExceeded:
			failed = append(failed, r)
		default:
			active = append(active, r)
		}
	}
	sortRounds(active)
	for _, r := range active {
		d.Active = append(d.Active, r.Name)
	}
	if len(succeeded) > 0 {
		last := succeeded[0]
		for _, r := range succeeded[1:] {
			if r.Scheduled.After(last.Scheduled) {
				last = r
			}
		}
		d.LastSuccessful = &last
	}
	d.Prune = append(prune(succeeded, limit(s.Spec.SuccessfulRoundsHistoryLimit)), prune(failed, limit(s.Spec.FailedRoundsHistoryLimit))...)

	if s.Spec.Suspend {
		return d
	}
	// Walk the scheduled times since the last round (or the schedule's
	// creation) up to now, and keep the latest.
	earliest := s.CreationTimestamp.Time
	if s.Status.LastScheduleTime != nil && s.Status.LastScheduleTime.After(earliest) {
		earliest = s.Status.LastScheduleTime.Time
	}
	var latest time.Time
	n := 0
	// cron returns the zero time for a schedule that never fires.
	for t := in.Cron.Next(earliest.In(in.Location)); !t.IsZero() && !t.After(now); t = in.Cron.Next(t) {
		if n++; n > maxMissed {
			// Jump: the times in between are all missed anyway.
			d.TooManyMissed = true
			latest = lastBefore(in.Cron, now)
			break
		}
		latest = t
	}
	if latest.IsZero() || byTime[latest.Unix()] {
		return d
	}
	late := now.Sub(latest)
	if dl := s.Spec.StartingDeadlineSeconds; dl != nil && late > time.Duration(*dl)*time.Second {
		d.Missed = latest
		return d
	}
	if !latest.Add(s.Spec.RoundTemplate.Spec.Duration.Duration).After(now) {
		// Its round would have ended already: sweeping nothing is no round.
		d.Missed = latest
		return d
	}
	switch s.Spec.ConcurrencyPolicy {
	case sweepv1alpha1.ConcurrencyAllow:
	case sweepv1alpha1.ConcurrencyReplace:
		d.Replace = d.Active
	default: // Forbid, the default
		if len(active) > 0 {
			d.Forbidden = latest
			return d
		}
	}
	d.Create = latest
	return d
}

// lastBefore is the latest scheduled time at or before now, found by
// walking back a day at a time until a scheduled time is found.
func lastBefore(c cron.Schedule, now time.Time) time.Time {
	for back := 24 * time.Hour; back <= 400*24*time.Hour; back *= 2 {
		var last time.Time
		for t := c.Next(now.Add(-back)); !t.IsZero() && !t.After(now); t = c.Next(t) {
			last = t
		}
		if !last.IsZero() {
			return last
		}
	}
	return time.Time{}
}

func limit(p *int32) int {
	if p == nil {
		return 3
	}
	return int(max(*p, 0))
}

func sortRounds(rs []Round) {
	sort.Slice(rs, func(a, b int) bool {
		if !rs[a].Scheduled.Equal(rs[b].Scheduled) {
			return rs[a].Scheduled.Before(rs[b].Scheduled)
		}
		return rs[a].Name < rs[b].Name
	})
}

// prune returns the rounds beyond the newest keep, oldest first.
func prune(rs []Round, keep int) []string {
	sortRounds(rs)
	var out []string
	for i := 0; i < len(rs)-keep; i++ {
		out = append(out, rs[i].Name)
	}
	return out
}

// RoundName is the name of the round scheduled at t:
// "<schedule>-<yyyymmddhhmm>" with t read in the schedule's time zone, so
// people see the local date and time, and two managers (or a restart)
// always pick the same name. A name too long for the API ends with a hash.
func RoundName(schedule string, t time.Time, loc *time.Location) string {
	name := schedule + "-" + t.In(loc).Format("200601021504")
	// Round names become prefixes of job and label names, which round.JobName
	// and round.LabelValue shorten; 253 is the API's own limit.
	const maxName = 253
	if len(name) <= maxName {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return strings.TrimRight(name[:maxName-13], "-.") + "-" + hex.EncodeToString(sum[:])[:12]
}

// NewRound is the round of schedule s for scheduled time t: the template's
// spec with start t and deadline t + duration, the template's labels and
// annotations, the schedule label and scheduled-time annotation, owned by
// the schedule.
func NewRound(s *sweepv1alpha1.TestingSchedule, t time.Time, loc *time.Location) *sweepv1alpha1.TestingRound {
	tpl := s.Spec.RoundTemplate
	labels := map[string]string{}
	for k, v := range tpl.Metadata.Labels {
		labels[k] = v
	}
	labels[sweepv1alpha1.LabelSchedule] = round.LabelValue(s.Name)
	ann := map[string]string{}
	for k, v := range tpl.Metadata.Annotations {
		ann[k] = v
	}
	ann[sweepv1alpha1.AnnotationScheduledTime] = t.In(loc).Format(time.RFC3339)
	ts := tpl.Spec
	return &sweepv1alpha1.TestingRound{
		ObjectMeta: metav1.ObjectMeta{
			Name:            RoundName(s.Name, t, loc),
			Namespace:       s.Namespace,
			Labels:          labels,
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(s, sweepv1alpha1.GroupVersion.WithKind("TestingSchedule"))},
		},
		Spec: sweepv1alpha1.TestingRoundSpec{
			BuildingSelector:        ts.BuildingSelector.DeepCopy(),
			Start:                   &metav1.Time{Time: t},
			Deadline:                metav1.Time{Time: t.Add(ts.Duration.Duration)},
			Teams:                   ts.Teams,
			Order:                   ts.Order,
			PoolSize:                ts.PoolSize,
			Visits:                  *ts.Visits.DeepCopy(),
			Supplies:                ts.Supplies,
			Collector:               *ts.Collector.DeepCopy(),
			TTLSecondsAfterFinished: ts.TTLSecondsAfterFinished,
		},
	}
}

// ScheduledTime reads the scheduled time a round was created for from its
// annotation. ok is false for a round without one (not made by a schedule,
// or edited by hand).
func ScheduledTime(r *sweepv1alpha1.TestingRound) (time.Time, bool) {
	v, has := r.Annotations[sweepv1alpha1.AnnotationScheduledTime]
	if !has {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}
