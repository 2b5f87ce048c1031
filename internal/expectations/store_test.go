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

package expectations

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testobjects"
)

var roundKey = types.NamespacedName{Namespace: "district", Name: "today"}

func job(name string, uid types.UID) *testobjects.JobWrapper {
	return testobjects.Job("district", name).UID(uid)
}

func TestAdmissionsHoldUntilTheAPIShowsThem(t *testing.T) {
	queued := job("a", "uid-a").Suspend(true).Obj()
	cases := []struct {
		name string
		// seen is the job as the round reads it after the admission.
		seen *sweepv1alpha1.CollectionJob
		want []string
	}{
		{"still queued in the cache: holds its team", queued, []string{"a"}},
		{"first status write seen (visit under way)", job("a", "uid-a").Suspend(true).Phase(sweepv1alpha1.JobActive).Obj(), nil},
		{"first status write seen (waiting for a re-knock)", job("a", "uid-a").Suspend(true).Phase(sweepv1alpha1.JobWaiting).Obj(), nil},
		{"finished in one go", job("a", "uid-a").Suspend(true).Phase(sweepv1alpha1.JobCompleted).Obj(), nil},
		{"deleted and created again under its name", job("a", "uid-other").Suspend(true).Obj(), nil},
		{"gone", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var s Store
			var told []types.NamespacedName
			s.OnAdmit(func(keys []types.NamespacedName) { told = append(told, keys...) })
			s.Admit(roundKey, []*sweepv1alpha1.CollectionJob{queued})
			if diff := cmp.Diff([]types.NamespacedName{{Namespace: "district", Name: "a"}}, told); diff != "" {
				t.Errorf("told of admissions (-want +got):\n%s", diff)
			}
			var jobs []*sweepv1alpha1.CollectionJob
			if tc.seen != nil {
				jobs = append(jobs, tc.seen)
			}
			got := sets.List(s.Admissions(roundKey, jobs))
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("admissions not yet shown (-want +got):\n%s", diff)
			}
			// Once the API shows it (or it is gone), the memory is freed
			// for good: the collection controller no longer starts it
			// from memory.
			if len(tc.want) == 0 && s.IsAdmitted(queued) {
				t.Error("an admission the API shows is still remembered")
			}
			if len(tc.want) == 1 && !s.IsAdmitted(queued) {
				t.Error("the collection controller does not see the admission")
			}
		})
	}
}

func TestAdmissionIsOneJobNotAName(t *testing.T) {
	var s Store
	s.Admit(roundKey, []*sweepv1alpha1.CollectionJob{job("a", "uid-a").Suspend(true).Obj()})
	if s.IsAdmitted(job("a", "uid-new").Suspend(true).Obj()) {
		t.Error("a job created again under an admitted name is admitted too")
	}
	// Found already created after a restart, with no UID known: by name.
	s.Admit(roundKey, []*sweepv1alpha1.CollectionJob{job("b", "").Suspend(true).Obj()})
	if !s.IsAdmitted(job("b", "uid-b").Suspend(true).Obj()) {
		t.Error("a job admitted before its UID was known is not admitted")
	}
	other := types.NamespacedName{Namespace: "district", Name: "yesterday"}
	if got := s.Admissions(other, []*sweepv1alpha1.CollectionJob{job("a", "uid-a").Suspend(true).Obj()}); got.Len() != 0 {
		t.Errorf("another round counts this round's admissions: %v", sets.List(got))
	}
	s.ForgetRound(roundKey)
	if s.IsAdmitted(job("b", "uid-b").Suspend(true).Obj()) {
		t.Error("admissions of a deleted round are kept")
	}
}

