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
	"k8s.io/apimachinery/pkg/util/sets"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testobjects"
)

// retestJob is the retest of pooled tube tube in building: swabs expected,
// one per tube, with the CollectionJob invariant kept for its phase.
func retestJob(building, tube string, suspend bool, phase sweepv1alpha1.JobPhase, swabs, sampled int32) sweepv1alpha1.CollectionJob {
	name := "r-" + building + "-" + strings.ToLower(tube)
	j := *testobjects.Job("", name).Building(building).Suspend(suspend).Expected(swabs).PoolSize(1).
		Retest(name, tube, "1-101").Phase(phase).Sampled(sampled).Obj()
	withCounts(&j)
	return j
}

// withCounts sets outstanding and missed as the collection controller does.
func withCounts(j *sweepv1alpha1.CollectionJob) {
	switch j.Status.Phase {
	case "", sweepv1alpha1.JobQueued:
	case sweepv1alpha1.JobCompleted, sweepv1alpha1.JobExpired, sweepv1alpha1.JobFailed:
		j.Status.Missed = j.Spec.Expected - j.Status.Sampled
	default:
		j.Status.Outstanding = j.Spec.Expected - j.Status.Sampled
	}
}

// TestStatusWithRetests: the round's counts are its buildings' only. A
// retest (its pool's) is left out by SweepJobs, and the round keeps
// expected = sampled + outstanding + missed over the buildings.
func TestStatusWithRetests(t *testing.T) {
	C := sweepv1alpha1.JobCompleted
	cases := []struct {
		name      string
		jobs      []sweepv1alpha1.CollectionJob
		buildings int32
		expected  int64
		sampled   int64
	}{
		{"retests queued", []sweepv1alpha1.CollectionJob{job("a", "", false, C, 100, 100), job("b", "", true, "", 50, 0),
			retestJob("a", "P-1", true, "", 10, 0), retestJob("a", "P-2", true, "", 7, 0)}, 2, 150, 100},
		{"retests running and done", []sweepv1alpha1.CollectionJob{job("a", "", false, C, 100, 90), job("b", "", false, sweepv1alpha1.JobActive, 50, 20),
			retestJob("a", "P-1", false, sweepv1alpha1.JobActive, 10, 4), retestJob("b", "P-2", false, sweepv1alpha1.JobExpired, 7, 5)}, 2, 150, 110},
		{"only retests left running", []sweepv1alpha1.CollectionJob{job("a", "", false, C, 100, 100), job("b", "", false, C, 50, 50),
			retestJob("a", "P-1", false, sweepv1alpha1.JobWaiting, 10, 9)}, 2, 150, 150},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := range c.jobs {
				if !IsRetest(&c.jobs[i]) {
					withCounts(&c.jobs[i])
				}
			}
			jobs := ptrs(c.jobs)
			sweep := SweepJobs(jobs)
			for _, j := range sweep {
				if IsRetest(j) {
					t.Fatalf("SweepJobs kept retest %s", j.Name)
				}
			}
			if n := len(jobs) - len(sweep); n != countRetests(jobs) {
				t.Fatalf("SweepJobs dropped %d jobs, want the %d retests", n, countRetests(jobs))
			}
			r := testRound(2, sweepv1alpha1.OrderSealedFirst)
			r.Status.Phase, r.Status.StartTime = sweepv1alpha1.RoundRunning, &metav1.Time{Time: t0}
			st := Status(r, sweep, 0, t0.Add(time.Hour))
			res := st.Residents
			if st.Buildings.Total != c.buildings || res.Expected != c.expected || res.Sampled != c.sampled {
				t.Errorf("buildings %+v residents %+v, want %d buildings, %d expected, %d sampled", st.Buildings, res, c.buildings, c.expected, c.sampled)
			}
			if res.Expected != res.Sampled+res.Outstanding+res.Missed {
				t.Errorf("expected %d != sampled %d + outstanding %d + missed %d", res.Expected, res.Sampled, res.Outstanding, res.Missed)
			}
			// Each retest on its own: expected (its pool's swabs) =
			// sampled + outstanding + missed once admitted.
			for _, j := range jobs {
				if s := j.Status; IsRetest(j) && s.Phase != "" && s.Sampled+s.Outstanding+s.Missed != j.Spec.Expected {
					t.Errorf("retest %s: %d + %d + %d != %d", j.Name, s.Sampled, s.Outstanding, s.Missed, j.Spec.Expected)
				}
			}
		})
	}
}

