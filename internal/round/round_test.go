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
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/event"
	"github.com/masstesting/sweep/internal/testobjects"
)

var t0 = time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)

func testRound(teams int32, order sweepv1alpha1.RoundOrder) *sweepv1alpha1.TestingRound {
	return testobjects.Round("ns", "r").WithUID("uid").Created(t0.Add(-time.Hour)).
		Start(t0).Deadline(t0.Add(12 * time.Hour)).Teams(teams).Order(order).PoolSize(10).Obj()
}

// ptrs points at each item, as the controller hands the cache's objects.
func ptrs[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

func job(building string, level sweepv1alpha1.ControlLevel, suspend bool, phase sweepv1alpha1.JobPhase, expected, sampled int32) sweepv1alpha1.CollectionJob {
	return *testobjects.Job("", "r-"+building).Building(building).Level(level).Suspend(suspend).Expected(expected).PoolSize(10).
		Phase(phase).Sampled(sampled).Obj()
}

func TestJobName(t *testing.T) {
	long := strings.Repeat("b", 80)
	cases := []struct {
		name       string
		round      string
		uid        types.UID
		building   string
		wantPrefix string
	}{
		{"short names are kept whole", "baoguo-1126", "u1", "xinjiang-7", "baoguo-1126-xinjiang-7-"},
		{"a long building is cut", "r", "u1", strings.Repeat("x", 80), "r-" + strings.Repeat("x", 37) + "-"},
		{"a long round is cut", strings.Repeat("r", 63), "u1", "b", strings.Repeat("r", 39) + "-"},
		{"a cut ending in '-' is trimmed", strings.Repeat("r", 38), "u1", "b", strings.Repeat("r", 38) + "-"},
		{"a cut ending in '.' is trimmed", "a." + strings.Repeat("r", 36) + ".x", "u1", "b", "a." + strings.Repeat("r", 36) + "-"},
		{"the longest names fit", strings.Repeat("a", 253), "u1", strings.Repeat("b", 253), strings.Repeat("a", 39) + "-"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := JobName(c.round, c.uid, c.building)
			if !strings.HasPrefix(n, c.wantPrefix) || len(n) != len(c.wantPrefix)+hashLength {
				t.Errorf("JobName(%q, %q, %q) = %q, want %q and a %d-digit hash", c.round, c.uid, c.building, n, c.wantPrefix, hashLength)
			}
			if len(n) > MaxJobNameLength {
				t.Errorf("%q is %d characters, more than %d", n, len(n), MaxJobNameLength)
			}
			// The longest visit Job name is at most 57 characters, so its
			// pods' generateName ("<visit Job>-", at most 58) is never cut
			// by the Job controller; and it is a valid label value.
			visit := n + "-v10-r2"
			if len(visit) > 57 || len(validation.IsDNS1123Subdomain(visit)) > 0 || len(validation.IsValidLabelValue(visit)) > 0 {
				t.Errorf("visit Job name %q (%d characters) is invalid or too long", visit, len(visit))
			}
			if JobName(c.round, c.uid, c.building) != n {
				t.Error("JobName is not deterministic")
			}
			if JobName(c.round, "u2", c.building) == n {
				t.Error("a round recreated under its name (new UID) gets the same job names")
			}
		})
	}

	// Names that the old "<round>-<building>" scheme joined into one.
	collisions := [][2][2]string{
		{{"a", "b-c"}, {"a-b", "c"}},
		{{"r", "1-2-3"}, {"r-1", "2-3"}},
		{{strings.Repeat("r", 40), long + "-1"}, {strings.Repeat("r", 40), long + "-2"}},
	}
	for _, c := range collisions {
		x := JobName(c[0][0], types.UID("uid-"+c[0][0]), c[0][1])
		y := JobName(c[1][0], types.UID("uid-"+c[1][0]), c[1][1])
		if x == y {
			t.Errorf("round %q building %q and round %q building %q share the name %q", c[0][0], c[0][1], c[1][0], c[1][1], x)
		}
	}

	// Long names are shortened, stay valid, and never collide because of
	// the cut: these share their first 80 characters.
	seen := map[string]string{}
	for i := range 5000 {
		b := fmt.Sprintf("%s-%d", long, i)
		n := JobName("round", "uid", b)
		if other, dup := seen[n]; dup {
			t.Fatalf("%q and %q both named %q", other, b, n)
		}
		seen[n] = b
	}
	if v := LabelValue(strings.Repeat("a", 100)); len(v) > 63 || len(validation.IsValidLabelValue(v)) > 0 {
		t.Errorf("LabelValue gave invalid %q", v)
	}
}