func TestUnseenJobsCountUntilCached(t *testing.T) {
	var s Store
	a, b := job("a", "uid-a").Obj(), job("b", "uid-b").Obj()
	s.Created(roundKey, []*sweepv1alpha1.CollectionJob{a, b})
	keepAll := func(*sweepv1alpha1.CollectionJob) bool { return true }
	if got := s.WithUnseen(roundKey, nil, keepAll); len(got) != 2 {
		t.Fatalf("got %d jobs before the cache shows any, want the 2 created", len(got))
	}
	if got := s.WithUnseen(roundKey, []*sweepv1alpha1.CollectionJob{a}, keepAll); len(got) != 2 {
		t.Fatalf("got %d jobs with one cached, want 2 (no double count)", len(got))
	}
	if got := s.WithUnseen(roundKey, []*sweepv1alpha1.CollectionJob{a}, func(j *sweepv1alpha1.CollectionJob) bool { return j.Name != "b" }); len(got) != 1 {
		t.Fatalf("got %d jobs, want the created job that is not the round's dropped", len(got))
	}
	if got := s.WithUnseen(roundKey, nil, keepAll); len(got) != 0 {
		t.Fatalf("a dropped or seen created job comes back: %d", len(got))
	}
	s.Created(roundKey, []*sweepv1alpha1.CollectionJob{b})
	s.JobDeleted(roundKey, "b")
	if got := s.WithUnseen(roundKey, nil, keepAll); len(got) != 0 {
		t.Fatal("a created job seen deleted is still counted")
	}
	if !s.WasDeleted(roundKey, "b") || s.WasDeleted(roundKey, "b") {
		t.Fatal("WasDeleted must say yes once")
	}
}

func TestOwnStatusWritesWaitForTheWritesEvent(t *testing.T) {
	key := ObjectKey{Kind: "TestingSchedule", NamespacedName: types.NamespacedName{Namespace: "district", Name: "nightly"}}
	var s Store
	if s.CacheBehind(key, "10") {
		t.Fatal("behind before any write")
	}
	s.Wrote(key, "10", "10") // a write that changed nothing sends no event
	if s.CacheBehind(key, "10") {
		t.Fatal("waiting for the event of a write that changed nothing")
	}
	s.Wrote(key, "10", "11")
	if !s.CacheBehind(key, "10") {
		t.Fatal("the cache still shows the replaced version: want behind")
	}
	other := ObjectKey{Kind: "CollectionJob", NamespacedName: key.NamespacedName}
	if s.CacheBehind(other, "10") {
		t.Fatal("an object of another kind and the same name is behind")
	}
	if s.CacheBehind(key, "11") {
		t.Fatal("the cache shows the write: want not behind")
	}
	if s.CacheBehind(key, "10") {
		t.Fatal("a seen write must be forgotten, not block later reconciles")
	}
	s.Wrote(key, "12", "13")
	s.ForgetObject(key)
	if s.CacheBehind(key, "12") {
		t.Fatal("behind after forget")
	}
}

func TestUnrecordedStartStandsUntilWritten(t *testing.T) {
	key := types.NamespacedName{Namespace: "district", Name: "a"}
	stored := job("a", "uid-a").Obj()
	started := sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobActive, Visits: 1, ActiveJob: "a-v1"}
	var s Store
	s.Started(key, Start{UID: "uid-a", Status: started})
	got, ok := s.StartOf(stored)
	if !ok || got.ActiveJob != "a-v1" {
		t.Fatalf("StartOf = %+v, %v; want the started visit", got, ok)
	}
	// A status write of the job records the start: the store lets go.
	s.Wrote(ObjectKey{Kind: "CollectionJob", NamespacedName: key}, "1", "2")
	if _, ok := s.StartOf(stored); ok {
		t.Fatal("a start stands after a status write")
	}
	// A stored status other than the one it was decided from wins.
	s.Started(key, Start{UID: "uid-a", Status: started})
	moved := job("a", "uid-a").Phase(sweepv1alpha1.JobWaiting).VisitsMade(1).Obj()
	if _, ok := s.StartOf(moved); ok {
		t.Fatal("a start stands over a newer stored status")
	}
	s.Started(key, Start{UID: "uid-a", Status: started})
	if _, ok := s.StartOf(job("a", "uid-new").Obj()); ok {
		t.Fatal("a start stands for a job created again under its name")
	}
}

