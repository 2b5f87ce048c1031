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

package collector

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func drillAssignment(visit int32) Assignment {
	return Assignment{Namespace: "pingfang", Round: "baoguo-1126", Building: "xinjiang-7", CollectionJob: "baoguo-1126-xinjiang-7",
		Visit: visit, Expected: 300, HomeVisit: 14, Households: 120, Units: 3, Floors: 7, PoolSize: 10, Source: "drill",
		DrillSeed: 20221126, DrillAbsentPercent: 20, DrillStillAbsentPercent: 40}
}

func TestDrillIsDeterministicAndFindsMoreEachVisit(t *testing.T) {
	ctx := context.Background()
	var prev Outcome
	for v := int32(1); v <= 4; v++ {
		a := drillAssignment(v)
		o1, err := DrillSource{}.Visit(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		o2, _ := DrillSource{}.Visit(ctx, a, nil)
		other := a
		other.Namespace = "elsewhere"
		o3, _ := DrillSource{}.Visit(ctx, other, nil)
		if o1.Sampled != o2.Sampled || !slices.Equal(o1.MissedHouseholds, o2.MissedHouseholds) || o1.Sampled != o3.Sampled {
			t.Fatalf("visit %d is not deterministic: %+v vs %+v vs %+v", v, o1, o2, o3)
		}
		if o1.HomeVisited != 14 {
			t.Errorf("visit %d: %d sampled at home, want all 14 home-visit residents", v, o1.HomeVisited)
		}
		missed := a.Expected - o1.Sampled
		if int32(len(o1.MissedHouseholds)) > missed || len(o1.MissedHouseholds) > int(a.Households) {
			t.Errorf("visit %d: %d missed households for %d missed residents", v, len(o1.MissedHouseholds), missed)
		}
		for _, h := range o1.MissedHouseholds {
			if !strings.Contains(h, "-") {
				t.Errorf("household id %q is not unit-room", h)
			}
		}
		if v > 1 {
			if o1.Sampled < prev.Sampled {
				t.Errorf("visit %d sampled %d, fewer than %d before", v, o1.Sampled, prev.Sampled)
			}
			for _, h := range o1.MissedHouseholds {
				if !slices.Contains(prev.MissedHouseholds, h) {
					t.Errorf("visit %d misses household %s that visit %d had found", v, h, v-1)
				}
			}
		}
		prev = o1
	}
	if first, _ := (DrillSource{}).Visit(ctx, drillAssignment(1), nil); first.Sampled == first.HomeVisited || first.Sampled == 300 {
		t.Errorf("a 20%% absence drill found everyone or no one: %+v", first)
	}
}

func TestDrillTakesLongerInSealedBuildingsAndReportsProgress(t *testing.T) {
	var slept time.Duration
	src := DrillSource{Sleep: func(_ context.Context, d time.Duration) error { slept += d; return nil }}
	a := drillAssignment(1)
	a.DrillTimeScale = 1
	var progress []Outcome
	final, err := src.Visit(context.Background(), a, func(o Outcome) { progress = append(progress, o) })
	if err != nil {
		t.Fatal(err)
	}
	open := slept
	if want := time.Duration(float64(a.Expected) / SamplesPerTeamHour * float64(time.Hour)); open != want {
		t.Errorf("a visit of %d residents took %v, want %v at %d an hour", a.Expected, open, want, SamplesPerTeamHour)
	}
	if len(progress) != 1 || progress[0].Sampled >= final.Sampled {
		t.Errorf("progress %+v before final %+v", progress, final)
	}
	slept = 0
	a.Sealed = true
	if _, err := src.Visit(context.Background(), a, nil); err != nil {
		t.Fatal(err)
	}
	if slept != open*3/2 {
		t.Errorf("sealed visit took %v, want 1.5 x %v", slept, open)
	}
}

func TestAssignmentRoundTripsThroughTheEnvironment(t *testing.T) {
	a := drillAssignment(2)
	a.DrillTimeScale = 0.01
	env := a.Env()
	got, err := FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("FromEnv(Env()) = %+v, %v; want %+v", got, err, a)
	}
	delete(env, EnvBuilding)
	env[EnvVisit] = "two"
	_, err = FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), EnvBuilding) || !strings.Contains(err.Error(), EnvVisit) {
		t.Errorf("bad environment error does not name both variables: %v", err)
	}
}