func TestControls(t *testing.T) {
	r := testRound(2, sweepv1alpha1.OrderName)
	ref := func(apiVersion, kind, name string, uid types.UID, controller bool) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: &controller}
	}
	gv := sweepv1alpha1.GroupVersion.String()
	cases := []struct {
		name string
		ns   string
		refs []metav1.OwnerReference
		want bool
	}{
		{"controlled by the round's UID", "ns", []metav1.OwnerReference{ref(gv, "TestingRound", "r", "uid", true)}, true},
		{"made by the round, found under another name", "ns", []metav1.OwnerReference{ref(gv, "TestingRound", "other", "uid", true)}, true},
		{"an earlier round of the same name", "ns", []metav1.OwnerReference{ref(gv, "TestingRound", "r", "old-uid", true)}, false},
		{"made by hand: the round's name, no UID", "ns", []metav1.OwnerReference{ref(gv, "TestingRound", "r", "", true)}, false},
		{"owned but not controlled", "ns", []metav1.OwnerReference{ref(gv, "TestingRound", "r", "uid", false)}, false},
		{"controlled by another kind with the UID", "ns", []metav1.OwnerReference{ref(gv, "TestingSchedule", "r", "uid", true)}, false},
		{"controlled by another group's TestingRound", "ns", []metav1.OwnerReference{ref("example.com/v1", "TestingRound", "r", "uid", true)}, false},
		{"in another namespace", "other", []metav1.OwnerReference{ref(gv, "TestingRound", "r", "uid", true)}, false},
		{"no owner", "ns", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := &sweepv1alpha1.CollectionJob{ObjectMeta: metav1.ObjectMeta{Name: JobName("r", "uid", "b"), Namespace: c.ns,
				Labels: map[string]string{sweepv1alpha1.LabelRound: "r"}, OwnerReferences: c.refs}}
			if got := Controls(r, j); got != c.want {
				t.Errorf("Controls = %v, want %v", got, c.want)
			}
			if got := len(Controlled(r, []sweepv1alpha1.CollectionJob{*j})) == 1; got != c.want {
				t.Errorf("Controlled keeps it: %v, want %v", got, c.want)
			}
		})
	}
	// A round not yet stored (no UID) controls nothing.
	noUID := r.DeepCopy()
	noUID.UID = ""
	orphan := &sweepv1alpha1.CollectionJob{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}}
	if Controls(noUID, orphan) {
		t.Error("a round without a UID controls a job without an owner")
	}
}

func TestMissingJobs(t *testing.T) {
	r := testRound(2, sweepv1alpha1.OrderSealedFirst)
	b := func(name string, level sweepv1alpha1.ControlLevel, residents, exempt, home int32) sweepv1alpha1.Building {
		return *testobjects.Building("", name).Label(sweepv1alpha1.LabelCommunity, "xinjiang").Label("other", "x").
			Residents(residents).Exempt(exempt).HomeVisit(home).Level(level).Households(40).Obj()
	}
	buildings := []sweepv1alpha1.Building{
		b("a", sweepv1alpha1.ControlLevelPrecaution, 100, 10, 3),
		b("b", sweepv1alpha1.ControlLevelSealed, 50, 0, 0),
		b("c", sweepv1alpha1.ControlLevelControlled, 70, 5, 2),
		b("d", sweepv1alpha1.ControlLevelSealed, 20, 1, 0),
	}
	existing := []sweepv1alpha1.CollectionJob{job("c", sweepv1alpha1.ControlLevelControlled, true, "", 65, 0)}
	got, left := MissingJobs(r, ptrs(buildings), ptrs(existing), 10)
	if left != 3 {
		t.Errorf("%d jobs missing, want 3", left)
	}
	var names []string
	for _, j := range got {
		names = append(names, j.Spec.Building)
	}
	if strings.Join(names, ",") != "b,d,a" {
		t.Fatalf("missing jobs = %v, want sealed first then by name: b,d,a", names)
	}
	a := got[2]
	if a.Name != JobName("r", "uid", "a") || a.Spec.Expected != 90 || a.Spec.Exempt != 10 || a.Spec.HomeVisit != 3 || !a.Spec.Suspend ||
		a.Spec.Round != "r" || a.Labels[sweepv1alpha1.LabelCommunity] != "xinjiang" || a.Labels["other"] != "" ||
		a.Labels[sweepv1alpha1.LabelRound] != "r" || metav1.GetControllerOf(a).UID != "uid" {
		t.Errorf("job a not built from its building and round: %+v", a)
	}
	if got, _ := MissingJobs(r, ptrs(buildings[:0]), ptrs(existing), 10); len(got) != 0 {
		t.Error("a building that stopped matching must keep its job and get no new one")
	}
	// A city round is planned a chunk at a time: the first in order first.
	first, left := MissingJobs(r, ptrs(buildings), ptrs(existing), 2)
	if len(first) != 2 || first[0].Spec.Building != "b" || first[1].Spec.Building != "d" || left != 3 {
		t.Errorf("a chunk of 2 = %d jobs, %d left; want b,d of 3", len(first), left)
	}
}