func TestStatusWritesPacedButPhaseChangesNot(t *testing.T) {
	var s Store
	now := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	if w := s.StatusWriteWait(roundKey, time.Second, false, now); w != 0 {
		t.Fatalf("first write held %v", w)
	}
	if w := s.StatusWriteWait(roundKey, time.Second, false, now.Add(300*time.Millisecond)); w != 700*time.Millisecond {
		t.Fatalf("second write within the interval held %v, want 700ms", w)
	}
	if w := s.StatusWriteWait(roundKey, time.Second, true, now.Add(300*time.Millisecond)); w != 0 {
		t.Fatalf("a change of phase held %v", w)
	}
	s.SetCost(roundKey, 40*time.Millisecond)
	if p := s.Pace(roundKey); p != 40*time.Millisecond {
		t.Fatalf("pace %v", p)
	}
	s.ForgetRound(roundKey)
	if p := s.Pace(roundKey); p != 0 {
		t.Fatalf("pace of a forgotten round %v", p)
	}
}

func TestCreatedObjectsAwaitTheCacheForALimitedTime(t *testing.T) {
	var s Store
	key := ObjectKey{Kind: "Job", NamespacedName: types.NamespacedName{Namespace: "district", Name: "a-v1"}}
	now := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	if _, ok := s.CreatedNotCached(key, now, time.Minute); ok {
		t.Fatal("an object never created is awaited")
	}
	s.CreatedObject(key, now)
	if at, ok := s.CreatedNotCached(key, now.Add(10*time.Second), time.Minute); !ok || !at.Equal(now) {
		t.Fatalf("a visit Job created 10s ago and not cached: got %v, %v; want awaited since its creation", at, ok)
	}
	s.ObjectCached(key)
	if _, ok := s.CreatedNotCached(key, now.Add(20*time.Second), time.Minute); ok {
		t.Fatal("an object the cache showed is still awaited")
	}
	s.CreatedObject(key, now)
	if _, ok := s.CreatedNotCached(key, now.Add(2*time.Minute), time.Minute); ok {
		t.Fatal("an object never cached is awaited past the ttl: a Job deleted before the cache saw it would never be created again")
	}
	// A CollectionJob that finished or is gone takes its visit Jobs'
	// expectations with it (the store stays bounded).
	s.CreatedObject(key, now)
	s.ForgetObject(ObjectKey{Kind: "CollectionJob", NamespacedName: types.NamespacedName{Namespace: "district", Name: "a"}})
	if len(s.creates) != 0 {
		t.Fatalf("%d visit Job expectations left after their CollectionJob was forgotten", len(s.creates))
	}
}

// A round's worth of entries, all forgotten, leaves no map behind: a Go map
// keeps the buckets of its largest size, which at city scale is megabytes
// held for the manager's life.
func TestForgottenEntriesGiveBackTheirMaps(t *testing.T) {
	var s Store
	const n = 1000
	now := time.Now()
	jobs := make([]*sweepv1alpha1.CollectionJob, n)
	for i := range jobs {
		j := job(fmt.Sprintf("j-%d", i), types.UID(fmt.Sprintf("uid-%d", i))).Suspend(true).Obj()
		jobs[i] = j
		key := types.NamespacedName{Namespace: j.Namespace, Name: j.Name}
		s.Started(key, Start{UID: j.UID})
		s.Wrote(ObjectKey{Kind: "CollectionJob", NamespacedName: key}, "1", "2")
		s.CreatedObject(ObjectKey{Kind: "Job", NamespacedName: types.NamespacedName{Namespace: j.Namespace, Name: j.Name + "-v1"}}, now)
	}
	s.Created(roundKey, jobs)
	s.Admit(roundKey, jobs)
	s.JobDeleted(roundKey, "j-0")

	s.WithUnseen(roundKey, jobs, func(*sweepv1alpha1.CollectionJob) bool { return true })
	s.WasDeleted(roundKey, "j-0")
	for _, j := range jobs {
		s.ForgetObject(ObjectKey{Kind: "CollectionJob", NamespacedName: types.NamespacedName{Namespace: j.Namespace, Name: j.Name}})
	}
	s.ForgetRound(roundKey)
	if s.writes != nil || s.starts != nil || s.admitted != nil || s.creates != nil || s.rounds != nil {
		t.Errorf("maps kept after every entry was forgotten: writes %v, starts %v, admitted %v, creates %v, rounds %v",
			s.writes != nil, s.starts != nil, s.admitted != nil, s.creates != nil, s.rounds != nil)
	}
	// And they work again afterwards.
	s.Wrote(ObjectKey{Kind: "CollectionJob", NamespacedName: roundKey}, "1", "2")
	if !s.CacheBehind(ObjectKey{Kind: "CollectionJob", NamespacedName: roundKey}, "1") {
		t.Error("a write after the maps were given back is not remembered")
	}
}

