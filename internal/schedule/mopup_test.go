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

package schedule

import (
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// TestDecideMopUp moves a fake clock through a daily 06:00-18:00 round in
// Asia/Shanghai with mopUp after 2h for 4h: the mop-up falls due at 20:00
// when the round ended at 18:00, and only then.
func TestDecideMopUp(t *testing.T) {
	const main = "baoguo-daily-202611260600"
	mopUp1, mopUp2 := main+"-mopup-1", main+"-mopup-2"
	ended := func(name, of string, end time.Time, phase sweepv1alpha1.RoundPhase, missed int64) Round {
		return Round{Name: name, Scheduled: cst(26, 6, 0), Phase: phase, CompletionTime: end, MopUpOf: of, Missed: missed}
	}
	running := func(name, of string) Round {
		return Round{Name: name, Scheduled: cst(26, 6, 0), Phase: sweepv1alpha1.RoundRunning, MopUpOf: of}
	}
	exceeded := func(name, of string, end time.Time, missed int64) Round {
		return ended(name, of, end, sweepv1alpha1.RoundDeadlineExceeded, missed)
	}
	policy := func(rounds int32) func(*sweepv1alpha1.TestingSchedule) {
		return func(s *sweepv1alpha1.TestingSchedule) {
			s.Spec.MopUp = &sweepv1alpha1.MopUpPolicy{After: sweepv1alpha1.Duration{Duration: 2 * time.Hour},
				Duration: sweepv1alpha1.NewDuration(4 * time.Hour), Rounds: rounds}
			s.Status.LastScheduleTime = nil
		}
	}
	first := &MopUp{Name: mopUp1, Of: main, Main: main, N: 1, Start: cst(26, 20, 0), Deadline: cst(27, 0, 0)}
	next := cst(27, 6, 0)
	for _, tc := range []struct {
		name   string
		mod    func(*sweepv1alpha1.TestingSchedule)
		rounds []Round
		now    time.Time
		want   Decision
	}{{
		name: "no mop-up policy: nothing follows the round",
		mod: func(s *sweepv1alpha1.TestingSchedule) {
			s.Spec.MopUp = nil
		},
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37)},
		now:    cst(26, 21, 0),
		want:   Decision{Next: next},
	}, {
		name:   "while the round runs, no mop-up is due",
		mod:    policy(1),
		rounds: []Round{running(main, "")},
		now:    cst(26, 17, 0),
		want:   Decision{Active: []string{main}, Next: next},
	}, {
		name:   "the round ended at 18:00 with residents missed: wake at 20:00",
		mod:    policy(1),
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37)},
		now:    cst(26, 18, 0).Add(time.Second),
		want:   Decision{NextMopUp: cst(26, 20, 0), Next: next},
	}, {
		name:   "a second before 20:00, still not",
		mod:    policy(1),
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37)},
		now:    cst(26, 20, 0).Add(-time.Second),
		want:   Decision{NextMopUp: cst(26, 20, 0), Next: next},
	}, {
		name:   "at 20:00 the mop-up is created, from 20:00 to 24:00",
		mod:    policy(1),
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37)},
		now:    cst(26, 20, 0),
		want:   Decision{MopUp: first, Next: next},
	}, {
		name:   "a round Completed with residents missed (visits ran out) is mopped up too",
		mod:    policy(1),
		rounds: []Round{ended(main, "", cst(26, 15, 30), sweepv1alpha1.RoundCompleted, 4)},
		now:    cst(26, 17, 30),
		want: Decision{MopUp: &MopUp{Name: mopUp1, Of: main, Main: main, N: 1, Start: cst(26, 17, 30), Deadline: cst(26, 21, 30)}, Next: next,
			LastSuccessful: &Round{Name: main, Scheduled: cst(26, 6, 0), Phase: sweepv1alpha1.RoundCompleted, CompletionTime: cst(26, 15, 30), Missed: 4}},
	}, {
		name:   "nobody missed: no mop-up",
		mod:    policy(1),
		rounds: []Round{ended(main, "", cst(26, 15, 0), sweepv1alpha1.RoundCompleted, 0)},
		now:    cst(26, 21, 0),
		want: Decision{Next: next,
			LastSuccessful: &Round{Name: main, Scheduled: cst(26, 6, 0), Phase: sweepv1alpha1.RoundCompleted, CompletionTime: cst(26, 15, 0)}},
	}, {
		name:   "the mop-up exists: not created again, and it is active",
		mod:    policy(1),
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37), running(mopUp1, main)},
		now:    cst(26, 21, 0),
		want:   Decision{Active: []string{mopUp1}, Next: next},
	}, {
		name:   "one mop-up allowed: none after it, however many it missed",
		mod:    policy(1),
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37), exceeded(mopUp1, main, cst(27, 0, 0), 9)},
		now:    cst(27, 3, 0),
		want:   Decision{Next: next},
	}, {
		name:   "two allowed: the second mops up the first, 2h after it ended",
		mod:    policy(2),
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37), ended(mopUp1, main, cst(26, 22, 0), sweepv1alpha1.RoundCompleted, 9)},
		now:    cst(27, 0, 0),
		want:   Decision{MopUp: &MopUp{Name: mopUp2, Of: mopUp1, Main: main, N: 2, Start: cst(27, 0, 0), Deadline: cst(27, 4, 0)}, Next: next},
	}, {
		name:   "two allowed, but the first left nobody",
		mod:    policy(2),
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37), ended(mopUp1, main, cst(26, 22, 0), sweepv1alpha1.RoundCompleted, 0)},
		now:    cst(27, 0, 0),
		want:   Decision{Next: next},
	}, {
		name:   "the operator was down past the mop-up's window: too late, not created",
		mod:    policy(1),
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37)},
		now:    cst(27, 0, 0),
		want:   Decision{MopUpTooLate: first, Next: next},
	}, {
		name: "only the latest round is mopped up: the next one sweeps everyone again",
		mod:  policy(1),
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37),
			{Name: "baoguo-daily-202611270600", Scheduled: cst(27, 6, 0), Phase: sweepv1alpha1.RoundRunning}},
		now:  cst(27, 6, 30),
		want: Decision{Active: []string{"baoguo-daily-202611270600"}, Next: cst(28, 6, 0)},
	}, {
		name: "a running mop-up does not hold back the next round under Forbid, nor is it replaced",
		mod: func(s *sweepv1alpha1.TestingSchedule) {
			policy(1)(s)
			s.Spec.ConcurrencyPolicy = sweepv1alpha1.ConcurrencyReplace
		},
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37), running(mopUp1, main)},
		now:    cst(27, 6, 0),
		want:   Decision{Create: cst(27, 6, 0), Active: []string{mopUp1}, Next: cst(28, 6, 0)},
	}, {
		name:   "Forbid is not held back by a mop-up either",
		mod:    policy(1),
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37), running(mopUp1, main)},
		now:    cst(27, 6, 0),
		want:   Decision{Create: cst(27, 6, 0), Active: []string{mopUp1}, Next: cst(28, 6, 0)},
	}, {
		name: "suspended: no mop-up either",
		mod: func(s *sweepv1alpha1.TestingSchedule) {
			policy(1)(s)
			s.Spec.Suspend = true
		},
		rounds: []Round{exceeded(main, "", cst(26, 18, 0), 37)},
		now:    cst(26, 20, 0),
		want:   Decision{Next: next},
	}, {
		name: "mop-ups go with their round when the history limit prunes it, and not against the limit",
		mod: func(s *sweepv1alpha1.TestingSchedule) {
			policy(2)(s)
			s.Spec.FailedRoundsHistoryLimit = ptr.To[int32](1)
		},
		rounds: []Round{
			{Name: "d24", Scheduled: cst(24, 6, 0), Phase: sweepv1alpha1.RoundDeadlineExceeded, CompletionTime: cst(24, 18, 0), Missed: 5},
			exceeded("d24-mopup-2", "d24-mopup-1", cst(25, 2, 0), 1),
			exceeded("d24-mopup-1", "d24", cst(24, 22, 0), 3),
			{Name: "d25", Scheduled: cst(25, 6, 0), Phase: sweepv1alpha1.RoundDeadlineExceeded, CompletionTime: cst(25, 18, 0), Missed: 5},
			ended("d25-mopup-1", "d25", cst(25, 22, 0), sweepv1alpha1.RoundCompleted, 0),
			// Left by a pruning that deleted its round but not it.
			exceeded("d23-mopup-1", "d23", cst(23, 22, 0), 3),
		},
		now:  cst(26, 5, 0),
		want: Decision{Prune: []string{"d24", "d23-mopup-1", "d24-mopup-1", "d24-mopup-2"}, Next: cst(26, 6, 0)},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSchedule("0 6 * * *", tc.mod)
			c, loc, err := Parse(s.Spec.Schedule, s.Spec.TimeZone)
			if err != nil {
				t.Fatal(err)
			}
			// The round of the 26th was created: the schedule's status says so.
			s.Status.LastScheduleTime = nil
			for _, r := range tc.rounds {
				if r.MopUpOf == "" && (s.Status.LastScheduleTime == nil || r.Scheduled.After(s.Status.LastScheduleTime.Time)) {
					s.Status.LastScheduleTime = metaTime(r.Scheduled)
				}
			}
			got := Decide(Input{Schedule: s, Cron: c, Location: loc, Rounds: tc.rounds, Now: tc.now.UTC()})
			if !reflect.DeepEqual(normMopUp(got), normMopUp(tc.want)) {
				t.Errorf("Decide at %s:\n got %+v (mop-up %+v, too late %+v)\nwant %+v (mop-up %+v, too late %+v)", tc.now,
					normMopUp(got), got.MopUp, got.MopUpTooLate, normMopUp(tc.want), tc.want.MopUp, tc.want.MopUpTooLate)
			}
			if w := got.Wake(tc.now); !tc.want.NextMopUp.IsZero() && w != tc.want.NextMopUp.Sub(tc.now) {
				t.Errorf("wakes in %s, want at the mop-up's time", w)
			}
		})
	}
}