func TestAdmit(t *testing.T) {
	S, C, P := sweepv1alpha1.ControlLevelSealed, sweepv1alpha1.ControlLevelControlled, sweepv1alpha1.ControlLevelPrecaution
	cases := []struct {
		name    string
		teams   int32
		order   sweepv1alpha1.RoundOrder
		jobs    []sweepv1alpha1.CollectionJob
		pending []string
		want    string
	}{
		{"sealed first, then controlled, then by name", 3, sweepv1alpha1.OrderSealedFirst,
			[]sweepv1alpha1.CollectionJob{job("a", P, true, "", 1, 0), job("z", S, true, "", 1, 0), job("m", C, true, "", 1, 0), job("b", S, true, "", 1, 0)}, nil, "b,z,m"},
		{"by name", 2, sweepv1alpha1.OrderName,
			[]sweepv1alpha1.CollectionJob{job("z", S, true, "", 1, 0), job("a", P, true, "", 1, 0), job("m", C, true, "", 1, 0)}, nil, "a,m"},
		{"busy teams are not free", 3, sweepv1alpha1.OrderName,
			[]sweepv1alpha1.CollectionJob{job("a", P, false, sweepv1alpha1.JobActive, 1, 0), job("b", P, false, sweepv1alpha1.JobWaiting, 1, 0), job("c", P, true, "", 1, 0), job("d", P, true, "", 1, 0)}, nil, "c"},
		{"finished jobs free their team", 2, sweepv1alpha1.OrderName,
			[]sweepv1alpha1.CollectionJob{job("a", P, false, sweepv1alpha1.JobCompleted, 1, 1), job("b", P, false, sweepv1alpha1.JobExpired, 1, 0), job("c", P, false, sweepv1alpha1.JobFailed, 1, 0), job("d", P, true, "", 1, 0), job("e", P, true, "", 1, 0)}, nil, "d,e"},
		{"admissions the cache does not show yet hold a team", 2, sweepv1alpha1.OrderName,
			[]sweepv1alpha1.CollectionJob{job("a", P, true, "", 1, 0), job("b", P, true, "", 1, 0), job("c", P, true, "", 1, 0)}, []string{"r-a"}, "b"},
		{"teams lowered below busy admit nothing", 1, sweepv1alpha1.OrderName,
			[]sweepv1alpha1.CollectionJob{job("a", P, false, "", 1, 0), job("b", P, false, "", 1, 0), job("c", P, true, "", 1, 0)}, nil, ""},
		{"a queued job that already finished is not admitted", 2, sweepv1alpha1.OrderName,
			[]sweepv1alpha1.CollectionJob{job("a", P, true, sweepv1alpha1.JobExpired, 1, 0), job("b", P, true, "", 1, 0)}, nil, "b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var names []string
			for _, j := range Admit(testRound(c.teams, c.order), AsAdmitted(ptrs(c.jobs), sets.New(c.pending...))) {
				names = append(names, j.Spec.Building)
			}
			if got := strings.Join(names, ","); got != c.want {
				t.Errorf("admitted %q, want %q", got, c.want)
			}
		})
	}
}

