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
	"k8s.io/apimachinery/pkg/util/validation"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// The fuzz targets below turn arbitrary bytes into a round's world (its
// buildings and jobs) and check the invariants the controller relies on.
// `go test` runs their seeds (f.Add and testdata/fuzz/<Name>/); `go test
// -fuzz=<Name>` explores further (see docs/reliability.md).

// fuzzBytes hands out the fuzzer's bytes one decision at a time, and zeros
// once they run out, so every input describes some world.
type fuzzBytes struct{ b []byte }

func (f *fuzzBytes) next() byte {
	if len(f.b) == 0 {
		return 0
	}
	c := f.b[0]
	f.b = f.b[1:]
	return c
}

var (
	fuzzLevels = []sweepv1alpha1.ControlLevel{sweepv1alpha1.ControlLevelSealed, sweepv1alpha1.ControlLevelControlled, sweepv1alpha1.ControlLevelPrecaution, ""}
	fuzzPhases = []sweepv1alpha1.JobPhase{"", sweepv1alpha1.JobQueued, sweepv1alpha1.JobActive, sweepv1alpha1.JobWaiting,
		sweepv1alpha1.JobCompleted, sweepv1alpha1.JobExpired, sweepv1alpha1.JobFailed}
)

// fuzzWorld builds a round with up to 64 buildings described by data: each
// building takes four bytes (name, level, whether it has a job yet and that
// job's state, counts). Names repeat on purpose (the byte picks one of 40),
// and some are long enough to need shortening.
func fuzzWorld(roundName string, teams int32, byName bool, data []byte) (*sweepv1alpha1.TestingRound, []sweepv1alpha1.Building, []sweepv1alpha1.CollectionJob, sets.Set[string]) {
	order := sweepv1alpha1.OrderSealedFirst
	if byName {
		order = sweepv1alpha1.OrderName
	}
	r := testRound(teams, order)
	r.Name = roundName
	in := &fuzzBytes{data}
	var buildings []sweepv1alpha1.Building
	var jobs []sweepv1alpha1.CollectionJob
	pending := sets.New[string]()
	seen := map[string]bool{}
	for len(in.b) > 0 && len(buildings) < 64 {
		n, lv, st, cnt := in.next(), in.next(), in.next(), in.next()
		name := fmt.Sprintf("b-%d", n%40)
		if n%7 == 0 {
			name = fmt.Sprintf("%s-%063d", name, n)
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		b := sweepv1alpha1.Building{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.Namespace},
			Spec: sweepv1alpha1.BuildingSpec{Residents: int32(cnt) * 3, Exempt: int32(cnt % 5), HomeVisit: int32(cnt % 3),
				Households: int32(cnt), ControlLevel: fuzzLevels[int(lv)%len(fuzzLevels)]},
		}
		buildings = append(buildings, b)
		if st&1 == 0 {
			continue // no job yet: MissingJobs must create one
		}
		j := NewJob(r, &b)
		j.Spec.Suspend = st&2 != 0
		j.Status.Phase = fuzzPhases[int(st>>2)%len(fuzzPhases)]
		j.Status.Sampled = int32(st) - 40 // sometimes negative or above expected: the rollup must cope
		if cnt&1 != 0 {
			// Counts by reason that need not add up to anything, some
			// negative: the rollup fits them to what it counts missed.
			j.Status.NotSampledByReason = &sweepv1alpha1.MissedReasonCounts{NotHome: int32(cnt / 2), Refused: int32(st) - 60, Unknown: int32(lv)}
		}
		if st&0x80 != 0 {
			pending.Insert(j.Name)
		}
		jobs = append(jobs, *j)
	}
	return r, buildings, jobs, pending
}

