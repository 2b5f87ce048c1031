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
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testobjects"
)

// mainAndMopUp is a finished main round "r" and its mop-up "r-mopup",
// which starts at t0+13h and runs four hours.
func mainAndMopUp(phase sweepv1alpha1.RoundPhase) (*sweepv1alpha1.TestingRound, *sweepv1alpha1.TestingRound) {
	main := testRound(10, sweepv1alpha1.OrderSealedFirst)
	main.Status.Phase = phase
	m := testRound(10, sweepv1alpha1.OrderSealedFirst)
	m.Name, m.UID = "r-mopup", types.UID("mopup-uid")
	m.Spec.MopUpOf = "r"
	m.Spec.Start = &metav1.Time{Time: t0.Add(13 * time.Hour)}
	m.Spec.Deadline = metav1.Time{Time: t0.Add(17 * time.Hour)}
	return main, m
}

// finishedJob is a job of round main, finished with sampled of expected
// and the given knock list.
func finishedJob(main *sweepv1alpha1.TestingRound, building string, level sweepv1alpha1.ControlLevel, phase sweepv1alpha1.JobPhase, expected, sampled int32, households ...string) *sweepv1alpha1.CollectionJob {
	b := testobjects.Building(main.Namespace, building).Label(sweepv1alpha1.LabelCommunity, "xinjiang").Label("other", "not copied").
		Residents(expected+2).Exempt(2).HomeVisit(3).Households(40).Layout(2, 10).Level(level).Obj()
	j := NewJob(main, b)
	j.Status = sweepv1alpha1.CollectionJobStatus{Phase: phase, Sampled: sampled, Visits: 2, MissedHouseholds: households}
	return j
}

func TestMopUpWait(t *testing.T) {
	main, m := mainAndMopUp(sweepv1alpha1.RoundDeadlineExceeded)
	done := finishedJob(main, "b1", "", sweepv1alpha1.JobCompleted, 10, 8, "1-101")
	lagging := finishedJob(main, "b2", "", sweepv1alpha1.JobWaiting, 10, 8, "1-101")
	retest := finishedJob(main, "b3", "", sweepv1alpha1.JobActive, 3, 0)
	retest.Spec.Retest = &sweepv1alpha1.RetestSpec{Pool: "p", Tube: "T1", Households: []string{"1-101"}}
	running := main.DeepCopy()
	running.Status.Phase = sweepv1alpha1.RoundRunning
	unstarted := main.DeepCopy()
	unstarted.Status.Phase = ""
	self := m.DeepCopy()
	self.Spec.MopUpOf = self.Name
	own := []*sweepv1alpha1.CollectionJob{NewMopUpJob(m, main, done)}

	for _, tc := range []struct {
		name        string
		r, earlier  *sweepv1alpha1.TestingRound
		earlierJobs []*sweepv1alpha1.CollectionJob
		jobs        []*sweepv1alpha1.CollectionJob
		wantReason  string // "" for no wait
		wantInMsg   string
	}{
		{name: "not a mop-up round", r: main, earlier: nil},
		{name: "the earlier round does not exist", r: m, wantReason: sweepv1alpha1.ReasonEarlierRoundNotFound, wantInMsg: "Round r (spec.mopUpOf) does not exist in namespace ns"},
		{name: "the earlier round was deleted after the mop-up took its buildings", r: m, jobs: own},
		{name: "the earlier round runs", r: m, earlier: running, earlierJobs: []*sweepv1alpha1.CollectionJob{done}, wantReason: sweepv1alpha1.ReasonEarlierRoundNotFinished, wantInMsg: "Round r is Running"},
		{name: "the earlier round has no phase yet", r: m, earlier: unstarted, wantReason: sweepv1alpha1.ReasonEarlierRoundNotFinished, wantInMsg: "Round r is not started"},
		{name: "a building of the earlier round is not written Expired yet", r: m, earlier: main, earlierJobs: []*sweepv1alpha1.CollectionJob{done, lagging},
			wantReason: sweepv1alpha1.ReasonEarlierBuildingsFinishing, wantInMsg: "1 of its buildings are not written finished"},
		{name: "a retest still running does not hold the mop-up back", r: m, earlier: main, earlierJobs: []*sweepv1alpha1.CollectionJob{done, retest}},
		{name: "every building finished", r: m, earlier: main, earlierJobs: []*sweepv1alpha1.CollectionJob{done}},
		{name: "a round cannot mop itself up", r: self, earlier: self, wantReason: sweepv1alpha1.ReasonMopUpOfItself, wantInMsg: "names this round itself"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := MopUpWait(tc.r, tc.earlier, tc.earlierJobs, tc.jobs)
			switch {
			case tc.wantReason == "" && w != nil:
				t.Fatalf("waits: %+v", *w)
			case tc.wantReason == "":
				return
			case w == nil:
				t.Fatalf("does not wait, want %s", tc.wantReason)
			case w.Reason != tc.wantReason || !strings.Contains(w.Message, tc.wantInMsg):
				t.Fatalf("wait %+v, want reason %s and a message with %q", *w, tc.wantReason, tc.wantInMsg)
			}
		})
	}
}

