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

package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testobjects"
)

// These tests run the schedule controller alone in a real manager against
// envtest, with a fake clock. The round controller does not run: the test
// plays it, setting each round's phase, so that "running" and "finished"
// are exactly what each case needs.

var shanghai = func() *time.Location {
	l, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return l
}()

func startScheduleManager(t *testing.T, ns string, clk *clocktesting.FakeClock) {
	t.Helper()
	mcfg := rest.CopyConfig(cfg)
	mgr, err := ctrl.NewManager(mcfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &TestingScheduleReconciler{Client: mgr.GetClient(), Clock: clk, Recorder: mgr.GetEventRecorder(ScheduleFieldOwner)}
	if err := rec.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("manager: %v", err)
		}
	}()
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { cancel(); <-done }) })
}

// nextShanghai is the next time after the real now (the API server stamps
// creation times with it) at hour:00 in Asia/Shanghai.
func nextShanghai(hour int) time.Time {
	now := time.Now().In(shanghai)
	t := time.Date(now.Year(), now.Month(), now.Day(), hour, 0, 0, 0, shanghai)
	if !t.After(now.Add(time.Minute)) {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

func newTestSchedule(ns, name, cron string, mod func(*sweepv1alpha1.TestingSchedule)) *sweepv1alpha1.TestingSchedule {
	s := testobjects.Schedule(ns, name, cron).TimeZone("Asia/Shanghai").RoundDuration(12 * time.Hour).Drill().
		Selector(map[string]string{sweepv1alpha1.LabelStreet: "baoguo"}).Obj()
	if mod != nil {
		mod(s)
	}
	return s
}

func getSchedule(t *testing.T, ns, name string) *sweepv1alpha1.TestingSchedule {
	t.Helper()
	var s sweepv1alpha1.TestingSchedule
	if err := k8s.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func roundNames(t *testing.T, ns string) []string {
	t.Helper()
	var l sweepv1alpha1.TestingRoundList
	if err := k8s.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range l.Items {
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}

func awaitRounds(t *testing.T, ns string, want ...string) {
	t.Helper()
	sort.Strings(want)
	await(t, fmt.Sprintf("rounds %v", want), func() (bool, error) {
		return strings.Join(roundNames(t, ns), ",") == strings.Join(want, ","), nil
	})
}

func setRoundPhase(t *testing.T, ns, name string, phase sweepv1alpha1.RoundPhase, completed time.Time) {
	t.Helper()
	p := fmt.Sprintf(`{"status":{"phase":%q,"completionTime":%q}}`, phase, completed.UTC().Format(time.RFC3339))
	tr := &sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	if err := k8s.Status().Patch(context.Background(), tr, client.RawPatch(types.MergePatchType, []byte(p))); err != nil {
		t.Fatal(err)
	}
}

func pokeSchedule(t *testing.T, ns, name string) {
	t.Helper()
	touch(t, &sweepv1alpha1.TestingSchedule{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})
}

func scheduleEvents(t *testing.T, ns, name string) map[string]string {
	t.Helper()
	return eventsAbout(t, ns, "TestingSchedule", name)
}

func awaitScheduleEvent(t *testing.T, ns, name, reason, contains string) {
	t.Helper()
	await(t, "event "+reason, func() (bool, error) {
		return strings.Contains(scheduleEvents(t, ns, name)[reason], contains), nil
	})
}

// A round at midnight in Asia/Shanghai is 16:00 UTC the day before: it must
// be created when the Shanghai clock strikes twelve, named by the Shanghai
// date, with its window starting then.
func TestScheduleCreatesTheMidnightRoundInItsTimeZone(t *testing.T) {
	ns := newNamespace(t)
	midnight := nextShanghai(0)
	clk := clocktesting.NewFakeClock(midnight.Add(-30 * time.Second))
	startScheduleManager(t, ns, clk)
	s := newTestSchedule(ns, "nightly", "0 0 * * *", func(s *sweepv1alpha1.TestingSchedule) {
		s.Spec.RoundTemplate.Metadata.Labels = map[string]string{"sweep.masstesting.io/district": "pingfang"}
	})
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	await(t, "nextScheduleTime", func() (bool, error) {
		st := getSchedule(t, ns, "nightly").Status
		return st.NextScheduleTime != nil && st.NextScheduleTime.Time.Equal(midnight), nil
	})
	if got := roundNames(t, ns); len(got) != 0 {
		t.Fatalf("rounds before midnight: %v", got)
	}

	clk.SetTime(midnight.Add(10 * time.Second))
	pokeSchedule(t, ns, "nightly")
	want := "nightly-" + midnight.Format("20060102") + "0000"
	awaitRounds(t, ns, want)
	tr := getRound(t, ns, want)
	if !tr.Spec.Start.Time.Equal(midnight) || !tr.Spec.Deadline.Time.Equal(midnight.Add(12*time.Hour)) {
		t.Errorf("window %v - %v, want %v + 12h", tr.Spec.Start, tr.Spec.Deadline, midnight)
	}
	if owner := metav1.GetControllerOf(tr); owner == nil || owner.Kind != "TestingSchedule" || owner.Name != "nightly" {
		t.Errorf("round owner = %+v", owner)
	}
	if tr.Labels["sweep.masstesting.io/district"] != "pingfang" || tr.Labels[sweepv1alpha1.LabelSchedule] != "nightly" {
		t.Errorf("round labels = %v", tr.Labels)
	}
	if tr.Spec.BuildingSelector.MatchLabels[sweepv1alpha1.LabelStreet] != "baoguo" || tr.Spec.PoolSize != 10 || tr.Spec.Supplies.SparePercent != 10 {
		t.Errorf("round spec not from the template with its defaults: %+v", tr.Spec)
	}
	await(t, "status after the round", func() (bool, error) {
		st := getSchedule(t, ns, "nightly").Status
		return st.LastScheduleTime != nil && st.LastScheduleTime.Time.Equal(midnight) &&
			len(st.Active) == 1 && st.Active[0] == want &&
			st.NextScheduleTime != nil && st.NextScheduleTime.Time.Equal(midnight.AddDate(0, 0, 1)), nil
	})
	awaitScheduleEvent(t, ns, "nightly", "CreatedRound", want)

	// Nothing more happens within the same day, however often it is woken:
	// a spec change at 23:00 is reconciled (observedGeneration follows it)
	// and creates no second round.
	clk.SetTime(midnight.Add(23 * time.Hour))
	p := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"roundTemplate":{"spec":{"teams":7}}}}`))
	if err := k8s.Patch(context.Background(), getSchedule(t, ns, "nightly"), p); err != nil {
		t.Fatal(err)
	}
	gen := getSchedule(t, ns, "nightly").Generation
	await(t, "the spec change to be reconciled", func() (bool, error) {
		return getSchedule(t, ns, "nightly").Status.ObservedGeneration == gen, nil
	})
	if got := roundNames(t, ns); len(got) != 1 {
		t.Errorf("rounds within the first day: %v", got)
	}
}

// An operator that was down at 06:00 and comes back later than
// startingDeadlineSeconds creates no round for it, and says so.
func TestScheduleMissedBeyondStartingDeadline(t *testing.T) {
	ns := newNamespace(t)
	six := nextShanghai(6)
	clk := clocktesting.NewFakeClock(six.Add(10 * time.Minute))
	startScheduleManager(t, ns, clk)
	s := newTestSchedule(ns, "daily", "0 6 * * *", func(s *sweepv1alpha1.TestingSchedule) {
		s.Spec.StartingDeadlineSeconds = ptr.To[int64](300)
	})
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	await(t, "lastMissedTime", func() (bool, error) {
		st := getSchedule(t, ns, "daily").Status
		return st.LastMissedTime != nil && st.LastMissedTime.Time.Equal(six), nil
	})
	awaitScheduleEvent(t, ns, "daily", "MissedSchedule", "startingDeadlineSeconds (300)")
	if got := roundNames(t, ns); len(got) != 0 {
		t.Errorf("a missed schedule created rounds: %v", got)
	}
	if st := getSchedule(t, ns, "daily").Status; st.LastScheduleTime != nil || st.NextScheduleTime == nil || !st.NextScheduleTime.Time.Equal(six.AddDate(0, 0, 1)) {
		t.Errorf("status = %+v", st)
	}

	// The next day's round, on time, is created as usual.
	clk.SetTime(six.AddDate(0, 0, 1).Add(time.Minute))
	pokeSchedule(t, ns, "daily")
	awaitRounds(t, ns, "daily-"+six.AddDate(0, 0, 1).Format("200601021504"))
}

// Each concurrency policy, when today's round is due and yesterday's still
// runs.
func TestScheduleConcurrencyPolicies(t *testing.T) {
	for _, policy := range []sweepv1alpha1.ConcurrencyPolicy{sweepv1alpha1.ConcurrencyForbid, sweepv1alpha1.ConcurrencyReplace, sweepv1alpha1.ConcurrencyAllow} {
		t.Run(string(policy), func(t *testing.T) {
			ns := newNamespace(t)
			day1 := nextShanghai(6)
			day2, day3 := day1.AddDate(0, 0, 1), day1.AddDate(0, 0, 2)
			r1, r2, r3 := "daily-"+day1.Format("200601021504"), "daily-"+day2.Format("200601021504"), "daily-"+day3.Format("200601021504")
			clk := clocktesting.NewFakeClock(day1.Add(time.Second))
			startScheduleManager(t, ns, clk)
			s := newTestSchedule(ns, "daily", "0 6 * * *", func(s *sweepv1alpha1.TestingSchedule) {
				s.Spec.ConcurrencyPolicy = policy
				s.Spec.SuccessfulRoundsHistoryLimit = ptr.To[int32](1)
				// Long rounds, so that yesterday's still runs at 06:00.
				s.Spec.RoundTemplate.Spec.Duration = sweepv1alpha1.Duration{Duration: 30 * time.Hour}
			})
			if err := k8s.Create(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			awaitRounds(t, ns, r1)
			setRoundPhase(t, ns, r1, sweepv1alpha1.RoundRunning, day1)

			clk.SetTime(day2.Add(time.Second))
			pokeSchedule(t, ns, "daily")
			switch policy {
			case sweepv1alpha1.ConcurrencyForbid:
				awaitScheduleEvent(t, ns, "daily", "RoundWaiting", r1)
				if got := roundNames(t, ns); len(got) != 1 {
					t.Fatalf("Forbid started a second round: %v", got)
				}
				// Yesterday's round ends: today's starts, late but inside
				// its window, with no starting deadline set.
				clk.SetTime(day2.Add(2 * time.Hour))
				setRoundPhase(t, ns, r1, sweepv1alpha1.RoundCompleted, day2.Add(2*time.Hour))
				awaitRounds(t, ns, r1, r2)
				if tr := getRound(t, ns, r2); !tr.Spec.Start.Time.Equal(day2) {
					t.Errorf("a late round still starts at its scheduled time: %v", tr.Spec.Start)
				}
				// Day 3: r2 completed too; a history of one keeps r2 only.
				setRoundPhase(t, ns, r2, sweepv1alpha1.RoundCompleted, day2.Add(10*time.Hour))
				clk.SetTime(day3.Add(time.Second))
				pokeSchedule(t, ns, "daily")
				awaitRounds(t, ns, r2, r3)
				await(t, "lastSuccessfulRound", func() (bool, error) {
					st := getSchedule(t, ns, "daily").Status
					return st.LastSuccessfulRound == r2 && len(st.Active) == 1 && st.Active[0] == r3, nil
				})
			case sweepv1alpha1.ConcurrencyReplace:
				awaitRounds(t, ns, r2)
				awaitScheduleEvent(t, ns, "daily", "ReplacedRound", r1)
			case sweepv1alpha1.ConcurrencyAllow:
				awaitRounds(t, ns, r1, r2)
				await(t, "two active rounds", func() (bool, error) {
					return len(getSchedule(t, ns, "daily").Status.Active) == 2, nil
				})
			}
		})
	}
}

// A time zone the schema lets through but no zone database knows stops the
// schedule with a reason, without crash-looping; fixing it resumes.
func TestScheduleWithUnknownTimeZone(t *testing.T) {
	ns := newNamespace(t)
	clk := clocktesting.NewFakeClock(time.Now())
	startScheduleManager(t, ns, clk)
	s := newTestSchedule(ns, "mars", "0 6 * * *", func(s *sweepv1alpha1.TestingSchedule) { s.Spec.TimeZone = "Mars/Olympus_Mons" })
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	await(t, "Ready=False", func() (bool, error) {
		c := meta.FindStatusCondition(getSchedule(t, ns, "mars").Status.Conditions, sweepv1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason == sweepv1alpha1.ReasonInvalidSchedule && strings.Contains(c.Message, "spec.timeZone"), nil
	})
	p := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"timeZone":"Asia/Shanghai"}}`))
	if err := k8s.Patch(context.Background(), s, p); err != nil {
		t.Fatal(err)
	}
	await(t, "Ready=True", func() (bool, error) {
		st := getSchedule(t, ns, "mars").Status
		c := meta.FindStatusCondition(st.Conditions, sweepv1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionTrue && st.NextScheduleTime != nil, nil
	})
}

// The schema rejects what it can, naming the field.
func TestScheduleSchemaValidation(t *testing.T) {
	ns := newNamespace(t)
	for _, tc := range []struct {
		name string
		mod  func(*sweepv1alpha1.TestingSchedule)
		want string
	}{
		{"CRON_TZ", func(s *sweepv1alpha1.TestingSchedule) { s.Spec.Schedule = "CRON_TZ=Asia/Shanghai 0 6 * * *" }, "spec.schedule"},
		{"policy", func(s *sweepv1alpha1.TestingSchedule) { s.Spec.ConcurrencyPolicy = "Sometimes" }, "spec.concurrencyPolicy"},
		{"zone", func(s *sweepv1alpha1.TestingSchedule) { s.Spec.TimeZone = "../etc/passwd" }, "spec.timeZone"},
		{"deadline", func(s *sweepv1alpha1.TestingSchedule) { s.Spec.StartingDeadlineSeconds = ptr.To[int64](-1) }, "spec.startingDeadlineSeconds"},
	} {
		s := newTestSchedule(ns, "bad-"+strings.ToLower(tc.name), "0 6 * * *", tc.mod)
		err := k8s.Create(context.Background(), s)
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want Invalid naming %s", tc.name, err, tc.want)
		}
	}
	s := newTestSchedule(ns, "defaults", "0 6 * * *", nil)
	s.Spec.TimeZone = ""
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	got := getSchedule(t, ns, "defaults").Spec
	if got.TimeZone != "UTC" || got.ConcurrencyPolicy != sweepv1alpha1.ConcurrencyForbid || *got.SuccessfulRoundsHistoryLimit != 3 || *got.FailedRoundsHistoryLimit != 3 {
		t.Errorf("defaults = %+v", got)
	}
}