func FuzzPlanAndAdmit(f *testing.F) {
	f.Add("r", int32(2), false, []byte{1, 0, 1, 0, 2, 1, 3, 9, 3, 2, 0, 4})
	f.Add("baoguo-1126", int32(1), true, []byte{7, 0, 0x83, 50, 14, 1, 0x81, 3, 21, 2, 3, 0})
	f.Add("a-very-long-round-name-that-leaves-little-room-for-a-building", int32(0), false, []byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Fuzz(func(t *testing.T, roundName string, teams int32, byName bool, data []byte) {
		// A round name is a DNS-1123 subdomain the API server accepted;
		// anything else never reaches the controller.
		if errs := validation.IsDNS1123Subdomain(roundName); len(errs) > 0 || len(roundName) > 63 {
			t.Skip("not a DNS-1123 round name: the API server rejects it, so the controller never sees it")
		}
		teams = max(teams%200, 0) // spec.teams is 0..N as the schema allows; a negative one is not stored
		r, buildings, jobs, pending := fuzzWorld(roundName, teams, byName, data)

		// Planning: one job per building, names unique, short enough for
		// the visit Jobs' names, and stable from one reconcile to the next.
		// Planned in chunks, as the controller creates a city round: each
		// chunk comes after the last in admission order, and the count of
		// what is left goes down by the chunk.
		limit := 1 + len(data)%4
		all := append([]sweepv1alpha1.CollectionJob(nil), jobs...)
		var missing []*sweepv1alpha1.CollectionJob
		for {
			chunk, left := MissingJobs(r, ptrs(buildings), ptrs(all), limit)
			if len(chunk) != min(limit, left) {
				t.Fatalf("a chunk of %d jobs with %d missing and a limit of %d", len(chunk), left, limit)
			}
			if len(chunk) == 0 {
				break
			}
			missing = append(missing, chunk...)
			for _, j := range chunk {
				all = append(all, *j)
			}
		}
		if len(all) != len(buildings) {
			t.Fatalf("%d buildings but %d jobs after planning", len(buildings), len(all))
		}
		names, perBuilding := map[string]string{}, map[string]bool{}
		for i := range all {
			j := &all[i]
			if other, dup := names[j.Name]; dup {
				t.Fatalf("buildings %q and %q share the job name %q", other, j.Spec.Building, j.Name)
			}
			names[j.Name] = j.Spec.Building
			if perBuilding[j.Spec.Building] {
				t.Fatalf("building %q has two jobs", j.Spec.Building)
			}
			perBuilding[j.Spec.Building] = true
			if len(j.Name) > MaxJobNameLength {
				t.Fatalf("job name %q is %d characters, more than %d", j.Name, len(j.Name), MaxJobNameLength)
			}
			// A visit Job's name is a DNS subdomain (a round named "0.0" is
			// allowed, the fuzzer found) that fits in a label value, and is
			// at most 57 characters: its pods' generateName base
			// ("<visit Job>-") is then never cut by the Job controller.
			if v := j.Name + "-v10-r2"; len(validation.IsDNS1123Subdomain(v)) > 0 || len(validation.IsValidLabelValue(v)) > 0 || len(v) > 57 {
				t.Fatalf("visit Job name %q is invalid or longer than 57 characters", v)
			}
			if !strings.HasPrefix(j.Name, strings.TrimRight((r.Name + "-" + j.Spec.Building)[:min(len(r.Name)+1+len(j.Spec.Building), MaxJobNameLength-hashLength-1)], "-.")) {
				t.Fatalf("job name %q does not begin with its round and building", j.Name)
			}
			if JobName(r.Name, r.UID, j.Spec.Building) != j.Name {
				t.Fatalf("job name of %q is not deterministic", j.Spec.Building)
			}
			for k, v := range j.Labels {
				if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
					t.Fatalf("label %s=%q is invalid: %v", k, v, errs)
				}
			}
		}
		if again, left := MissingJobs(r, ptrs(buildings), ptrs(all), len(buildings)+1); len(again) != 0 || left != 0 {
			t.Fatalf("planning twice creates %d more jobs (%d left)", len(again), left)
		}
		for i := 1; i < len(missing); i++ {
			if admitsBefore(r.Spec.Order, &missing[i].Spec, &missing[i-1].Spec) {
				t.Fatalf("created out of order: %q before %q", missing[i-1].Spec.Building, missing[i].Spec.Building)
			}
		}

		// Admission: the team bound, counting jobs admitted but not yet
		// seen admitted (pending), and the round's order.
		busy := 0
		for i := range all {
			if HoldsTeam(&all[i]) || (pending.Has(all[i].Name) && !all[i].Status.Phase.Finished()) {
				busy++
			}
		}
		admitted := Admit(r, AsAdmitted(ptrs(all), pending))
		if len(admitted) > 0 && busy+len(admitted) > int(teams) {
			t.Fatalf("%d jobs hold a team and %d more were admitted, but the round has %d teams", busy, len(admitted), teams)
		}
		chosen := map[string]bool{}
		for i, j := range admitted {
			if !j.Spec.Suspend || j.Status.Phase.Finished() || pending.Has(j.Name) {
				t.Fatalf("admitted %q, which is not queued (suspend=%v phase=%q pending=%v)", j.Name, j.Spec.Suspend, j.Status.Phase, pending.Has(j.Name))
			}
			if chosen[j.Name] {
				t.Fatalf("admitted %q twice", j.Name)
			}
			chosen[j.Name] = true
			if i > 0 && admitsBefore(r.Spec.Order, &j.Spec, &admitted[i-1].Spec) {
				t.Fatalf("admitted %q before %q against the order %q", admitted[i-1].Name, j.Name, r.Spec.Order)
			}
		}
		// Nobody left waiting goes before someone admitted, and no free
		// team is left idle while a job waits.
		waiting := 0
		for i := range all {
			j := &all[i]
			if !j.Spec.Suspend || j.Status.Phase.Finished() || pending.Has(j.Name) || chosen[j.Name] {
				continue
			}
			waiting++
			for _, a := range admitted {
				if admitsBefore(r.Spec.Order, &j.Spec, &a.Spec) {
					t.Fatalf("%q waits although it goes before the admitted %q", j.Name, a.Name)
				}
			}
		}
		if waiting > 0 && busy+len(admitted) < int(teams) {
			t.Fatalf("%d jobs wait with %d of %d teams busy", waiting, busy+len(admitted), teams)
		}
	})
}