func countRetests(jobs []*sweepv1alpha1.CollectionJob) int {
	n := 0
	for _, j := range jobs {
		if IsRetest(j) {
			n++
		}
	}
	return n
}

func TestPoolCounts(t *testing.T) {
	pool := func(phase sweepv1alpha1.PositivePoolPhase, result time.Time, seal ...string) *sweepv1alpha1.PositivePool {
		return testobjects.Pool("", "").ResultTime(result).Phase(phase).HouseholdsToSeal(seal...).Obj()
	}
	h1, h2, h3 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour)
	cases := []struct {
		name  string
		pools []*sweepv1alpha1.PositivePool
		want  *sweepv1alpha1.PoolCounts
	}{
		{"no pools: nothing", nil, nil},
		{"a new pool with no phase yet is open", []*sweepv1alpha1.PositivePool{pool("", h2)},
			&sweepv1alpha1.PoolCounts{Open: 1, OldestOpenResultTime: &metav1.Time{Time: h2}}},
		{"every phase; the oldest open or retesting pool", []*sweepv1alpha1.PositivePool{
			pool(sweepv1alpha1.PoolRetesting, h2, "1-101"), pool(sweepv1alpha1.PoolOpen, h3),
			pool(sweepv1alpha1.PoolAwaitingResults, h1, "2-202", "2-203"), pool(sweepv1alpha1.PoolResolved, t0, "3-301"),
			pool(sweepv1alpha1.PoolResolved, t0)},
			&sweepv1alpha1.PoolCounts{Open: 1, Retesting: 1, AwaitingResults: 1, Resolved: 2, HouseholdsToSeal: 4,
				OldestOpenResultTime: &metav1.Time{Time: h2}}},
		{"all resolved: no oldest open", []*sweepv1alpha1.PositivePool{pool(sweepv1alpha1.PoolResolved, t0, "1-101", "1-102")},
			&sweepv1alpha1.PoolCounts{Resolved: 1, HouseholdsToSeal: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := PoolCounts(c.pools)
			if (got == nil) != (c.want == nil) || got != nil && !poolCountsEqual(got, c.want) {
				t.Errorf("PoolCounts = %+v, want %+v", got, c.want)
			}
			if got != nil && int(got.Open+got.Retesting+got.AwaitingResults+got.Resolved) != len(c.pools) {
				t.Errorf("phases add up to %d, want %d pools", got.Open+got.Retesting+got.AwaitingResults+got.Resolved, len(c.pools))
			}
			if PoolsUnresolved(got) != (got != nil && got.Resolved != int32(len(c.pools))) {
				t.Errorf("PoolsUnresolved(%+v) = %t", got, PoolsUnresolved(got))
			}
		})
	}
}

func poolCountsEqual(a, b *sweepv1alpha1.PoolCounts) bool {
	x, y := *a, *b
	x.OldestOpenResultTime, y.OldestOpenResultTime = nil, nil
	if x != y || (a.OldestOpenResultTime == nil) != (b.OldestOpenResultTime == nil) {
		return false
	}
	return a.OldestOpenResultTime == nil || a.OldestOpenResultTime.Equal(b.OldestOpenResultTime)
}