func TestMopUpJobs(t *testing.T) {
	main, m := mainAndMopUp(sweepv1alpha1.RoundDeadlineExceeded)
	jobs := []*sweepv1alpha1.CollectionJob{
		finishedJob(main, "a-all-sampled", "", sweepv1alpha1.JobCompleted, 30, 30),
		finishedJob(main, "b-two-missed", "", sweepv1alpha1.JobCompleted, 30, 28, "1-101", "2-1203"),
		finishedJob(main, "c-never-visited", "", sweepv1alpha1.JobExpired, 25, 0),
		finishedJob(main, "d-sealed", sweepv1alpha1.ControlLevelSealed, sweepv1alpha1.JobFailed, 12, 3, "1-502"),
		// Counts a broken report could leave: the round clamps them, and
		// so does the mop-up.
		finishedJob(main, "e-oversampled", "", sweepv1alpha1.JobCompleted, 10, 14),
		finishedJob(main, "f-negative", "", sweepv1alpha1.JobExpired, 10, -3, "1-101"),
	}
	retest := finishedJob(main, "b-two-missed", "", sweepv1alpha1.JobExpired, 3, 0, "1-101")
	retest.Name = "retest"
	retest.Spec.Retest = &sweepv1alpha1.RetestSpec{Pool: "p", Tube: "T1", Households: []string{"1-101"}}
	earlierJobs := append(slices.Clone(jobs), retest)

	got, left := MopUpJobs(m, main, earlierJobs, nil, 100)
	if left != 4 || len(got) != 4 {
		t.Fatalf("%d jobs (%d missing), want 4: one per building with residents missed, no retest", len(got), left)
	}
	// Sealed first, as the round's order says; then by name.
	var order []string
	var expected int64
	for _, j := range got {
		order = append(order, j.Spec.Building)
		expected += int64(j.Spec.Expected)
	}
	if want := []string{"d-sealed", "b-two-missed", "c-never-visited", "f-negative"}; !slices.Equal(order, want) {
		t.Fatalf("jobs for %v, want %v", order, want)
	}
	// The mop-up expects exactly the residents the earlier round counts
	// missed.
	mainStatus := Status(main, jobs, 0, t0.Add(12*time.Hour))
	if expected != mainStatus.Residents.Missed || expected != 9+2+25+10 {
		t.Fatalf("the mop-up expects %d residents, the round it mops up missed %d", expected, mainStatus.Residents.Missed)
	}
	b := got[1]
	if b.Name != JobName(m.Name, m.UID, "b-two-missed") || !metav1.IsControlledBy(b, m) || b.Spec.Round != m.Name {
		t.Fatalf("job %s (round %s) is not named and owned as the mop-up's own: %+v", b.Name, b.Spec.Round, b.OwnerReferences)
	}
	if mu := b.Spec.MopUp; mu == nil || mu.Round != "r" || mu.Job != jobs[1].Name || !slices.Equal(mu.Households, []string{"1-101", "2-1203"}) {
		t.Fatalf("mopUp %+v, want the earlier job %s and its two missed households", b.Spec.MopUp, jobs[1].Name)
	}
	if b.Spec.Expected != 2 || b.Spec.HomeVisit != 0 || b.Spec.Exempt != 0 || b.Spec.Households != 40 || b.Spec.Units != 2 || b.Spec.Floors != 10 ||
		!b.Spec.Suspend || !b.Spec.Deadline.IsZero() || b.Spec.PoolSize != 0 || b.Spec.Collector.Source != "" || b.Spec.Supplies == nil || *b.Spec.Supplies != Forecast(2, m.Spec.PoolSize, m.Spec.Supplies) {
		t.Fatalf("spec %+v", b.Spec)
	}
	if b.Labels[sweepv1alpha1.LabelCommunity] != "xinjiang" || b.Labels[sweepv1alpha1.LabelRound] != m.Name || b.Labels["other"] != "" {
		t.Fatalf("labels %v", b.Labels)
	}
	if c := got[2]; c.Spec.MopUp == nil || len(c.Spec.MopUp.Households) != 0 || c.Spec.Expected != 25 {
		t.Fatalf("a building never visited: the whole building is knocked for its 25 residents, got %+v", c.Spec)
	}

	// In chunks, as a city round expands, and never twice.
	first, left := MopUpJobs(m, main, earlierJobs, nil, 3)
	if len(first) != 3 || left != 4 {
		t.Fatalf("first chunk %d of %d", len(first), left)
	}
	rest, left := MopUpJobs(m, main, earlierJobs, first, 3)
	if len(rest) != 1 || left != 1 || rest[0].Spec.Building != "f-negative" {
		t.Fatalf("second chunk %d of %d", len(rest), left)
	}
	if again, left := MopUpJobs(m, main, earlierJobs, append(first, rest...), 3); len(again) != 0 || left != 0 {
		t.Fatalf("planning again creates %d jobs", len(again))
	}
	if none, left := MopUpJobs(m, nil, nil, nil, 3); len(none) != 0 || left != 0 {
		t.Fatalf("without the earlier round: %d jobs", len(none))
	}
}