func TestPhase(t *testing.T) {
	done := job("a", "", false, sweepv1alpha1.JobCompleted, 10, 10)
	busy := job("b", "", false, sweepv1alpha1.JobActive, 10, 3)
	expired := job("c", "", false, sweepv1alpha1.JobExpired, 10, 3)
	cases := []struct {
		name    string
		now     time.Time
		suspend bool
		old     sweepv1alpha1.RoundPhase
		jobs    []sweepv1alpha1.CollectionJob
		want    sweepv1alpha1.RoundPhase
		// unplanned: selected buildings without a job yet.
		unplanned int
	}{
		{"before start", t0.Add(-time.Minute), false, "", []sweepv1alpha1.CollectionJob{busy}, sweepv1alpha1.RoundPending, 0},
		{"running", t0, false, "", []sweepv1alpha1.CollectionJob{busy, done}, sweepv1alpha1.RoundRunning, 0},
		{"no buildings yet keeps running", t0, false, "", nil, sweepv1alpha1.RoundRunning, 0},
		{"suspended", t0.Add(time.Hour), true, "", []sweepv1alpha1.CollectionJob{busy}, sweepv1alpha1.RoundSuspended, 0},
		{"all finished", t0.Add(time.Hour), false, sweepv1alpha1.RoundRunning, []sweepv1alpha1.CollectionJob{done}, sweepv1alpha1.RoundCompleted, 0},
		{"all finished while suspended", t0.Add(time.Hour), true, sweepv1alpha1.RoundSuspended, []sweepv1alpha1.CollectionJob{done}, sweepv1alpha1.RoundCompleted, 0},
		{"deadline with buildings unfinished", t0.Add(12 * time.Hour), false, sweepv1alpha1.RoundRunning, []sweepv1alpha1.CollectionJob{busy, done}, sweepv1alpha1.RoundDeadlineExceeded, 0},
		// The jobs were written Expired at the deadline before the round's
		// own reconcile saw it: every one is finished, none completed in time.
		{"every job expired before the round saw the deadline", t0.Add(12 * time.Hour), false, sweepv1alpha1.RoundRunning, []sweepv1alpha1.CollectionJob{done, expired}, sweepv1alpha1.RoundDeadlineExceeded, 0},
		{"deadline while suspended", t0.Add(13 * time.Hour), true, sweepv1alpha1.RoundSuspended, []sweepv1alpha1.CollectionJob{busy}, sweepv1alpha1.RoundDeadlineExceeded, 0},
		{"completed stays completed", t0.Add(13 * time.Hour), false, sweepv1alpha1.RoundCompleted, []sweepv1alpha1.CollectionJob{busy}, sweepv1alpha1.RoundCompleted, 0},
		{"deadline exceeded stays", t0.Add(13 * time.Hour), false, sweepv1alpha1.RoundDeadlineExceeded, []sweepv1alpha1.CollectionJob{done}, sweepv1alpha1.RoundDeadlineExceeded, 0},
		{"every job finished but buildings still to create", t0.Add(time.Hour), false, sweepv1alpha1.RoundRunning, []sweepv1alpha1.CollectionJob{done}, sweepv1alpha1.RoundRunning, 1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := testRound(2, sweepv1alpha1.OrderSealedFirst)
			r.Spec.Suspend = c.suspend
			r.Status.Phase = c.old
			if got := Phase(r, ptrs(c.jobs), c.unplanned, c.now); got != c.want {
				t.Errorf("phase = %s, want %s", got, c.want)
			}
		})
	}
}