func FuzzStatus(f *testing.F) {
	f.Add(int32(2), false, []byte{1, 0, 1, 0, 2, 1, 3, 9, 3, 2, 0x1d, 4}, int64(3600), false)
	f.Add(int32(1), true, []byte{7, 0, 0x83, 50, 14, 1, 0x95, 3, 21, 2, 0x19, 0}, int64(50000), true)
	f.Add(int32(0), false, []byte{}, int64(-7200), false)
	f.Fuzz(func(t *testing.T, teams int32, byName bool, data []byte, offset int64, suspend bool) {
		r, _, jobs, _ := fuzzWorld("r", max(teams%200, 0), byName, data)
		r.Spec.Suspend = suspend
		now := t0.Add(time.Duration(offset%(48*3600)) * time.Second)
		st := Status(r, ptrs(jobs), 0, now)

		res, b := st.Residents, st.Buildings
		if res.Expected != res.Sampled+res.Outstanding+res.Missed {
			t.Fatalf("expected %d != sampled %d + outstanding %d + missed %d", res.Expected, res.Sampled, res.Outstanding, res.Missed)
		}
		for name, v := range map[string]int64{"expected": res.Expected, "sampled": res.Sampled, "outstanding": res.Outstanding,
			"missed": res.Missed, "homeVisited": res.HomeVisited, "exempt": res.Exempt, "tubes.forecast": st.Tubes.Forecast, "tubes.used": st.Tubes.Used} {
			if v < 0 {
				t.Fatalf("residents.%s is %d", name, v)
			}
		}
		if res.HomeVisited > res.Sampled {
			t.Fatalf("%d home-visited of %d sampled", res.HomeVisited, res.Sampled)
		}
		// Missed by reason adds up to missed, whatever the
		// jobs' own counts say, and no count is negative.
		if res.MissedByReason.Total() != res.Missed {
			t.Fatalf("missed by reason %+v adds up to %d, not the %d missed", res.MissedByReason, res.MissedByReason.Total(), res.Missed)
		}
		for _, reason := range sweepv1alpha1.MissedReasons {
			if res.MissedByReason.Get(reason) < 0 {
				t.Fatalf("missed by reason %+v: %s is negative", res.MissedByReason, reason)
			}
		}
		if b.Total != int32(len(jobs)) || b.Queued+b.Active+b.Waiting+b.Completed+b.Expired+b.Failed != b.Total {
			t.Fatalf("buildings by phase %+v do not add up to %d jobs", b, len(jobs))
		}
		if st.ProgressPercent < 0 || st.ProgressPercent > 100 {
			t.Fatalf("progress %d%%", st.ProgressPercent)
		}
		if st.Phase == "" {
			t.Fatal("no phase")
		}
		// Rolling the status up again from the new status changes no count:
		// it is computed from the jobs, never kept as a tally.
		r.Status = st
		again := Status(r, ptrs(jobs), 0, now)
		if again.Residents != st.Residents || again.Buildings != st.Buildings {
			t.Fatalf("status drifts on a second rollup: %+v then %+v", st.Residents, again.Residents)
		}
	})
}