func TestMopUpPhaseAndConditions(t *testing.T) {
	main, m := mainAndMopUp(sweepv1alpha1.RoundCompleted)
	waitRunning := &Wait{sweepv1alpha1.ReasonEarlierRoundNotFinished, "Round r is Running: its missed residents are known once it finishes."}
	mj := NewMopUpJob(m, main, finishedJob(main, "b", "", sweepv1alpha1.JobCompleted, 10, 6, "1-101"))
	done := mj.DeepCopy()
	done.Status = sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobCompleted, Sampled: 3, Missed: 1}

	for _, tc := range []struct {
		name       string
		jobs       []*sweepv1alpha1.CollectionJob
		plan       Plan
		now        time.Time
		wantPhase  sweepv1alpha1.RoundPhase
		wantReason string // of Progressing
	}{
		{name: "before its start", plan: Plan{Wait: waitRunning}, now: t0.Add(12 * time.Hour),
			wantPhase: sweepv1alpha1.RoundPending, wantReason: sweepv1alpha1.ReasonWaitingForStart},
		{name: "started, waiting for the earlier round", plan: Plan{Wait: waitRunning}, now: t0.Add(14 * time.Hour),
			wantPhase: sweepv1alpha1.RoundPending, wantReason: sweepv1alpha1.ReasonEarlierRoundNotFinished},
		{name: "still waiting at its deadline", plan: Plan{Wait: waitRunning}, now: t0.Add(17 * time.Hour),
			wantPhase: sweepv1alpha1.RoundDeadlineExceeded, wantReason: sweepv1alpha1.ReasonDeadlinePassed},
		{name: "nobody to mop up", plan: Plan{Fixed: true}, now: t0.Add(14 * time.Hour),
			wantPhase: sweepv1alpha1.RoundCompleted, wantReason: sweepv1alpha1.ReasonNothingToMopUp},
		{name: "a fixed plan still being expanded", plan: Plan{Fixed: true, Unplanned: 3}, now: t0.Add(14 * time.Hour),
			wantPhase: sweepv1alpha1.RoundRunning, wantReason: sweepv1alpha1.ReasonSweeping},
		{name: "sweeping its buildings", jobs: []*sweepv1alpha1.CollectionJob{mj}, plan: Plan{Fixed: true}, now: t0.Add(14 * time.Hour),
			wantPhase: sweepv1alpha1.RoundRunning, wantReason: sweepv1alpha1.ReasonSweeping},
		{name: "every building finished", jobs: []*sweepv1alpha1.CollectionJob{done}, plan: Plan{Fixed: true}, now: t0.Add(15 * time.Hour),
			wantPhase: sweepv1alpha1.RoundCompleted, wantReason: sweepv1alpha1.ReasonAllBuildingsFinished},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := StatusOf(m, tc.jobs, tc.plan, tc.now)
			c := meta.FindStatusCondition(st.Conditions, sweepv1alpha1.ConditionProgressing)
			if st.Phase != tc.wantPhase || c == nil || c.Reason != tc.wantReason {
				t.Fatalf("phase %s, Progressing %+v; want %s with reason %s", st.Phase, c, tc.wantPhase, tc.wantReason)
			}
			if tc.plan.Wait != nil && st.Phase == sweepv1alpha1.RoundPending && tc.wantReason == tc.plan.Wait.Reason && c.Message != tc.plan.Wait.Message {
				t.Fatalf("message %q, want the wait's", c.Message)
			}
			if st.Phase == sweepv1alpha1.RoundDeadlineExceeded {
				if d := meta.FindStatusCondition(st.Conditions, sweepv1alpha1.ConditionDeadlineExceeded); d == nil || !strings.Contains(d.Message, "still waited") {
					t.Fatalf("DeadlineExceeded %+v does not say the round was still waiting", d)
				}
			}
			res := st.Residents
			if res.Expected != res.Sampled+res.Outstanding+res.Missed {
				t.Fatalf("expected %d != sampled %d + outstanding %d + missed %d", res.Expected, res.Sampled, res.Outstanding, res.Missed)
			}
			if st.Phase == sweepv1alpha1.RoundRunning && st.StartTime == nil || st.Phase == sweepv1alpha1.RoundPending && st.StartTime != nil {
				t.Fatalf("phase %s with startTime %v", st.Phase, st.StartTime)
			}
		})
	}
	// Without a plan (Phase, Status) a round selecting nothing waits for
	// buildings to match: only a mop-up's fixed plan completes empty.
	if p := Phase(m, nil, 0, t0.Add(14*time.Hour)); p != sweepv1alpha1.RoundRunning {
		t.Fatalf("phase %s", p)
	}
}