func TestStatusRollsUpJobs(t *testing.T) {
	r := testRound(2, sweepv1alpha1.OrderSealedFirst)
	r.Status.Phase = sweepv1alpha1.RoundRunning
	r.Status.StartTime = &metav1.Time{Time: t0}
	jobs := []sweepv1alpha1.CollectionJob{
		job("a", "", false, sweepv1alpha1.JobCompleted, 100, 97), // 3 missed
		job("b", "", false, sweepv1alpha1.JobActive, 50, 20),     // 30 outstanding
		job("c", "", true, "", 21, 0),                            // queued, 21 outstanding
		job("d", "", false, sweepv1alpha1.JobWaiting, 30, 25),    // 5 outstanding
		job("e", "", false, sweepv1alpha1.JobExpired, 9, 4),      // 5 missed
		job("f", "", false, "", 10, 0),                           // admitted, no phase yet: active
	}
	jobs[0].Spec.Exempt, jobs[0].Status.HomeVisited, jobs[0].Status.Tubes = 4, 2, 10
	jobs[1].Status.Tubes = 2
	// Missed by reason: a's reasons, e's without (unknown); b's are
	// outstanding, not missed.
	jobs[0].Status.NotSampledByReason = &sweepv1alpha1.MissedReasonCounts{NotHome: 2, Refused: 1}
	jobs[1].Status.NotSampledByReason = &sweepv1alpha1.MissedReasonCounts{Away: 30}
	now := t0.Add(2 * time.Hour)
	st := Status(r, ptrs(jobs), 0, now)

	wantB := sweepv1alpha1.BuildingCounts{Total: 6, Queued: 1, Active: 2, Waiting: 1, Completed: 1, Expired: 1}
	if st.Buildings != wantB {
		t.Errorf("buildings = %+v, want %+v", st.Buildings, wantB)
	}
	wantR := sweepv1alpha1.ResidentCounts{Expected: 220, Sampled: 146, Outstanding: 66, Missed: 8, Exempt: 4, HomeVisited: 2,
		MissedByReason: sweepv1alpha1.MissedReasonTotals{NotHome: 2, Refused: 1, Unknown: 5}}
	if st.Residents != wantR {
		t.Errorf("residents = %+v, want %+v", st.Residents, wantR)
	}
	if res := st.Residents; res.Expected != res.Sampled+res.Outstanding+res.Missed {
		t.Errorf("expected != sampled + outstanding + missed: %+v", res)
	}
	// ceil(100/10)+ceil(50/10)+ceil(21/10)+ceil(30/10)+ceil(9/10)+ceil(10/10)
	if st.Tubes.Forecast != 10+5+3+3+1+1 || st.Tubes.Used != 12 {
		t.Errorf("tubes = %+v", st.Tubes)
	}
	if st.BuildingProgress != "2/6" || st.ProgressPercent != 70 { // (220-66)*100/220
		t.Errorf("progress = %s, %d%%", st.BuildingProgress, st.ProgressPercent)
	}
	// 154 resolved in 2h, 66 left: 66/154*2h = 51m25s after now.
	elapsed := 2 * time.Hour
	wantETA := now.Add(time.Duration(float64(elapsed) * 66 / 154)).Truncate(time.Second)
	if st.EstimatedCompletionTime == nil || !st.EstimatedCompletionTime.Time.Equal(wantETA) {
		t.Errorf("eta = %v, want %v", st.EstimatedCompletionTime, wantETA)
	}
	for _, c := range []struct{ typ, status, reason string }{
		{sweepv1alpha1.ConditionProgressing, "True", sweepv1alpha1.ReasonSweeping},
		{sweepv1alpha1.ConditionComplete, "False", sweepv1alpha1.ReasonBuildingsUnfinished},
		{sweepv1alpha1.ConditionDeadlineExceeded, "False", sweepv1alpha1.ReasonBeforeDeadline},
	} {
		if !hasCondition(st, c.typ, c.status, c.reason) {
			t.Errorf("no condition %s=%s (%s) in %+v", c.typ, c.status, c.reason, st.Conditions)
		}
	}

	// A sampled count above expected (a bad report) never inflates the round.
	bad := []sweepv1alpha1.CollectionJob{job("x", "", false, sweepv1alpha1.JobCompleted, 10, 15)}
	if st := Status(r, ptrs(bad), 0, now); st.Residents.Sampled != 10 || st.Residents.Missed != 0 {
		t.Errorf("sampled above expected counted: %+v", st.Residents)
	}
}

