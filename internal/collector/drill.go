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
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// SamplesPerTeamHour is how many residents one collection team swabs in an
// hour (a Harbin nurse: 700+ between 08:00 and 14:00).
const SamplesPerTeamHour = 117

// DrillSource simulates a sweep for exercises. Its outcome depends only on
// the assignment (seed, round, building, visit and counts), so the same
// round gives the same numbers on any machine and with either executor:
//   - visit 1 misses absentPercent of the residents who are not home-visit
//     cases (±20% per building), and each revisit still misses
//     stillAbsentPercent of those missed before;
//   - home-visit residents (bedridden, disabled, late pregnancy) are always
//     found, and sampled at home;
//   - missed households are the first ones of a fixed shuffle of the
//     building's households, so each revisit's list is part of the last;
//     they share the missed residents evenly, and each has a reason drawn
//     from the seed and its id (mostly not-home, some none), the same on
//     every visit;
//   - a visit takes expected/117 team-hours (the missed only, on a revisit),
//     half as long again in a sealed building, times DrillTimeScale.
//
// A retest visit (a.Retest, the single-tube retest of a positive pooled
// tube) knocks only the tube's households, a few hours after the sweep,
// with people told to stay in: each of the tube's residents is absent with
// half the absentPercent chance, drawn one by one (a pool holds at most 20
// swabs, too few for a share to come out above 0), and each revisit still
// misses stillAbsentPercent of them, drawn the same way. Missed households
// come from a fixed shuffle of the tube's households only, and nobody is
// sampled at home: a retest swabs at the door. The draws depend on the seed,
// round, building, tube and visit, so they repeat like a sweep's.
//
// A mop-up visit (a.MopUpOf) goes back for the residents an earlier round
// missed: each is still absent with the stillAbsentPercent chance of a
// re-knock, drawn one by one like a retest's (drillMopUpMissed), its
// missed households come from a fixed shuffle of the knock list (the
// earlier round's missed households; the whole building when it listed
// none), and nobody is sampled at home.
type DrillSource struct {
	// Sleep waits for the simulated duration; tests may replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Visit simulates visit a.Visit.
func (s DrillSource) Visit(ctx context.Context, a Assignment, progress func(Outcome)) (Outcome, error) {
	if a.Retest != "" || a.MopUpOf != "" {
		a.HomeVisit = 0
	}
	missed := drillMissed(a, a.Visit)
	out := a.outcome(a.Expected-missed, missed)
	dur := drillDuration(a)
	if dur > 0 {
		sleep := s.Sleep
		if sleep == nil {
			sleep = sleepCtx
		}
		if err := sleep(ctx, dur/2); err != nil {
			return Outcome{}, err
		}
		if progress != nil {
			// Halfway: half of this visit's finds are in.
			before := a.Expected
			if a.Visit > 1 {
				before = drillMissed(a, a.Visit-1)
			}
			half := missed + (before-missed)/2
			progress(a.outcome(a.Expected-half, half))
		}
		if err := sleep(ctx, dur-dur/2); err != nil {
			return Outcome{}, err
		}
	}
	return out, nil
}

// outcome is the drill's outcome with sampled residents sampled and missed
// not: the missed households share the missed residents as evenly as they
// can, each with its own reason (drillReason).
func (a Assignment) outcome(sampled, missed int32) Outcome {
	sampled = max(0, min(sampled, a.Expected))
	households := drillMissedHouseholds(a, missed)
	out := Outcome{Sampled: sampled, HomeVisited: min(a.HomeVisit, sampled), MissedHouseholds: households}
	for i, h := range households {
		n := missed / int32(len(households))
		if int32(i) < missed%int32(len(households)) {
			n++
		}
		out.Missed = append(out.Missed, HouseholdMissed{Household: h, Residents: n, Reason: drillReason(a, h)})
	}
	return out
}

// drillReasons weigh the reasons a drill gives a missed household, in
// percent: mostly nobody home, some away or unreachable, a few of the
// rest, and some with no reason at all (unknown), as a registry's records
// would.
var drillReasons = []struct {
	reason  sweepv1alpha1.MissedReason
	percent int
}{
	{sweepv1alpha1.MissedNotHome, 40}, {sweepv1alpha1.MissedAway, 15}, {sweepv1alpha1.MissedUnreachable, 10},
	{sweepv1alpha1.MissedRefused, 8}, {sweepv1alpha1.MissedInHospital, 5}, {sweepv1alpha1.MissedMovedOut, 5},
	{sweepv1alpha1.MissedVacant, 2}, {"", 15},
}

// drillReason is household h's reason in a drill: drawn from the seed, the
// round, the building and the household only, so it stays the same on
// every visit (and in a retest of the household).
func drillReason(a Assignment, h string) sweepv1alpha1.MissedReason {
	n := drillRand(a, "reason/"+h).IntN(100)
	for _, r := range drillReasons {
		if n < r.percent {
			return r.reason
		}
		n -= r.percent
	}
	return ""
}

// drillRand is the building's own random stream, from the seed and names.
func drillRand(a Assignment, salt string) *rand.Rand {
	h := fnv.New64a()
	// The namespace is left out so a drill gives the same numbers wherever
	// it runs.
	fmt.Fprintf(h, "%s/%s/%s", a.Round, a.Building, salt)
	return rand.New(rand.NewPCG(uint64(a.DrillSeed), h.Sum64()))
}

// drillMissed is how many expected residents are still not sampled after
// visit v.
func drillMissed(a Assignment, v int32) int32 {
	switch {
	case a.Retest != "":
		return drillRetestMissed(a, v)
	case a.MopUpOf != "":
		return drillMopUpMissed(a, v)
	}
	findable := a.Expected - min(a.HomeVisit, a.Expected)
	if findable <= 0 {
		return 0
	}
	jitter := 0.8 + 0.4*drillRand(a, "absent").Float64()
	missed := int32(float64(findable) * float64(a.DrillAbsentPercent) / 100 * jitter)
	for i := int32(1); i < v; i++ {
		missed = missed * a.DrillStillAbsentPercent / 100
	}
	return min(missed, findable)
}

// drillRetestMissed is how many of a retest's residents are still not
// sampled after visit v: one draw per resident at visit 1 (absent at half
// the absentPercent), one per resident still missed at each revisit (still
// absent at stillAbsentPercent). The stream is the tube's own, so visit v's
// draws continue visit v-1's and nobody found comes back.
func drillRetestMissed(a Assignment, v int32) int32 {
	return drillEachResident(a, v, "retest/"+a.Retest+"/absent", float64(a.DrillAbsentPercent)/2/100)
}

// drillMopUpMissed is how many of a mop-up's residents are still not
// sampled after visit v. They are the ones the earlier round's visits kept
// missing, so each is still absent at the mop-up's first visit with the
// stillAbsentPercent chance of a re-knock, and so on at each revisit:
// drawn one by one, as a retest's are, because a building's few missed
// residents are too few for a share.
func drillMopUpMissed(a Assignment, v int32) int32 {
	return drillEachResident(a, v, "mopup/"+a.MopUpOf+"/absent", float64(a.DrillStillAbsentPercent)/100)
}

// drillEachResident draws each expected resident absent with chance p at
// visit 1, and each one still missed absent again at each revisit with
// the stillAbsentPercent chance. The stream is the salt's own, so visit
// v's draws continue visit v-1's and nobody found comes back.
func drillEachResident(a Assignment, v int32, salt string, p float64) int32 {
	r := drillRand(a, salt)
	missed := int32(0)
	for range max(a.Expected, 0) {
		if r.Float64() < p {
			missed++
		}
	}
	still := float64(a.DrillStillAbsentPercent) / 100
	for i := int32(1); i < v && missed > 0; i++ {
		left := int32(0)
		for range missed {
			if r.Float64() < still {
				left++
			}
		}
		missed = left
	}
	return missed
}

// drillMissedHouseholds picks the households of the missed residents: about
// two missed residents a household, never more households than missed
// residents or than the building has.
func drillMissedHouseholds(a Assignment, missed int32) []string {
	if missed == 0 {
		return nil
	}
	ids, salt := HouseholdIDs(a.Households, a.Units, a.Floors), "households"
	switch {
	case a.Retest != "":
		ids, salt = slices.Clone(a.RetestHouseholds), "retest/"+a.Retest+"/households"
	case len(a.MopUpHouseholds) > 0:
		ids, salt = slices.Clone(a.MopUpHouseholds), "mopup/"+a.MopUpOf+"/households"
	}
	drillRand(a, salt).Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	n := min(int((missed+1)/2), len(ids))
	return ids[:n]
}

// HouseholdIDs names a building's households "<unit>-<floor><room>", such
// as 2-1203: unit 2, floor 12, room 3, filling each unit's floors evenly.
func HouseholdIDs(households, units, floors int32) []string {
	units, floors = max(units, 1), max(floors, 1)
	perFloor := max((households+units*floors-1)/(units*floors), 1)
	ids := make([]string, 0, households)
	for i := range households {
		unit := i%units + 1
		rest := i / units
		ids = append(ids, fmt.Sprintf("%d-%d%02d", unit, rest/perFloor+1, rest%perFloor+1))
	}
	return ids
}

func drillDuration(a Assignment) time.Duration {
	if a.DrillTimeScale <= 0 {
		return 0
	}
	people := a.Expected
	if a.Visit > 1 {
		people = drillMissed(a, a.Visit-1)
	}
	hours := float64(people) / SamplesPerTeamHour
	if a.Sealed {
		hours *= 1.5
	}
	return time.Duration(hours * a.DrillTimeScale * float64(time.Hour))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