func TestMopUpEvents(t *testing.T) {
	main, m := mainAndMopUp(sweepv1alpha1.RoundCompleted)
	_ = main
	waiting := StatusOf(m, nil, Plan{Wait: &Wait{sweepv1alpha1.ReasonEarlierRoundNotFound, "Round r (spec.mopUpOf) does not exist"}}, t0.Add(14*time.Hour))
	ev := Events(m, &m.Status, &waiting)
	if len(ev) != 1 || ev[0].Reason != sweepv1alpha1.ReasonEarlierRoundNotFound || ev[0].Type != "Warning" || ev[0].Message != "Round r (spec.mopUpOf) does not exist" {
		t.Fatalf("events %+v", ev)
	}
	m.Status = waiting
	again := StatusOf(m, nil, Plan{Wait: &Wait{sweepv1alpha1.ReasonEarlierRoundNotFound, "Round r (spec.mopUpOf) does not exist"}}, t0.Add(15*time.Hour))
	if ev := Events(m, &m.Status, &again); len(ev) != 0 {
		t.Fatalf("the same wait again: events %+v", ev)
	}
	empty := StatusOf(m, nil, Plan{Fixed: true}, t0.Add(15*time.Hour))
	ev = Events(m, &m.Status, &empty)
	var reasons []string
	for _, e := range ev {
		reasons = append(reasons, e.Reason)
	}
	if !slices.Contains(reasons, sweepv1alpha1.ReasonNothingToMopUp) {
		t.Fatalf("events %v, want %s", reasons, sweepv1alpha1.ReasonNothingToMopUp)
	}
}