// At the deadline every unfinished job counts as expired and its residents
// as missed, whether or not the job has written Expired yet: a building
// never admitted has no timer of its own and used to stay outstanding until
// a resync hours later.
func TestStatusAtTheDeadline(t *testing.T) {
	jobs := []sweepv1alpha1.CollectionJob{
		job("a", "", false, sweepv1alpha1.JobCompleted, 10, 10),
		job("b", "", false, sweepv1alpha1.JobWaiting, 10, 6),
		job("c", "", true, "", 10, 0), // never admitted
		job("d", "", false, sweepv1alpha1.JobExpired, 10, 3),
	}
	cases := []struct {
		name       string
		now        time.Time
		deadline   time.Time
		wantB      sweepv1alpha1.BuildingCounts
		wantMissed int64
		wantOutst  int64
		wantPhase  sweepv1alpha1.RoundPhase
	}{
		{"before the deadline", t0.Add(time.Hour), t0.Add(2 * time.Hour),
			sweepv1alpha1.BuildingCounts{Total: 4, Queued: 1, Waiting: 1, Completed: 1, Expired: 1}, 7, 14, sweepv1alpha1.RoundRunning},
		{"at the deadline", t0.Add(2 * time.Hour), t0.Add(2 * time.Hour),
			sweepv1alpha1.BuildingCounts{Total: 4, Completed: 1, Expired: 3}, 21, 0, sweepv1alpha1.RoundDeadlineExceeded},
		{"after it", t0.Add(3 * time.Hour), t0.Add(2 * time.Hour),
			sweepv1alpha1.BuildingCounts{Total: 4, Completed: 1, Expired: 3}, 21, 0, sweepv1alpha1.RoundDeadlineExceeded},
		{"the deadline moved later before it passed: outstanding", t0.Add(time.Hour), t0.Add(4 * time.Hour),
			sweepv1alpha1.BuildingCounts{Total: 4, Queued: 1, Waiting: 1, Completed: 1, Expired: 1}, 7, 14, sweepv1alpha1.RoundRunning},
		{"the deadline moved later after the round exceeded it: still over", t0.Add(3 * time.Hour), t0.Add(4 * time.Hour),
			sweepv1alpha1.BuildingCounts{Total: 4, Completed: 1, Expired: 3}, 21, 0, sweepv1alpha1.RoundDeadlineExceeded},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := testRound(2, sweepv1alpha1.OrderName)
			r.Status.Phase = sweepv1alpha1.RoundRunning
			if c.wantPhase == sweepv1alpha1.RoundDeadlineExceeded && c.now.Before(c.deadline) {
				r.Status.Phase = sweepv1alpha1.RoundDeadlineExceeded // exceeded before the edit
			}
			r.Spec.Deadline = metav1.Time{Time: c.deadline}
			st := Status(r, ptrs(jobs), 0, c.now)
			if st.Buildings != c.wantB {
				t.Errorf("buildings = %+v, want %+v", st.Buildings, c.wantB)
			}
			if st.Residents.Missed != c.wantMissed || st.Residents.Outstanding != c.wantOutst || st.Residents.Sampled != 19 {
				t.Errorf("residents = %+v, want missed %d, outstanding %d, sampled 19", st.Residents, c.wantMissed, c.wantOutst)
			}
			if st.Phase != c.wantPhase {
				t.Errorf("phase %s, want %s", st.Phase, c.wantPhase)
			}
		})
	}
}

