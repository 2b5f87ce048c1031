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

package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSplitCity(t *testing.T) {
	for _, tc := range []struct {
		buildings, districts int
		want                 []int
	}{
		{100000, 13, []int{7693, 7693, 7693, 7693, 7692, 7692, 7692, 7692, 7692, 7692, 7692, 7692, 7692}},
		{26, 13, []int{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}},
		{5, 2, []int{3, 2}},
	} {
		got := splitCity(tc.buildings, tc.districts)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("splitCity(%d, %d) (-want +got):\n%s", tc.buildings, tc.districts, diff)
		}
		sum := 0
		for _, n := range got {
			sum += n
		}
		if sum != tc.buildings {
			t.Errorf("splitCity(%d, %d) adds up to %d", tc.buildings, tc.districts, sum)
		}
	}
}

func TestCeilingSpreadAndRatios(t *testing.T) {
	r := result{ceilingRates: []float64{254, 398}}
	r.ceilingRate = mean(r.ceilingRates)
	if got, want := r.ceilingSpread(), (398.0-254.0)/326.0; math.Abs(got-want) > 1e-9 {
		t.Errorf("spread %v, want %v", got, want)
	}
	m, low, high := r.bareRatio(163)
	if math.Abs(m-0.5) > 1e-9 || math.Abs(low-163.0/398) > 1e-9 || math.Abs(high-163.0/254) > 1e-9 {
		t.Errorf("bareRatio(163) = %v, %v, %v; want 0.5, %v, %v", m, low, high, 163.0/398, 163.0/254)
	}
	if one := (result{ceilingRates: []float64{300}, ceilingRate: 300}); one.ceilingSpread() != 0 {
		t.Errorf("one run has a spread: %v", one.ceilingSpread())
	}
}

func TestGOMAXPROCSFromTheCPULimit(t *testing.T) {
	for milli, want := range map[int64]int64{0: 1, 100: 1, 500: 1, 1000: 1, 1001: 2, 2500: 3} {
		if got := (managerLimits{cpuMilli: milli}).gomaxprocs(); got != want {
			t.Errorf("CPU limit %dm: GOMAXPROCS %d, want %d", milli, got, want)
		}
	}
}

// The bare-ceiling target is judged against the run that makes it hardest
// (the highest ceiling), so that noise cannot pass a missed target.
func TestBareTargetUsesTheHighestRun(t *testing.T) {
	r := result{N: 10000, ceilingRates: []float64{300, 500}, fairRate: 400, expansionRate: 300}
	r.ceilingRate = mean(r.ceilingRates)
	for _, tg := range targets([]result{r}, nil) {
		if strings.Contains(tg.what, "0.7 of the bare ceiling") {
			if tg.holds {
				t.Errorf("%s holds at 300/s against runs of 300 and 500/s (0.6 of the higher)", tg.what)
			}
			return
		}
	}
	t.Fatal("no bare-ceiling target at N = 10,000")
}

func TestReplaceCitySectionKeepsTheRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "performance.md")
	before := "# Performance\n\ntable\n" + cityBegin + "\nold city\n" + cityEnd + "\nnotes\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replaceCitySection(path, "## A whole city\n\nnew\n"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# Performance\n\ntable\n" + cityBegin + "\n## A whole city\n\nnew\n" + cityEnd + "\nnotes\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := os.WriteFile(path, []byte("# Performance\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := replaceCitySection(path, "x"); err == nil || !strings.Contains(err.Error(), "markers") {
		t.Errorf("a report without markers: %v, want an error naming the markers", err)
	}
}

func TestWritesPerBuildingLeavesOutEventsAndLeases(t *testing.T) {
	before := map[string]float64{"collectionjobs": 10, "events": 5, "leases": 1, "testingrounds/status": 4}
	after := map[string]float64{"collectionjobs": 110, "collectionjobs/status": 200, "events": 105, "leases": 11, "testingrounds/status": 4}
	byResource, total := writesPerBuilding(before, after, 100)
	want := map[string]float64{"collectionjobs": 1, "collectionjobs/status": 2, "events": 1, "leases": 0.1}
	if diff := cmp.Diff(want, byResource); diff != "" {
		t.Errorf("by resource (-want +got):\n%s", diff)
	}
	if total != 3 {
		t.Errorf("total %v per building, want 3 (creates and status, not events or leases)", total)
	}
}

func TestASingleBareRunBorrowsTheLargestSpreadOfTheOtherN(t *testing.T) {
	rs := []result{
		{N: 1000, ceilingRates: []float64{300, 500}, ceilingRate: 400},
		{N: 10000, ceilingRates: []float64{640, 660}, ceilingRate: 650},
		{N: 50000, ceilingRates: []float64{490}, ceilingRate: 490},
	}
	borrowSpreads(rs)
	if got := rs[2].ceilingSpread(); got != 0.5 {
		t.Errorf("N = 50000's spread %.2f, want 0.50 (N = 1000's, the largest)", got)
	}
	if got, want := rs[2].spreadText(), "50% (one run; N = 1000's)"; got != want {
		t.Errorf("spread shown as %q, want %q", got, want)
	}
	if got, want := rs[1].spreadText(), "3%"; got != want {
		t.Errorf("N = 10000's spread shown as %q, want %q", got, want)
	}
}

func TestCounterAddsOnlyGapsOfAStallOrMore(t *testing.T) {
	var c counter
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for _, d := range []time.Duration{0, 100 * time.Millisecond, 200 * time.Millisecond, 900 * time.Millisecond, 1000 * time.Millisecond, 3 * time.Second} {
		c.seen(t0.Add(d))
	}
	first, stalls := c.firstAndStalls()
	if !first.Equal(t0) {
		t.Errorf("first %v, want %v", first, t0)
	}
	// 200 ms to 900 ms is a stall (700 ms), 1 s to 3 s another (2 s); the
	// 100 ms gaps are creates in progress.
	if want := 2700 * time.Millisecond; stalls != want {
		t.Errorf("stalls %v, want %v", stalls, want)
	}
	if c.count() != 6 {
		t.Errorf("count %d, want 6", c.count())
	}
}

func TestPhasesTableGivesTheVisitsAsTheRoundLessTheExpansion(t *testing.T) {
	r := result{N: 1000, RoundAPICPU: 0.010, ExpansionAPICPU: 0.004, RoundManagerCPU: 0.003, ExpansionManagerCPU: 0.001,
		ClosedWatches: 12, ExpansionClosedWatches: 5, FirstJob: 250 * time.Millisecond, ExpansionStalls: time.Second,
		ExpansionJobStatusWrites: 0.5, IndexedJobAPICPU: 0.0025, BenchWatchRestarts: 2, FairClosedWatches: 3}
	got := phasesTable([]result{r})
	want := "| 1000 | 250ms | 1s | 0.50 | 4.0 / 6.0 ms | 1.0 / 2.0 ms | 5 (2) / 7 | 3 | 2.5 ms |"
	if !strings.Contains(got, want) {
		t.Errorf("phasesTable lacks the row %q:\n%s", want, got)
	}
}