func TestDrillRetest(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name                  string
		seed                  int64
		tube                  string
		swabs                 int32
		households            []string
		absent, still         int32
		wantNoneMissedOnVisit int32 // 0: no expectation
	}{
		{name: "default drill", seed: 20221126, tube: "P-0042", swabs: 5, households: []string{"2-1203", "2-1204", "3-0401"}, absent: 15, still: 40},
		{name: "half away, nobody back", seed: 7, tube: "T_9.1", swabs: 20, households: []string{"1-0101", "1-0102", "1-0103", "1-0104", "1-0105", "1-0106", "1-0107", "1-0108", "1-0109", "1-0110"}, absent: 100, still: 100},
		{name: "one household", seed: 1, tube: "X1", swabs: 4, households: []string{"5-0602"}, absent: 100, still: 50},
		{name: "nobody away", seed: 3, tube: "X2", swabs: 10, households: []string{"1-0101", "1-0102"}, absent: 0, still: 40, wantNoneMissedOnVisit: 1},
		{name: "found on the revisit", seed: 3, tube: "X3", swabs: 10, households: []string{"1-0101", "1-0102"}, absent: 100, still: 0, wantNoneMissedOnVisit: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prev Outcome
			for v := int32(1); v <= 3; v++ {
				a := retestAssignment(v)
				a.DrillSeed, a.Retest, a.Expected, a.RetestHouseholds = tc.seed, tc.tube, tc.swabs, tc.households
				a.Households, a.HomeVisit = int32(len(tc.households)), 2 // a home-visit count on a retest job is not used
				a.DrillAbsentPercent, a.DrillStillAbsentPercent = tc.absent, tc.still
				o, err := DrillSource{}.Visit(ctx, a, nil)
				if err != nil {
					t.Fatal(err)
				}
				again, _ := DrillSource{}.Visit(ctx, a, nil)
				if !reflect.DeepEqual(o, again) {
					t.Fatalf("visit %d is not deterministic: %+v vs %+v", v, o, again)
				}
				checkOutcome(t, o, a)
				missed := a.Expected - o.Sampled
				if o.HomeVisited != 0 {
					t.Errorf("visit %d: %d sampled at home, want 0 on a retest", v, o.HomeVisited)
				}
				if int32(len(o.MissedHouseholds)) > missed || len(o.MissedHouseholds) > len(tc.households) || (missed > 0) != (len(o.MissedHouseholds) > 0) {
					t.Errorf("visit %d: missed households %v for %d missed residents", v, o.MissedHouseholds, missed)
				}
				for _, h := range o.MissedHouseholds {
					if !slices.Contains(tc.households, h) {
						t.Errorf("visit %d misses household %s, not one of the tube's %v", v, h, tc.households)
					}
				}
				if v > 1 && (o.Sampled < prev.Sampled || len(o.MissedHouseholds) > len(prev.MissedHouseholds)) {
					t.Errorf("visit %d found fewer than visit %d: %+v after %+v", v, v-1, o, prev)
				}
				if tc.wantNoneMissedOnVisit > 0 && (v >= tc.wantNoneMissedOnVisit) != (missed == 0) {
					t.Errorf("visit %d missed %d; want nobody missed from visit %d on", v, missed, tc.wantNoneMissedOnVisit)
				}
				if tc.still == 100 && (missed == 0 || (v > 1 && o.Sampled != prev.Sampled)) {
					t.Errorf("visit %d: %d missed, want the same few as visit 1 when nobody comes back", v, missed)
				}
				prev = o
			}
		})
	}
}

// Over many tubes, a retest misses about half the sweep's share of
// residents, and a sweep of the same building is not changed by it.
func TestDrillRetestMissesAboutHalfTheSweepShare(t *testing.T) {
	var missed, residents int32
	tubes := map[string]bool{}
	for i := range 300 {
		a := retestAssignment(1)
		a.DrillAbsentPercent = 20
		a.Retest = "P-" + strconv.Itoa(i)
		o, err := DrillSource{}.Visit(context.Background(), a, nil)
		if err != nil {
			t.Fatal(err)
		}
		missed += a.Expected - o.Sampled
		residents += a.Expected
		tubes[strings.Join(o.MissedHouseholds, " ")] = true
	}
	if share := float64(missed) / float64(residents); share < 0.07 || share > 0.13 {
		t.Errorf("retests missed %d of %d residents (%.3f), want about 0.10 at absentPercent 20", missed, residents, share)
	}
	if len(tubes) < 3 {
		t.Errorf("300 tubes gave only %d different knock lists", len(tubes))
	}
	sweep := drillAssignment(1)
	want, _ := DrillSource{}.Visit(context.Background(), sweep, nil)
	sweep.Retest, sweep.RetestHouseholds = "", nil
	if got, _ := (DrillSource{}).Visit(context.Background(), sweep, nil); !reflect.DeepEqual(got, want) {
		t.Errorf("sweep outcome changed: %+v vs %+v", got, want)
	}
}