func normMopUp(d Decision) Decision {
	d = norm(d)
	for _, mu := range []**MopUp{&d.MopUp, &d.MopUpTooLate} {
		if *mu != nil {
			c := **mu
			c.Start, c.Deadline = c.Start.UTC(), c.Deadline.UTC()
			*mu = &c
		}
	}
	if !d.NextMopUp.IsZero() {
		d.NextMopUp = d.NextMopUp.UTC()
	}
	if d.LastSuccessful != nil {
		c := *d.LastSuccessful
		c.CompletionTime = c.CompletionTime.UTC()
		d.LastSuccessful = &c
	}
	return d
}

func TestMopUpRoundNameAndNewMopUpRound(t *testing.T) {
	s := newSchedule("0 6 * * *", func(s *sweepv1alpha1.TestingSchedule) {
		s.Spec.RoundTemplate.Metadata.Labels = map[string]string{"sweep.masstesting.io/district": "pingfang"}
		s.Spec.RoundTemplate.Spec.Teams = 6
		s.Spec.RoundTemplate.Spec.BuildingSelector = nil
	})
	main := RoundName(s.Name, cst(26, 6, 0), shanghai)
	if got := MopUpRoundName(main, 1); got != "baoguo-daily-202611260600-mopup-1" {
		t.Errorf("MopUpRoundName = %q", got)
	}
	// A mop-up's name is never a scheduled round's: those end in twelve
	// digits, whatever the schedule is called.
	if other := RoundName(MopUpRoundName("x", 1), cst(26, 6, 0), shanghai); other == MopUpRoundName("x", 1) {
		t.Errorf("a schedule named like a mop-up gives the mop-up's name %q", other)
	}
	long := strings.Repeat("x", 250)
	a, b := MopUpRoundName(long, 1), MopUpRoundName(long, 2)
	if len(a) > 253 || a == b || len(validation.IsDNS1123Subdomain(a)) > 0 {
		t.Errorf("long names must stay valid and distinct: %q %q", a, b)
	}
	mu := &MopUp{Name: MopUpRoundName(main, 1), Of: main, Main: main, N: 1, Start: cst(26, 20, 0), Deadline: cst(27, 0, 0)}
	r := NewMopUpRound(s, mu)
	if r.Name != mu.Name || r.Spec.MopUpOf != main || r.Spec.BuildingSelector != nil || r.Spec.Teams != 6 ||
		!r.Spec.Start.Time.Equal(mu.Start) || !r.Spec.Deadline.Time.Equal(mu.Deadline) {
		t.Errorf("mop-up round %s: %+v", r.Name, r.Spec)
	}
	if r.Labels[sweepv1alpha1.LabelSchedule] != "baoguo-daily" || r.Labels["sweep.masstesting.io/district"] != "pingfang" {
		t.Errorf("labels = %v", r.Labels)
	}
	if _, ok := ScheduledTime(r); ok {
		t.Error("a mop-up carries a scheduled time: it is no time of the cron schedule")
	}
	if len(r.OwnerReferences) != 1 || r.OwnerReferences[0].Kind != "TestingSchedule" || !*r.OwnerReferences[0].Controller {
		t.Errorf("owner = %+v", r.OwnerReferences)
	}
}

func metaTime(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }
