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
	"k8s.io/utils/ptr"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testobjects"
)

var shanghai = mustLoad("Asia/Shanghai")

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// cst is a wall-clock time in Asia/Shanghai (UTC+8, no daylight saving).
func cst(day, hour, minute int) time.Time {
	return time.Date(2026, 11, day, hour, minute, 0, 0, shanghai)
}

func newSchedule(cronSpec string, mod func(*sweepv1alpha1.TestingSchedule)) *sweepv1alpha1.TestingSchedule {
	s := testobjects.Schedule("pingfang", "baoguo-daily", cronSpec).Created(cst(25, 12, 0)).TimeZone("Asia/Shanghai").
		Concurrency(sweepv1alpha1.ConcurrencyForbid).RoundDuration(12 * time.Hour).Obj()
	if mod != nil {
		mod(s)
	}
	return s
}

func TestDecide(t *testing.T) {
	running := func(name string, at time.Time) Round {
		return Round{Name: name, Scheduled: at, Phase: sweepv1alpha1.RoundRunning}
	}
	for _, tc := range []struct {
		name   string
		cron   string
		mod    func(*sweepv1alpha1.TestingSchedule)
		rounds []Round
		now    time.Time
		want   Decision
	}{{
		name: "before the first 06:00, which is 22:00 UTC the day before",
		cron: "0 6 * * *", now: cst(26, 5, 59),
		want: Decision{Next: cst(26, 6, 0)},
	}, {
		name: "at 06:00 the round is due",
		cron: "0 6 * * *", now: cst(26, 6, 0).Add(30 * time.Second),
		want: Decision{Create: cst(26, 6, 0), Next: cst(27, 6, 0)},
	}, {
		name: "a midnight round across the date line of both zones",
		cron: "0 0 * * *", now: cst(27, 0, 0).Add(10 * time.Second),
		want: Decision{Create: cst(27, 0, 0), Next: cst(28, 0, 0)},
	}, {
		name: "the round of 06:00 exists already",
		cron: "0 6 * * *", now: cst(26, 6, 5),
		rounds: []Round{running("r", cst(26, 6, 0))},
		want:   Decision{Active: []string{"r"}, Next: cst(27, 6, 0)},
	}, {
		name: "missed by more than startingDeadlineSeconds",
		cron: "0 6 * * *", now: cst(26, 7, 0),
		mod:  func(s *sweepv1alpha1.TestingSchedule) { s.Spec.StartingDeadlineSeconds = ptr.To[int64](300) },
		want: Decision{Missed: cst(26, 6, 0), Next: cst(27, 6, 0)},
	}, {
		name: "late but within startingDeadlineSeconds",
		cron: "0 6 * * *", now: cst(26, 6, 4),
		mod:  func(s *sweepv1alpha1.TestingSchedule) { s.Spec.StartingDeadlineSeconds = ptr.To[int64](300) },
		want: Decision{Create: cst(26, 6, 0), Next: cst(27, 6, 0)},
	}, {
		name: "late without a starting deadline still starts, inside its window",
		cron: "0 6 * * *", now: cst(26, 17, 0),
		want: Decision{Create: cst(26, 6, 0), Next: cst(27, 6, 0)},
	}, {
		name: "missed when its window has passed",
		cron: "0 6 * * *", now: cst(26, 18, 0),
		want: Decision{Missed: cst(26, 6, 0), Next: cst(27, 6, 0)},
	}, {
		name: "only the latest of several missed times counts",
		cron: "0 6 * * *", now: cst(28, 6, 1),
		want: Decision{Create: cst(28, 6, 0), Next: cst(29, 6, 0)},
	}, {
		name: "Forbid waits while yesterday's round runs",
		cron: "0 6 * * *", now: cst(27, 6, 0),
		rounds: []Round{running("yesterday", cst(26, 6, 0))},
		want:   Decision{Forbidden: cst(27, 6, 0), Active: []string{"yesterday"}, Next: cst(28, 6, 0)},
	}, {
		name: "Replace deletes yesterday's round and starts today's",
		cron: "0 6 * * *", now: cst(27, 6, 0),
		mod:    func(s *sweepv1alpha1.TestingSchedule) { s.Spec.ConcurrencyPolicy = sweepv1alpha1.ConcurrencyReplace },
		rounds: []Round{running("yesterday", cst(26, 6, 0))},
		want:   Decision{Create: cst(27, 6, 0), Replace: []string{"yesterday"}, Active: []string{"yesterday"}, Next: cst(28, 6, 0)},
	}, {
		name: "Allow runs both",
		cron: "0 6 * * *", now: cst(27, 6, 0),
		mod:    func(s *sweepv1alpha1.TestingSchedule) { s.Spec.ConcurrencyPolicy = sweepv1alpha1.ConcurrencyAllow },
		rounds: []Round{running("yesterday", cst(26, 6, 0))},
		want:   Decision{Create: cst(27, 6, 0), Active: []string{"yesterday"}, Next: cst(28, 6, 0)},
	}, {
		name: "suspended creates nothing",
		cron: "0 6 * * *", now: cst(26, 6, 1),
		mod:  func(s *sweepv1alpha1.TestingSchedule) { s.Spec.Suspend = true },
		want: Decision{Next: cst(27, 6, 0)},
	}, {
		name: "the last schedule time is not run again",
		cron: "0 6 * * *", now: cst(26, 6, 1),
		mod: func(s *sweepv1alpha1.TestingSchedule) {
			s.Status.LastScheduleTime = &metav1.Time{Time: cst(26, 6, 0)}
		},
		want: Decision{Next: cst(27, 6, 0)},
	}, {
		name: "history limits prune the oldest finished rounds",
		cron: "0 6 * * *", now: cst(26, 5, 0),
		mod: func(s *sweepv1alpha1.TestingSchedule) {
			s.Spec.SuccessfulRoundsHistoryLimit = ptr.To[int32](2)
			s.Spec.FailedRoundsHistoryLimit = ptr.To[int32](0)
		},
		rounds: []Round{
			{Name: "d21", Scheduled: cst(21, 6, 0), Phase: sweepv1alpha1.RoundCompleted},
			{Name: "d23", Scheduled: cst(23, 6, 0), Phase: sweepv1alpha1.RoundCompleted},
			{Name: "d22", Scheduled: cst(22, 6, 0), Phase: sweepv1alpha1.RoundDeadlineExceeded},
			{Name: "d24", Scheduled: cst(24, 6, 0), Phase: sweepv1alpha1.RoundCompleted},
			{Name: "d20", Scheduled: cst(20, 6, 0), Phase: sweepv1alpha1.RoundCompleted},
		},
		want: Decision{Prune: []string{"d20", "d21", "d22"}, Next: cst(26, 6, 0),
			LastSuccessful: &Round{Name: "d24", Scheduled: cst(24, 6, 0), Phase: sweepv1alpha1.RoundCompleted}},
	}, {
		name: "a minutely schedule down for a month jumps to the latest minute",
		cron: "* * * * *", now: cst(26, 6, 0).Add(30 * time.Second),
		mod: func(s *sweepv1alpha1.TestingSchedule) {
			s.CreationTimestamp = metav1.Time{Time: cst(1, 0, 0)}
		},
		want: Decision{Create: cst(26, 6, 0), Next: cst(26, 6, 1), TooManyMissed: true},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSchedule(tc.cron, tc.mod)
			c, loc, err := Parse(s.Spec.Schedule, s.Spec.TimeZone)
			if err != nil {
				t.Fatal(err)
			}
			got := Decide(Input{Schedule: s, Cron: c, Location: loc, Rounds: tc.rounds, Now: tc.now.UTC()})
			if !reflect.DeepEqual(norm(got), norm(tc.want)) {
				t.Errorf("Decide at %s:\n got %+v\nwant %+v", tc.now, norm(got), norm(tc.want))
			}
		})
	}
}

// norm makes times comparable by instant, whatever their location.
func norm(d Decision) Decision {
	for _, t := range []*time.Time{&d.Create, &d.Missed, &d.Forbidden, &d.Next} {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	if d.LastSuccessful != nil {
		c := *d.LastSuccessful
		c.Scheduled = c.Scheduled.UTC()
		d.LastSuccessful = &c
	}
	return d
}

func TestParseErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ cron, tz, want string }{
		// Asia/Beijing is a common guess, but not an IANA zone.
		{"0 6 * * *", "Asia/Beijing", "spec.timeZone \"Asia/Beijing\""},
		{"0 25 * * *", "UTC", "spec.schedule \"0 25 * * *\""},
		{"0 0 6 * * *", "UTC", "spec.schedule"},
		{"0 0 30 2 *", "UTC", "never fires"},
		{"0 , * * *", "UTC", "spec.schedule"},
	} {
		if _, _, err := Parse(tc.cron, tc.tz); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q, %q) = %v, want an error naming %s", tc.cron, tc.tz, err, tc.want)
		}
	}
	if _, loc, err := Parse("@daily", ""); err != nil || loc != time.UTC {
		t.Errorf("Parse(@daily, \"\") = %v, %v; want UTC", loc, err)
	}
}

func TestRoundNameAndNewRound(t *testing.T) {
	s := newSchedule("0 6 * * *", func(s *sweepv1alpha1.TestingSchedule) {
		s.Spec.RoundTemplate.Metadata.Labels = map[string]string{"sweep.masstesting.io/district": "pingfang"}
		s.Spec.RoundTemplate.Spec.Teams = 6
	})
	// 06:00 in Shanghai on the 27th is 22:00 UTC on the 26th: the name
	// carries the local date people know the round by.
	at := cst(27, 6, 0)
	if got := RoundName(s.Name, at.UTC(), shanghai); got != "baoguo-daily-202611270600" {
		t.Errorf("RoundName = %q", got)
	}
	long := strings.Repeat("x", 250)
	if got := RoundName(long, at, shanghai); len(got) > 253 || RoundName(long, at.Add(time.Hour), shanghai) == got {
		t.Errorf("long names must stay valid and distinct: %q", got)
	}
	r := NewRound(s, at.UTC(), shanghai)
	if !r.Spec.Start.Time.Equal(at) || !r.Spec.Deadline.Time.Equal(at.Add(12*time.Hour)) || r.Spec.Teams != 6 {
		t.Errorf("window or spec wrong: start %v deadline %v teams %d", r.Spec.Start, r.Spec.Deadline, r.Spec.Teams)
	}
	if r.Labels[sweepv1alpha1.LabelSchedule] != "baoguo-daily" || r.Labels["sweep.masstesting.io/district"] != "pingfang" {
		t.Errorf("labels = %v", r.Labels)
	}
	if got, ok := ScheduledTime(r); !ok || !got.Equal(at) {
		t.Errorf("ScheduledTime = %v, %v", got, ok)
	}
	if r.Annotations[sweepv1alpha1.AnnotationScheduledTime] != "2026-11-27T06:00:00+08:00" {
		t.Errorf("annotation = %q", r.Annotations[sweepv1alpha1.AnnotationScheduledTime])
	}
	if len(r.OwnerReferences) != 1 || r.OwnerReferences[0].Kind != "TestingSchedule" || !*r.OwnerReferences[0].Controller {
		t.Errorf("owner = %+v", r.OwnerReferences)
	}
}

