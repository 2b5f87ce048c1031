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
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testobjects"
)

// decided is what a table case compares of a Decision: the writes, the
// phase and counts, what people hear, and when to look again.
type decided struct {
	Create   []string // name, and "+admitted" when created admitted
	Admit    []string
	Phase    sweepv1alpha1.RoundPhase
	Counts   sweepv1alpha1.BuildingCounts
	Warnings []string
	Events   []string
	Requeue  time.Duration
}

func summarize(d Decision) decided {
	s := decided{Phase: d.Status.Phase, Counts: d.Status.Buildings, Requeue: d.RequeueAfter}
	for _, j := range d.Create {
		name := j.Spec.Building
		if !j.Spec.Suspend {
			name += "+admitted"
		}
		s.Create = append(s.Create, name)
	}
	for _, j := range d.Admit {
		s.Admit = append(s.Admit, j.Spec.Building)
	}
	for _, e := range d.Warnings {
		s.Warnings = append(s.Warnings, e.Reason)
	}
	for _, e := range d.Events {
		s.Events = append(s.Events, e.Reason)
	}
	return s
}

func bldg(name string, level sweepv1alpha1.ControlLevel) *sweepv1alpha1.Building {
	return testobjects.Building("ns", name).Residents(10).Households(4).Level(level).Obj()
}

// jobOf is the job round r made for building b, in a given state.
func jobOf(r *sweepv1alpha1.TestingRound, b *sweepv1alpha1.Building, suspend bool, phase sweepv1alpha1.JobPhase) *sweepv1alpha1.CollectionJob {
	j := NewJob(r, b)
	j.Spec.Suspend = suspend
	j.Status.Phase = phase
	return j
}