// TestAdmitRetestsFirst: a queued retest is admitted before every queued
// building, Sealed ones included, in both orders, without exceeding the
// teams; retests go in tube order.
func TestAdmitRetestsFirst(t *testing.T) {
	S, P := sweepv1alpha1.ControlLevelSealed, sweepv1alpha1.ControlLevelPrecaution
	for _, order := range []sweepv1alpha1.RoundOrder{sweepv1alpha1.OrderSealedFirst, sweepv1alpha1.OrderName} {
		cases := []struct {
			name  string
			teams int32
			jobs  []sweepv1alpha1.CollectionJob
			want  string
		}{
			{"a retest before a sealed building named first", 1, []sweepv1alpha1.CollectionJob{
				job("a", S, true, "", 10, 0), retestJob("z", "P-9", true, "", 10, 0)}, "r-z-p-9"},
			{"retests in tube order, then buildings", 3, []sweepv1alpha1.CollectionJob{
				job("a", S, true, "", 10, 0), retestJob("m", "P-2", true, "", 10, 0), job("b", P, true, "", 10, 0),
				retestJob("c", "P-1", true, "", 10, 0)}, "r-c-p-1,r-m-p-2,r-a"},
			{"busy teams, retests running, count", 3, []sweepv1alpha1.CollectionJob{
				job("a", S, false, sweepv1alpha1.JobActive, 10, 0), retestJob("b", "P-1", false, sweepv1alpha1.JobActive, 10, 0),
				retestJob("c", "P-2", true, "", 10, 0), job("d", S, true, "", 10, 0)}, "r-c-p-2"},
			{"no free team: the retest waits", 2, []sweepv1alpha1.CollectionJob{
				job("a", S, false, sweepv1alpha1.JobActive, 10, 0), job("b", S, false, sweepv1alpha1.JobWaiting, 10, 0),
				retestJob("c", "P-2", true, "", 10, 0)}, ""},
			{"a finished retest frees its team", 1, []sweepv1alpha1.CollectionJob{
				retestJob("b", "P-1", false, sweepv1alpha1.JobCompleted, 10, 10), job("a", S, true, "", 10, 0)}, "r-a"},
		}
		for _, c := range cases {
			t.Run(string(order)+"/"+c.name, func(t *testing.T) {
				var names []string
				for _, j := range Admit(testRound(c.teams, order), ptrs(c.jobs)) {
					names = append(names, j.Name)
				}
				if got := strings.Join(names, ","); got != c.want {
					t.Errorf("admitted %q, want %q", got, c.want)
				}
			})
		}
	}
}

// FuzzAdmitRetestsFirst: whatever the jobs, Admit never exceeds the free
// teams and never admits a building while a queued retest is left.
func FuzzAdmitRetestsFirst(f *testing.F) {
	f.Add(uint8(2), false, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add(uint8(5), true, []byte{9, 9, 1, 1, 0, 0, 17, 33, 65})
	f.Fuzz(func(t *testing.T, teams uint8, byName bool, spec []byte) {
		if len(spec) > 200 {
			spec = spec[:200]
		}
		order := sweepv1alpha1.OrderSealedFirst
		if byName {
			order = sweepv1alpha1.OrderName
		}
		levels := []sweepv1alpha1.ControlLevel{"", sweepv1alpha1.ControlLevelSealed, sweepv1alpha1.ControlLevelControlled, sweepv1alpha1.ControlLevelPrecaution}
		phases := []sweepv1alpha1.JobPhase{"", "", sweepv1alpha1.JobActive, sweepv1alpha1.JobWaiting, sweepv1alpha1.JobCompleted, sweepv1alpha1.JobExpired}
		jobs := make([]sweepv1alpha1.CollectionJob, len(spec))
		busy := 0
		for i, b := range spec {
			phase := phases[int(b>>1)%len(phases)]
			suspend := phase == "" && b&64 == 0
			building := fmt.Sprintf("b-%03d", (int(b)*7+i)%97)
			if b&1 == 1 {
				jobs[i] = retestJob(building, fmt.Sprintf("P-%d", i), suspend, phase, 10, 0)
			} else {
				jobs[i] = job(building, levels[int(b>>4)%len(levels)], suspend, phase, 10, 0)
				jobs[i].Name = fmt.Sprintf("r-%s-%d", building, i)
			}
			if HoldsTeam(&jobs[i]) {
				busy++
			}
		}
		r := testRound(int32(teams%10), order)
		got := Admit(r, ptrs(jobs))
		if len(got) > max(int(r.Spec.Teams)-busy, 0) {
			t.Fatalf("admitted %d with %d teams and %d busy", len(got), r.Spec.Teams, busy)
		}
		admitted := sets.New[string]()
		building := false
		for _, j := range got {
			admitted.Insert(j.Name)
			if !j.Spec.Suspend || j.Status.Phase.Finished() {
				t.Fatalf("admitted %s, which was not queued", j.Name)
			}
			if IsRetest(j) && building {
				t.Fatalf("retest %s admitted after a building", j.Name)
			}
			building = building || !IsRetest(j)
		}
		if building {
			for i := range jobs {
				if j := &jobs[i]; IsRetest(j) && j.Spec.Suspend && !j.Status.Phase.Finished() && !admitted.Has(j.Name) {
					t.Fatalf("a building admitted while retest %s waits", j.Name)
				}
			}
		}
	})
}