// FuzzDecide checks that Decide never panics and never asks to create a
// round in the future or one that already exists.
func FuzzDecide(f *testing.F) {
	f.Add("0 6 * * *", int64(3600), int64(300), true)
	f.Add("*/5 * * * *", int64(86400*3), int64(0), false)
	f.Fuzz(func(t *testing.T, spec string, sinceCreation, deadline int64, haveRound bool) {
		c, loc, err := Parse(spec, "Asia/Shanghai")
		if err != nil || sinceCreation < 0 || sinceCreation > 86400*400 || deadline < 0 {
			return
		}
		now := cst(26, 6, 0)
		s := newSchedule(spec, func(s *sweepv1alpha1.TestingSchedule) {
			s.CreationTimestamp = metav1.Time{Time: now.Add(-time.Duration(sinceCreation) * time.Second)}
			s.Spec.StartingDeadlineSeconds = &deadline
		})
		var rounds []Round
		if haveRound {
			rounds = append(rounds, Round{Name: "r", Scheduled: now, Phase: sweepv1alpha1.RoundRunning})
		}
		d := Decide(Input{Schedule: s, Cron: c, Location: loc, Rounds: rounds, Now: now})
		if d.Create.After(now) || (haveRound && d.Create.Equal(now)) {
			t.Errorf("Decide created %v at %v (round exists: %v)", d.Create, now, haveRound)
		}
	})
}