func TestStatusConditionsAndEvents(t *testing.T) {
	r := testRound(2, sweepv1alpha1.OrderSealedFirst)

	// No building selected: a condition and a warning that say so.
	st := Status(r, nil, 0, t0)
	if !hasCondition(st, sweepv1alpha1.ConditionProgressing, "False", sweepv1alpha1.ReasonNoBuildingsSelected) {
		t.Errorf("no NoBuildingsSelected condition: %+v", st.Conditions)
	}
	if !hasEvent(Events(r, &r.Status, &st), sweepv1alpha1.ReasonNoBuildingsSelected) {
		t.Error("no NoBuildingsSelected event")
	}

	// Start, then a tenth of the buildings done, then completion.
	jobs := make([]sweepv1alpha1.CollectionJob, 10)
	for i := range jobs {
		jobs[i] = job(fmt.Sprint(i), "", false, sweepv1alpha1.JobActive, 10, 0)
	}
	started := Status(r, ptrs(jobs), 0, t0)
	if ev := Events(r, &r.Status, &started); !hasEvent(ev, "Started") {
		t.Errorf("no Started event: %+v", ev)
	}
	r.Status = started
	jobs[0].Status.Phase = sweepv1alpha1.JobCompleted
	tenth := Status(r, ptrs(jobs), 0, t0.Add(time.Minute))
	if ev := Events(r, &r.Status, &tenth); !hasEvent(ev, "Progress") || hasEvent(ev, "Started") {
		t.Errorf("want one Progress event at 10%%: %+v", ev)
	}
	if ev := Events(r, &tenth, &tenth); len(ev) != 0 {
		t.Errorf("an unchanged status made events: %+v", ev)
	}
	r.Status = tenth
	for i := range jobs {
		jobs[i].Status.Phase = sweepv1alpha1.JobCompleted
	}
	done := Status(r, ptrs(jobs), 0, t0.Add(time.Hour))
	if done.Phase != sweepv1alpha1.RoundCompleted || !hasCondition(done, sweepv1alpha1.ConditionComplete, "True", sweepv1alpha1.ReasonAllBuildingsFinished) || done.CompletionTime == nil {
		t.Errorf("not completed: %+v", done)
	}
	if ev := Events(r, &r.Status, &done); !hasEvent(ev, "Completed") || hasEvent(ev, "Progress") {
		t.Errorf("want Completed and no 100%% progress event: %+v", ev)
	}

	// A deadline already past at creation: nothing swept, a clear condition.
	late := testRound(2, sweepv1alpha1.OrderSealedFirst)
	late.CreationTimestamp = metav1.Time{Time: late.Spec.Deadline.Add(time.Minute)}
	lst := Status(late, nil, 0, late.CreationTimestamp.Time)
	if lst.Phase != sweepv1alpha1.RoundDeadlineExceeded || !hasCondition(lst, sweepv1alpha1.ConditionDeadlineExceeded, "True", sweepv1alpha1.ReasonDeadlineAlreadyPassed) {
		t.Errorf("late round: %+v", lst)
	}
	if !hasEvent(Events(late, &late.Status, &lst), sweepv1alpha1.ReasonDeadlineAlreadyPassed) {
		t.Error("no DeadlineAlreadyPassed event")
	}
	if Expanding(late, late.CreationTimestamp.Time) {
		t.Error("a round past its deadline still expands")
	}
}

// A drill's status says its results are simulated; a round from a
// registry says where they come from.
func TestStatusMarksSimulatedResults(t *testing.T) {
	for _, tc := range []struct {
		source sweepv1alpha1.SourceType
		status string
		reason string
	}{
		{sweepv1alpha1.SourceDrill, "True", sweepv1alpha1.ReasonDrillSource},
		{"", "True", sweepv1alpha1.ReasonDrillSource}, // stored before the source was required: runs the drill
		{sweepv1alpha1.SourceHTTP, "False", sweepv1alpha1.ReasonRecordedSource},
		{sweepv1alpha1.SourceCSV, "False", sweepv1alpha1.ReasonRecordedSource},
	} {
		r := testRound(2, sweepv1alpha1.OrderSealedFirst)
		r.Spec.Collector.Source = tc.source
		st := Status(r, nil, 0, t0)
		if !hasCondition(st, sweepv1alpha1.ConditionSimulated, tc.status, tc.reason) {
			t.Errorf("source %q: want Simulated=%s (%s), got %+v", tc.source, tc.status, tc.reason, st.Conditions)
		}
	}
}

func hasCondition(st sweepv1alpha1.TestingRoundStatus, typ, status, reason string) bool {
	for _, c := range st.Conditions {
		if c.Type == typ && string(c.Status) == status && c.Reason == reason && c.Message != "" {
			return true
		}
	}
	return false
}

func hasEvent(ev []event.Event, reason string) bool {
	for _, e := range ev {
		if e.Reason == reason {
			return true
		}
	}
	return false
}

func TestSelector(t *testing.T) {
	r := testRound(1, sweepv1alpha1.OrderName)
	some := labels.Set{sweepv1alpha1.LabelStreet: "baoguo"}
	if sel, err := Selector(r); err != nil || !sel.Matches(some) || !sel.Matches(labels.Set{}) {
		t.Errorf("an absent selector must select every building: %v, %v", sel, err)
	}
	r.Spec.BuildingSelector = &metav1.LabelSelector{}
	if sel, err := Selector(r); err != nil || !sel.Matches(some) {
		t.Errorf("an empty selector must select every building: %v, %v", sel, err)
	}
	r.Spec.BuildingSelector = &metav1.LabelSelector{MatchLabels: map[string]string{sweepv1alpha1.LabelStreet: "other"}}
	if sel, _ := Selector(r); sel.Matches(some) {
		t.Error("a selector for another street matched")
	}
}
