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
	"fmt"
	"slices"
	"sort"
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
	// MopUpOf is the round this one mops up (spec.mopUpOf), "" for a
	// round of the cron schedule.
	MopUpOf string
	// Missed is the residents the round missed (status.residents.missed).
	Missed int64
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
	// MopUp is the mop-up round to create now, or nil.
	MopUp *MopUp
	// MopUpTooLate is a mop-up that fell due when its window had already
	// passed (the operator was down): it is not created. Nil otherwise.
	MopUpTooLate *MopUp
	// NextMopUp is when the next mop-up falls due, or zero.
	NextMopUp time.Time
}

// MopUp is a mop-up round of the schedule (spec.mopUp).
type MopUp struct {
	// Name is the mop-up round's name (MopUpRoundName).
	Name string
	// Of is the round it mops up: Main, or Main's mop-up N-1.
	Of string
	// Main is the schedule's round the mop-ups follow up.
	Main string
	// N is its number after Main, from 1.
	N int
	// Start is mopUp.after past the end of Of; Deadline mopUp.duration
	// after Start.
	Start, Deadline time.Time
}

// Wake is how long after now the controller should look again: at the next
// scheduled time. A forbidden round is retried when the running round
// finishes, which its watch reports.
func (d Decision) Wake(now time.Time) time.Duration {
	next := d.Next
	if !d.NextMopUp.IsZero() && (next.IsZero() || d.NextMopUp.Before(next)) {
		next = d.NextMopUp
	}
	if next.IsZero() {
		return 0
	}
	return max(next.Sub(now), time.Second)
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
	var active, succeeded, failed, mains, mopUps []Round
	for _, r := range in.Rounds {
		if r.MopUpOf != "" {
			// Mop-ups follow their round: not scheduled times, not
			// against the concurrency policy nor the history limits.
			mopUps = append(mopUps, r)
			continue
		}
		mains = append(mains, r)
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
	var activeMains []string
	for _, r := range active {
		activeMains = append(activeMains, r.Name)
	}
	d.Active = activeMains
	for _, r := range mopUps {
		if !r.Phase.Finished() {
			d.Active = append(d.Active, r.Name)
		}
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
	d.Prune = append(d.Prune, pruneMopUps(mains, mopUps, d.Prune)...)

	if s.Spec.Suspend {
		return d
	}
	decideMopUp(&d, in, mains, mopUps)
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
		d.Replace = activeMains
	default: // Forbid, the default
		if len(active) > 0 {
			d.Forbidden = latest
			return d
		}
	}
	d.Create = latest
	return d
}

// decideMopUp decides the schedule's next mop-up (spec.mopUp): only the
// latest round of the cron schedule is followed up, since a later round
// sweeps everyone again. Its mop-ups form a chain, each mopping up the
// one before; the next falls due mopUp.after past the end of the last of
// the chain, if that one finished with residents missed and the chain is
// shorter than mopUp.rounds. A mop-up whose window has passed when it
// falls due (the operator was down) is too late and not created, and the
// chain ends there.
func decideMopUp(d *Decision, in Input, mains, mopUps []Round) {
	policy := in.Schedule.Spec.MopUp
	if policy == nil || len(mains) == 0 {
		return
	}
	sortRounds(mains)
	main := mains[len(mains)-1]
	last, n := main, 0
	for {
		i := slices.IndexFunc(mopUps, func(r Round) bool { return r.MopUpOf == last.Name })
		if i < 0 {
			break
		}
		last, n = mopUps[i], n+1
	}
	if n >= policy.RoundsOrDefault() || !last.Phase.Finished() || last.Missed <= 0 || last.CompletionTime.IsZero() {
		return
	}
	start := last.CompletionTime.Add(policy.After.Duration)
	mu := &MopUp{Name: MopUpRoundName(main.Name, n+1), Of: last.Name, Main: main.Name, N: n + 1,
		Start: start, Deadline: start.Add(policy.DurationOrDefault())}
	switch {
	case in.Now.Before(start):
		d.NextMopUp = start
	case !mu.Deadline.After(in.Now):
		d.MopUpTooLate = mu
	default:
		d.MopUp = mu
	}
}

// pruneMopUps returns the mop-ups to delete with the rounds pruned: those
// whose chain leads back to a pruned round, or to no round of the
// schedule any more (pruned earlier).
func pruneMopUps(mains, mopUps []Round, pruned []string) []string {
	parent := map[string]string{}
	for _, r := range mopUps {
		parent[r.Name] = r.MopUpOf
	}
	kept := map[string]bool{}
	for _, r := range mains {
		kept[r.Name] = !slices.Contains(pruned, r.Name)
	}
	var out []string
	for _, r := range mopUps {
		root := r.Name
		for i := 0; i <= len(mopUps) && parent[root] != ""; i++ {
			root = parent[root]
		}
		if !kept[root] {
			out = append(out, r.Name)
		}
	}
	sort.Strings(out)
	return out
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
	// Round names become prefixes of job and label names, which round.JobName
	// and round.LabelValue shorten; 253 is the API's own limit.
	return round.Shorten(schedule+"-"+t.In(loc).Format("200601021504"), maxRoundName)
}

// maxRoundName is the API's limit on an object's name.
const maxRoundName = 253

// MopUpRoundName is the name of the n-th mop-up round of a schedule's
// round: "<round>-mopup-<n>". It cannot be a scheduled round's name, which
// ends in twelve digits, and a restart or a second manager picks the same
// one. A name too long for the API ends with a hash.
func MopUpRoundName(main string, n int) string {
	return round.Shorten(fmt.Sprintf("%s-mopup-%d", main, n), maxRoundName)
}

// NewMopUpRound is mop-up round mu of schedule s: the template's spec
// without a building selector (a mop-up's buildings are its earlier
// round's), mopUpOf mu.Of, the window mu.Start to mu.Deadline, the
// template's labels and annotations and the schedule label, owned by the
// schedule so that it is deleted with it.
func NewMopUpRound(s *sweepv1alpha1.TestingSchedule, mu *MopUp) *sweepv1alpha1.TestingRound {
	tpl := s.Spec.RoundTemplate
	labels := map[string]string{}
	for k, v := range tpl.Metadata.Labels {
		labels[k] = v
	}
	labels[sweepv1alpha1.LabelSchedule] = round.LabelValue(s.Name)
	var ann map[string]string
	if len(tpl.Metadata.Annotations) > 0 {
		ann = map[string]string{}
		for k, v := range tpl.Metadata.Annotations {
			ann[k] = v
		}
	}
	ts := tpl.Spec
	return &sweepv1alpha1.TestingRound{
		ObjectMeta: metav1.ObjectMeta{
			Name:            mu.Name,
			Namespace:       s.Namespace,
			Labels:          labels,
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(s, sweepv1alpha1.GroupVersion.WithKind("TestingSchedule"))},
		},
		Spec: sweepv1alpha1.TestingRoundSpec{
			MopUpOf:                 mu.Of,
			Start:                   &metav1.Time{Time: mu.Start},
			Deadline:                metav1.Time{Time: mu.Deadline},
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