func TestDecideTable(t *testing.T) {
	now := t0.Add(time.Hour)
	toDeadline := 11 * time.Hour
	running := func(teams int32) *sweepv1alpha1.TestingRound {
		r := testRound(teams, sweepv1alpha1.OrderSealedFirst)
		r.Status.Phase, r.Status.StartTime = sweepv1alpha1.RoundRunning, &metav1.Time{Time: t0}
		return r
	}
	a, b, c := bldg("a", sweepv1alpha1.ControlLevelPrecaution), bldg("b", sweepv1alpha1.ControlLevelSealed), bldg("c", sweepv1alpha1.ControlLevelControlled)
	cases := []struct {
		name string
		obs  func() Observed
		want decided
	}{{
		name: "a new round creates every job; those a team is free for are created admitted, sealed first",
		obs: func() Observed {
			return Observed{Round: testRound(2, sweepv1alpha1.OrderSealedFirst), Buildings: []*sweepv1alpha1.Building{a, b, c}, Room: 10, Now: now}
		},
		want: decided{Create: []string{"b+admitted", "c+admitted", "a"}, Phase: sweepv1alpha1.RoundRunning,
			Counts: sweepv1alpha1.BuildingCounts{}, Events: []string{"Started"}, Requeue: toDeadline},
	}, {
		name: "before its start every job is created queued, and the round wakes at the start",
		obs: func() Observed {
			return Observed{Round: testRound(2, sweepv1alpha1.OrderSealedFirst), Buildings: []*sweepv1alpha1.Building{a, b}, Room: 10, Now: t0.Add(-time.Minute)}
		},
		want: decided{Create: []string{"b", "a"}, Phase: sweepv1alpha1.RoundPending,
			Counts: sweepv1alpha1.BuildingCounts{}, Requeue: time.Minute},
	}, {
		name: "a city round creates what the pipeline has room for, admits nobody before its last jobs are planned, and looks again within a second if the pipeline does not wake it",
		obs: func() Observed {
			return Observed{Round: testRound(1, sweepv1alpha1.OrderName), Buildings: []*sweepv1alpha1.Building{a, b, c}, Room: 2, Now: now}
		},
		want: decided{Create: []string{"a", "b"}, Phase: sweepv1alpha1.RoundRunning,
			Counts: sweepv1alpha1.BuildingCounts{}, Events: []string{"Started"}, Requeue: time.Second},
	}, {
		name: "with its last batch a city round admits the queue in order, the new jobs created admitted",
		obs: func() Observed {
			r := running(2)
			return Observed{Round: r, Buildings: []*sweepv1alpha1.Building{a, b, c}, Room: 2, Now: now,
				Jobs: []*sweepv1alpha1.CollectionJob{jobOf(r, a, true, "")}}
		},
		want: decided{Create: []string{"b+admitted", "c+admitted"}, Phase: sweepv1alpha1.RoundRunning,
			Counts: sweepv1alpha1.BuildingCounts{Total: 1, Queued: 1}, Requeue: toDeadline},
	}, {
		name: "a finished building frees its team: the next queued one is admitted in memory",
		obs: func() Observed {
			r := running(1)
			return Observed{Round: r, Buildings: []*sweepv1alpha1.Building{a, b, c}, Room: 10, Now: now, Jobs: []*sweepv1alpha1.CollectionJob{
				jobOf(r, b, false, sweepv1alpha1.JobCompleted), jobOf(r, c, true, ""), jobOf(r, a, true, "")}}
		},
		want: decided{Admit: []string{"c"}, Phase: sweepv1alpha1.RoundRunning,
			Counts: sweepv1alpha1.BuildingCounts{Total: 3, Completed: 1, Active: 1, Queued: 1}, Events: []string{"Progress"}, Requeue: toDeadline},
	}, {
		name: "a job admitted in memory (an admitted copy) or shown admitted by its status holds its team",
		obs: func() Observed {
			r := running(2)
			return Observed{Round: r, Buildings: []*sweepv1alpha1.Building{a, b, c}, Room: 10, Now: now, Jobs: []*sweepv1alpha1.CollectionJob{
				jobOf(r, b, false, ""), jobOf(r, c, true, sweepv1alpha1.JobWaiting), jobOf(r, a, true, "")}}
		},
		want: decided{Phase: sweepv1alpha1.RoundRunning,
			Counts: sweepv1alpha1.BuildingCounts{Total: 3, Active: 1, Waiting: 1, Queued: 1}, Requeue: toDeadline},
	}, {
		name: "a job created admitted whose create is in flight holds its team, and the status counts only jobs that exist",
		obs: func() Observed {
			r := running(1)
			inFlight := jobOf(r, b, false, "")
			return Observed{Round: r, Buildings: []*sweepv1alpha1.Building{a, b}, Room: 10, Now: now,
				Jobs: []*sweepv1alpha1.CollectionJob{jobOf(r, a, true, ""), inFlight}, Creating: sets.New(inFlight.Name)}
		},
		want: decided{Phase: sweepv1alpha1.RoundRunning,
			Counts: sweepv1alpha1.BuildingCounts{Total: 1, Queued: 1}, Requeue: time.Second},
	}, {
		name: "a round whose every existing job finished is not complete while a create is in flight, and admits nobody until it is answered",
		obs: func() Observed {
			r := running(2)
			inFlight := jobOf(r, b, true, "")
			return Observed{Round: r, Buildings: []*sweepv1alpha1.Building{a, b}, Room: 10, Now: now,
				Jobs: []*sweepv1alpha1.CollectionJob{jobOf(r, a, false, sweepv1alpha1.JobCompleted), inFlight}, Creating: sets.New(inFlight.Name)}
		},
		want: decided{Phase: sweepv1alpha1.RoundRunning,
			Counts: sweepv1alpha1.BuildingCounts{Total: 1, Completed: 1}, Requeue: time.Second},
	}, {
		name: "a suspended round admits nothing, new jobs included",
		obs: func() Observed {
			r := running(2)
			r.Spec.Suspend = true
			return Observed{Round: r, Buildings: []*sweepv1alpha1.Building{a, b}, Room: 10, Now: now, Jobs: []*sweepv1alpha1.CollectionJob{jobOf(r, a, true, "")}}
		},
		want: decided{Create: []string{"b"}, Phase: sweepv1alpha1.RoundSuspended,
			Counts: sweepv1alpha1.BuildingCounts{Total: 1, Queued: 1}, Events: []string{"Suspended"}, Requeue: toDeadline},
	}, {
		name: "past the deadline nothing is created or admitted, and queued buildings count expired",
		obs: func() Observed {
			r := running(2)
			return Observed{Round: r, Buildings: []*sweepv1alpha1.Building{a, b}, Room: 10, Now: t0.Add(13 * time.Hour), Jobs: []*sweepv1alpha1.CollectionJob{jobOf(r, a, true, "")}}
		},
		want: decided{Phase: sweepv1alpha1.RoundDeadlineExceeded,
			Counts: sweepv1alpha1.BuildingCounts{Total: 1, Expired: 1}, Events: []string{"DeadlineExceeded"}},
	}, {
		name: "a building whose job's name another object holds is not planned again while held: the round is not complete, and looks again in 30s",
		obs: func() Observed {
			r := running(2)
			return Observed{Round: r, Buildings: []*sweepv1alpha1.Building{a, b}, Room: 10, NamesTaken: sets.New("b"), Now: now, Jobs: []*sweepv1alpha1.CollectionJob{jobOf(r, a, false, sweepv1alpha1.JobCompleted)}}
		},
		want: decided{Phase: sweepv1alpha1.RoundRunning,
			Counts: sweepv1alpha1.BuildingCounts{Total: 1, Completed: 1}, Requeue: NameTakenRetry},
	}, {
		name: "a building whose job the API server refused as invalid is not planned again while held, and the round does not wait for it",
		obs: func() Observed {
			r := running(2)
			return Observed{Round: r, Buildings: []*sweepv1alpha1.Building{a, b}, Room: 10, Refused: sets.New("b"), Now: now, Jobs: []*sweepv1alpha1.CollectionJob{jobOf(r, a, false, sweepv1alpha1.JobCompleted)}}
		},
		want: decided{Phase: sweepv1alpha1.RoundCompleted,
			Counts: sweepv1alpha1.BuildingCounts{Total: 1, Completed: 1}, Events: []string{"Completed"}},
	}, {
		name: "a selector the API server cannot read is said once per reconcile; nothing is created",
		obs: func() Observed {
			return Observed{Round: running(2), SelectorError: errors.New("bad operator"), Room: 10, Now: now}
		},
		want: decided{Phase: sweepv1alpha1.RoundRunning, Warnings: []string{"InvalidSelector"}, Events: []string{"NoBuildingsSelected"}, Requeue: toDeadline},
	}, {
		name: "a mop-up round waits for the round it mops up to finish",
		obs: func() Observed {
			r := testRound(2, sweepv1alpha1.OrderSealedFirst)
			r.Spec.MopUpOf = "earlier"
			earlier := testobjects.Round("ns", "earlier").WithUID("uid-earlier").Phase(sweepv1alpha1.RoundRunning).Obj()
			return Observed{Round: r, Earlier: earlier, Room: 10, Now: now}
		},
		want: decided{Phase: sweepv1alpha1.RoundPending, Events: []string{"EarlierRoundNotFinished"}, Requeue: toDeadline},
	}, {
		name: "a positive pool's retest is admitted after the round's own sweep is over",
		obs: func() Observed {
			r := running(1)
			r.Status.Phase = sweepv1alpha1.RoundCompleted
			retest := jobOf(r, a, true, "")
			retest.Name, retest.Spec.Retest = "retest", &sweepv1alpha1.RetestSpec{Pool: "p", Tube: "t1", Households: []string{"1-101"}}
			return Observed{Round: r, Room: 10, Now: now, Jobs: []*sweepv1alpha1.CollectionJob{jobOf(r, a, false, sweepv1alpha1.JobCompleted), retest}}
		},
		want: decided{Admit: []string{"a"}, Phase: sweepv1alpha1.RoundCompleted,
			Counts: sweepv1alpha1.BuildingCounts{Total: 1, Completed: 1}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := summarize(Decide(tc.obs()))
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

// withoutJob counts the buildings, not being deleted, that have no job.
func withoutJob(buildings []sweepv1alpha1.Building, perBuilding map[string]int) int {
	n := 0
	for i := range buildings {
		if buildings[i].DeletionTimestamp == nil && perBuilding[buildings[i].Name] == 0 {
			n++
		}
	}
	return n
}

// FuzzDecide checks what every decision must hold, whatever the round's
// world: the team bound, one job per building, at most a batch of creates,
// the input never changed, and counts that add up.
func FuzzDecide(f *testing.F) {
	f.Add("r", int32(2), false, uint8(3), int64(60), []byte{1, 0, 1, 0, 2, 1, 3, 9, 3, 2, 0, 4})
	f.Add("baoguo-1126", int32(1), true, uint8(0), int64(-5), []byte{7, 0, 0x83, 50, 14, 1, 0x81, 3, 21, 2, 3, 0})
	f.Add("r", int32(3), false, uint8(100), int64(800), []byte{9, 1, 0x8b, 4, 10, 2, 0x87, 4, 11, 0, 0, 0, 12, 3, 0x8f, 1})
	f.Fuzz(func(t *testing.T, roundName string, teams int32, byName bool, batch uint8, minutes int64, data []byte) {
		if errs := validation.IsDNS1123Subdomain(roundName); len(errs) > 0 || len(roundName) > 63 {
			t.Skip("not a DNS-1123 round name: the API server rejects it, so the controller never sees it")
		}
		teams = max(teams%200, 0)
		r, buildings, jobs, pending := fuzzWorld(roundName, teams, byName, data)
		// What the controller hands Decide: admissions not yet shown as
		// admitted copies.
		in := AsAdmitted(ptrs(jobs), pending)
		before := make([]sweepv1alpha1.CollectionJob, len(in))
		busyBefore := 0
		for i, j := range in {
			before[i] = *j.DeepCopy()
			if HoldsTeam(j) {
				busyBefore++
			}
		}
		now := t0.Add(time.Duration(minutes%(24*60)) * time.Minute)
		// Some jobs are still being created when batch is odd.
		var creating sets.Set[string]
		if batch%2 == 1 {
			creating = sets.New[string]()
			for i, j := range in {
				if i%3 == 0 {
					creating.Insert(j.Name)
				}
			}
		}
		d := Decide(Observed{Round: r, Jobs: in, Creating: creating, Buildings: ptrs(buildings), Room: int(batch % 20), Now: now})

		for i, j := range in {
			if diff := cmp.Diff(before[i], *j); diff != "" {
				t.Fatalf("Decide changed job %s it was given:\n%s", j.Name, diff)
			}
		}
		if len(d.Create) > int(batch%20) {
			t.Fatalf("%d jobs created with a batch of %d", len(d.Create), batch%20)
		}
		perBuilding := map[string]int{}
		for _, j := range append(SweepJobs(in), d.Create...) {
			perBuilding[j.Spec.Building]++
			if perBuilding[j.Spec.Building] > 1 {
				t.Fatalf("building %s has two jobs", j.Spec.Building)
			}
		}
		busy := 0
		for _, j := range append(append([]*sweepv1alpha1.CollectionJob{}, in...), d.Create...) {
			if HoldsTeam(j) {
				busy++
			}
		}
		busy += len(d.Admit)
		if busy > max(int(teams), busyBefore) {
			t.Fatalf("%d jobs hold a team after the decision, teams %d (%d before)", busy, teams, busyBefore)
		}
		for _, j := range d.Admit {
			if Admitted(j) || j.Status.Phase.Finished() {
				t.Fatalf("admitted %s, which was admitted or finished already", j.Name)
			}
		}
		if (len(d.Admit) > 0 || anyAdmitted(d.Create)) && d.Status.Phase != sweepv1alpha1.RoundRunning && !RetestsWaiting(in) {
			t.Fatalf("admitted in phase %s", d.Status.Phase)
		}
		if anyAdmitted(d.Create) && withoutJob(buildings, perBuilding) > 0 {
			t.Fatal("jobs created admitted while buildings are still to be planned")
		}
		if d.Status.Phase == sweepv1alpha1.RoundRunning && creating.Len() > 0 && (len(d.Admit) > 0 || anyAdmitted(d.Create)) {
			t.Fatal("admitted while creates are in flight")
		}
		// The status counts the jobs that exist: not those being created.
		existing := 0
		for _, j := range SweepJobs(in) {
			if !creating.Has(j.Name) {
				existing++
			}
		}
		b := d.Status.Buildings
		if b.Total != int32(existing) || b.Queued+b.Active+b.Waiting+b.Completed+b.Expired+b.Failed != b.Total {
			t.Fatalf("building counts %+v do not add up for %d existing jobs", b, existing)
		}
		if d.RequeueAfter < 0 {
			t.Fatalf("requeue after %v", d.RequeueAfter)
		}
	})
}

func anyAdmitted(jobs []*sweepv1alpha1.CollectionJob) bool {
	for _, j := range jobs {
		if !j.Spec.Suspend {
			return true
		}
	}
	return false
}