// FuzzMopUp builds a finished round from the fuzzer's bytes, mops it up,
// plays the mop-up's jobs to arbitrary states, and checks what the issue
// asks: one mop-up job per building with residents missed, expecting
// exactly the residents missed there and knocking exactly its missed
// households, and the mop-up round's status keeps expected = sampled +
// outstanding + missed.
func FuzzMopUp(f *testing.F) {
	f.Add([]byte{1, 0, 0x11, 9, 2, 1, 0x15, 30, 3, 2, 0x19, 4}, []byte{0x10, 3, 0x14, 0}, int64(14*3600), false)
	f.Add([]byte{7, 0, 0x83, 50, 14, 1, 0x95, 3, 21, 2, 0x19, 0}, []byte{}, int64(20*3600), true)
	f.Add([]byte{}, []byte{1}, int64(0), false)
	f.Fuzz(func(t *testing.T, world, play []byte, offset int64, suspend bool) {
		main, _, jobs, _ := fuzzWorld("r", 10, false, world)
		main.Status.Phase = sweepv1alpha1.RoundDeadlineExceeded
		finished := []sweepv1alpha1.JobPhase{sweepv1alpha1.JobCompleted, sweepv1alpha1.JobExpired, sweepv1alpha1.JobFailed}
		for i := range jobs {
			j := &jobs[i]
			j.Status.Phase = finished[i%len(finished)]
			for h := range int(j.Spec.Expected) % 5 {
				j.Status.MissedHouseholds = append(j.Status.MissedHouseholds, strings.Repeat("1", h+1)+"-101")
			}
		}
		_, m := mainAndMopUp(main.Status.Phase)
		m.Spec.Suspend = suspend
		earlier := ptrs(jobs)
		if w := MopUpWait(m, main, earlier, nil); w != nil {
			t.Fatalf("waits for a finished round: %+v", *w)
		}
		var mopUps []*sweepv1alpha1.CollectionJob
		for {
			chunk, _ := MopUpJobs(m, main, earlier, mopUps, 1+len(world)%3)
			if len(chunk) == 0 {
				break
			}
			mopUps = append(mopUps, chunk...)
		}
		byBuilding := map[string]*sweepv1alpha1.CollectionJob{}
		var expected int64
		for _, j := range mopUps {
			if byBuilding[j.Spec.Building] != nil {
				t.Fatalf("building %s has two mop-up jobs", j.Spec.Building)
			}
			byBuilding[j.Spec.Building] = j
			expected += int64(j.Spec.Expected)
		}
		for _, e := range earlier {
			mu := byBuilding[e.Spec.Building]
			switch {
			case MissedIn(e) == 0 && mu != nil:
				t.Fatalf("building %s missed nobody but is mopped up", e.Spec.Building)
			case MissedIn(e) > 0 && mu == nil:
				t.Fatalf("building %s missed %d but is not mopped up", e.Spec.Building, MissedIn(e))
			case mu != nil && (mu.Spec.Expected != MissedIn(e) || mu.Spec.MopUp.Job != e.Name || !slices.Equal(mu.Spec.MopUp.Households, e.Status.MissedHouseholds)):
				t.Fatalf("building %s: mop-up expects %d of %s knocking %v; the earlier job %s missed %d in %v",
					e.Spec.Building, mu.Spec.Expected, mu.Spec.MopUp.Job, mu.Spec.MopUp.Households, e.Name, MissedIn(e), e.Status.MissedHouseholds)
			}
		}
		if missed := StatusOf(main, earlier, Plan{}, t0.Add(12*time.Hour)).Residents.Missed; expected != missed {
			t.Fatalf("the mop-up expects %d residents, the round missed %d", expected, missed)
		}

		// Play the mop-up's jobs to whatever states the bytes say.
		in := &fuzzBytes{play}
		for _, j := range mopUps {
			st := in.next()
			j.Spec.Suspend = st&1 != 0
			j.Status.Phase = fuzzPhases[int(st>>1)%len(fuzzPhases)]
			j.Status.Sampled = int32(in.next()) - 20
		}
		now := t0.Add(time.Duration(offset%(48*3600)) * time.Second)
		st := StatusOf(m, mopUps, Plan{Fixed: true}, now)
		res := st.Residents
		if res.Expected != expected || res.Expected != res.Sampled+res.Outstanding+res.Missed {
			t.Fatalf("mop-up residents %+v: expected %d (want %d) != sampled + outstanding + missed", res, res.Expected, expected)
		}
		if res.Exempt != 0 || res.MissedByReason.Total() != res.Missed {
			t.Fatalf("mop-up residents %+v", res)
		}
		if len(mopUps) == 0 && now.After(m.Spec.Start.Time) && now.Before(m.Spec.Deadline.Time) && st.Phase != sweepv1alpha1.RoundCompleted {
			t.Fatalf("nothing to mop up, yet the mop-up is %s", st.Phase)
		}
	})
}