func TestCreatesInFlightAreExpectedUntilAnsweredAndFailedOnesPlannedAgain(t *testing.T) {
	var s Store
	a, b, c := job("a", "").Obj(), job("b", "").Obj(), job("c", "").Obj()
	keep := func(*sweepv1alpha1.CollectionJob) bool { return true }
	names := func(jobs []*sweepv1alpha1.CollectionJob) []string {
		var out []string
		for _, j := range jobs {
			out = append(out, j.Name)
		}
		return out
	}
	s.Created(roundKey, []*sweepv1alpha1.CollectionJob{a, b, c})
	if diff := cmp.Diff(sets.New("a", "b", "c"), s.InCreation(roundKey)); diff != "" {
		t.Errorf("in creation before any answer (-want +got):\n%s", diff)
	}
	// a created (the stored object has its UID), b failed, c still in flight.
	s.CreateDone(roundKey, "a", job("a", "uid-a").Obj())
	s.CreateDone(roundKey, "b", nil)
	if diff := cmp.Diff(sets.New("c"), s.InCreation(roundKey)); diff != "" {
		t.Errorf("in creation (-want +got):\n%s", diff)
	}
	got := s.WithUnseen(roundKey, nil, keep)
	if diff := cmp.Diff([]string{"a", "c"}, names(got), cmpopts.SortSlices(func(x, y string) bool { return x < y })); diff != "" {
		t.Errorf("expected jobs: a failed create must be planned again (-want +got):\n%s", diff)
	}
	for _, j := range got {
		if j.Name == "a" && j.UID != "uid-a" {
			t.Errorf("job a expected as planned (UID %q), want as the API server stored it", j.UID)
		}
	}
	if !s.Expects(roundKey, "a") || !s.Expects(roundKey, "c") || s.Expects(roundKey, "b") {
		t.Errorf("Expects a, c, b = %v, %v, %v; want true, true, false", s.Expects(roundKey, "a"), s.Expects(roundKey, "c"), s.Expects(roundKey, "b"))
	}
	s.WithUnseen(roundKey, []*sweepv1alpha1.CollectionJob{job("a", "uid-a").Obj()}, keep)
	if s.Expects(roundKey, "a") {
		t.Error("job a still expected after the cache showed it")
	}
}

func TestHeldBuildingsEndAndCreateErrorsAreReturnedOnce(t *testing.T) {
	var s Store
	now := time.Now()
	s.HoldBuilding(roundKey, "b-1", Hold{Taken: true, Until: now.Add(time.Minute)})
	s.HoldBuilding(roundKey, "b-2", Hold{Until: now.Add(time.Minute)})
	s.HoldBuilding(roundKey, "b-3", Hold{Taken: true, Until: now.Add(-time.Second)})
	taken, refused := s.Held(roundKey, now)
	if diff := cmp.Diff(sets.New("b-1"), taken); diff != "" {
		t.Errorf("taken (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sets.New("b-2"), refused); diff != "" {
		t.Errorf("refused (-want +got):\n%s", diff)
	}
	if taken, refused = s.Held(roundKey, now.Add(2*time.Minute)); taken.Len()+refused.Len() != 0 {
		t.Errorf("holds past their end: taken %v, refused %v", taken.UnsortedList(), refused.UnsortedList())
	}
	s.CreateError(roundKey, fmt.Errorf("connection refused"))
	if err := s.TakeCreateError(roundKey); err == nil {
		t.Error("the create error was not returned")
	}
	if err := s.TakeCreateError(roundKey); err != nil {
		t.Errorf("the create error was returned twice: %v", err)
	}
}
