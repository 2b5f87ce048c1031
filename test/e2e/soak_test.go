//go:build reliability

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

package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testharness"
	"github.com/masstesting/sweep/internal/testobjects"
)

// The soak's shape. Each district's schedule fires every soakPeriod, the
// three districts one minute apart, so a round of one district always runs
// while the next district's starts. A round (24 buildings, a team for each,
// two visits a minute apart, the API's shortest interval) takes about 70 s;
// its deadline is far enough that a loaded machine still finishes it.
const (
	soakDefaultDuration = 30 * time.Minute
	soakMinDuration     = 8 * time.Minute // two rounds per district: a round completed and one pruned
	soakPeriod          = 3 * time.Minute
	soakSampleEvery     = 10 * time.Second
	soakBuildings       = 24
	soakTeams           = 24
	soakRoundDuration   = 150 * time.Second
	soakVisitInterval   = time.Minute
	// One completed and one failed round kept per schedule: the object count
	// reaches its steady state after the second round of each district,
	// well within the warm-up third (see soakGrowth).
	soakHistoryLimit = 1
)

var soakDistricts = []string{"soak-pingfang", "soak-daoli", "soak-nangang"}

// soakSample is one reading of the manager process and of the cluster.
type soakSample struct {
	at                      time.Duration // since the schedules were created
	heap, rss               float64       // go_memstats_heap_inuse_bytes, process_resident_memory_bytes
	goroutines, fds         float64       // go_goroutines, process_open_fds
	rounds, jobs, visitJobs int           // TestingRounds, CollectionJobs and visit Jobs in the districts
	completed               int           // rounds seen Completed so far, all districts
}

// soakDistrict is what the test saw of one district's rounds.
type soakDistrict struct {
	ns        string
	expected  int64               // residents expected in every round: Σ (residents - exempt)
	completed map[string]bool     // rounds seen Completed (checked once, when first seen)
	exceeded  map[string]bool     // rounds seen DeadlineExceeded
	results   map[string][2]int64 // round -> sampled, missed
}

// TestSoak runs three districts' compressed daily schedules for 30 minutes
// (SWEEP_SOAK_DURATION overrides, e.g. 10m) on one manager with the job
// executor, samples the manager's heap, RSS, goroutines and open file
// descriptors every 10 s, and fails if they grow without bound (soakGrowth)
// or the rounds did not do their job: too few completed, a completed round
// whose numbers do not add up, or finished rounds not pruned to the
// schedule's history limit. It writes the samples to docs/soak.csv
// (SWEEP_SOAK_OUT names another directory); `make soak-plot`, which `make
// test-reliability` runs after the tests, draws docs/soak.png from them
// (test/bench/soakplot, outside the main module with its plotting library).
func TestSoak(t *testing.T) {
	t.Parallel()
	duration := soakDefaultDuration
	if v := os.Getenv("SWEEP_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SWEEP_SOAK_DURATION=%q: %v", v, err)
		}
		duration = d
	}
	if duration < soakMinDuration {
		t.Fatalf("SWEEP_SOAK_DURATION=%s is shorter than %s: each district needs two completed rounds to show pruning, and each third of the samples a full round", duration, soakMinDuration)
	}
	outDir := filepath.Join(root, "docs")
	if v := os.Getenv("SWEEP_SOAK_OUT"); v != "" {
		outDir = v
	}

	cl := startCluster(t, nil)
	cl.soakAwaitCRD(t, "testingschedules")
	metricsAddr := testharness.FreeAddr(t)
	mgr := cl.startManager(t, "soak", "--drill-time-scale="+drillTimeScale,
		"--metrics-bind-address="+metricsAddr, "--metrics-secure=false")
	metricsURL := "http://" + metricsAddr + "/metrics"
	await(t, time.Minute, "the manager's metrics endpoint", func(context.Context) (bool, error) {
		_, err := testharness.Scrape(metricsURL, testharness.ScrapeOptions{})
		return err == nil, err
	})

	ctx := context.Background()
	districts := make([]*soakDistrict, len(soakDistricts))
	for i, ns := range soakDistricts {
		cl.namespace(t, ns)
		d := &soakDistrict{ns: ns, completed: map[string]bool{}, exceeded: map[string]bool{}, results: map[string][2]int64{}}
		for _, b := range soakRoster(ns, int64(i)) {
			if err := cl.c.Create(ctx, b); err != nil {
				t.Fatal(err)
			}
			d.expected += int64(b.Spec.Residents - b.Spec.Exempt)
		}
		districts[i] = d
	}
	start := time.Now()
	for i, d := range districts {
		if err := cl.c.Create(ctx, soakSchedule(d.ns, i)); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("soak for %s: %d districts of %d buildings, a round every %s each (offset 1 min), sampling every %s",
		duration, len(districts), soakBuildings, soakPeriod, soakSampleEvery)

	var samples []soakSample
	ticker := time.NewTicker(soakSampleEvery)
	defer ticker.Stop()
	end := start.Add(duration)
	failures := 0 // readings of the manager in a row: a busy machine may miss one, not three
	var prev soakSample
	for {
		s := soakSample{at: time.Since(start)}
		if err := soakRead(metricsURL, &s); err != nil {
			if failures++; failures >= 3 {
				t.Fatalf("reading the manager's metrics at %s failed three times in a row: %v", s.at.Round(time.Second), err)
			}
			t.Logf("reading the manager's metrics at %s: %v", s.at.Round(time.Second), err)
		} else {
			failures = 0
			// The cluster's side: rounds checked, objects counted. On a
			// loaded machine a List may time out; the sample then keeps
			// the previous counts (the rounds are checked at the next one).
			var err error
			for _, d := range districts {
				var r, j, v int
				if r, j, v, err = cl.soakInspect(t, d); err != nil {
					break
				}
				s.rounds, s.jobs, s.visitJobs = s.rounds+r, s.jobs+j, s.visitJobs+v
				s.completed += len(d.completed)
			}
			if err != nil {
				t.Logf("inspecting the districts at %s: %v", s.at.Round(time.Second), err)
				s.rounds, s.jobs, s.visitJobs, s.completed = prev.rounds, prev.jobs, prev.visitJobs, prev.completed
			}
			samples, prev = append(samples, s), s
			if len(samples)%int(time.Minute/soakSampleEvery) == 1 {
				t.Logf("%5s heap %.1f MiB, RSS %.1f MiB, %v goroutines, %v fds; %d rounds, %d CollectionJobs, %d visit Jobs; %d rounds completed so far",
					s.at.Round(time.Second), s.heap/(1<<20), s.rss/(1<<20), s.goroutines, s.fds, s.rounds, s.jobs, s.visitJobs, s.completed)
			}
		}
		if time.Now().After(end) {
			break
		}
		select {
		case <-ticker.C:
		case <-mgr.exited:
			t.Fatalf("the manager exited after %s", time.Since(start).Round(time.Second))
		}
	}

	if err := soakWrite(samples, outDir); err != nil {
		t.Errorf("writing the samples: %v", err)
	}
	first, last := samples[0], samples[len(samples)-1]
	t.Logf("%d samples over %s; first: heap %.1f MiB, RSS %.1f MiB, %v goroutines, %v fds; last: heap %.1f MiB, RSS %.1f MiB, %v goroutines, %v fds",
		len(samples), last.at.Round(time.Second), first.heap/(1<<20), first.rss/(1<<20), first.goroutines, first.fds,
		last.heap/(1<<20), last.rss/(1<<20), last.goroutines, last.fds)

	// The manager did not grow without bound.
	for _, g := range soakGrowth(samples) {
		t.Log(g.summary)
		if g.failed {
			t.Error(g.summary)
		}
	}

	// The rounds did their job.
	minRounds := max(2, int(duration/soakPeriod)-2)
	for _, d := range districts {
		t.Logf("%s: %d rounds completed, %d past their deadline", d.ns, len(d.completed), len(d.exceeded))
		if len(d.completed) < minRounds {
			t.Errorf("%s: %d rounds completed in %s, want at least %d (one every %s)", d.ns, len(d.completed), duration, minRounds, soakPeriod)
		}
	}
	for _, d := range districts {
		cl.soakAwaitPruned(t, d)
	}

}

// soakRoster is a small district: 24 buildings of 40 to 300 residents, a
// few exempt and home-visit residents, every sixth building sealed.
func soakRoster(ns string, seed int64) []*sweepv1alpha1.Building {
	out := make([]*sweepv1alpha1.Building, 0, soakBuildings)
	for i := range int64(soakBuildings) {
		residents := int32(40 + (i*37+seed*53)%260)
		level := sweepv1alpha1.ControlLevelPrecaution
		if i%6 == 0 {
			level = sweepv1alpha1.ControlLevelSealed
		}
		out = append(out, testobjects.Building(ns, fmt.Sprintf("b-%02d", i)).
			Label(sweepv1alpha1.LabelCommunity, fmt.Sprintf("c%d", i%4)).Community(fmt.Sprintf("c%d", i%4)).
			Residents(residents).Households(residents/3+1).Exempt(int32(i%5)).HomeVisit(int32(i%3)).Level(level).
			Layout(2, 6).Obj())
	}
	return out
}

// soakSchedule fires every soakPeriod at minute offset (0, 1, 2, ...) and
// keeps soakHistoryLimit finished rounds of each kind.
func soakSchedule(ns string, offset int) *sweepv1alpha1.TestingSchedule {
	cron := fmt.Sprintf("%d-59/%d * * * *", offset%int(soakPeriod/time.Minute), int(soakPeriod/time.Minute))
	return testobjects.Schedule(ns, "daily", cron).Concurrency(sweepv1alpha1.ConcurrencyForbid).StartingDeadline(60).
		HistoryLimits(soakHistoryLimit, soakHistoryLimit).RoundDuration(soakRoundDuration).Teams(soakTeams).
		Visits(2, soakVisitInterval).
		Collector(sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill,
			Drill: &sweepv1alpha1.DrillSource{Seed: int64(offset) + 1, AbsentPercent: ptr.To[int32](20), StillAbsentPercent: ptr.To[int32](40)}}).
		Obj()
}

// soakInspect checks the district's rounds once: a round seen Completed for
// the first time must add up; no more finished rounds than the history
// limit allows (plus one just finished, before its schedule prunes);
// no more CollectionJobs than those rounds and the running one hold. It
// returns the number of rounds, CollectionJobs and visit Jobs, or the
// error of a List.
func (cl *cluster) soakInspect(t *testing.T, d *soakDistrict) (rounds, jobs, visitJobs int, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var l sweepv1alpha1.TestingRoundList
	if err := cl.c.List(ctx, &l, client.InNamespace(d.ns)); err != nil {
		return 0, 0, 0, err
	}
	finished := map[sweepv1alpha1.RoundPhase]int{}
	for i := range l.Items {
		tr := &l.Items[i]
		switch tr.Status.Phase {
		case sweepv1alpha1.RoundCompleted:
			finished[tr.Status.Phase]++
			if !d.completed[tr.Name] {
				d.completed[tr.Name] = true
				d.results[tr.Name] = [2]int64{tr.Status.Residents.Sampled, tr.Status.Residents.Missed}
				soakCheckCompleted(t, d, tr)
			}
		case sweepv1alpha1.RoundDeadlineExceeded:
			finished[tr.Status.Phase]++
			d.exceeded[tr.Name] = true
		}
	}
	for phase, n := range finished {
		if n > soakHistoryLimit+1 {
			t.Errorf("%s: %d %s rounds exist, history limit %d: finished rounds are not pruned", d.ns, n, phase, soakHistoryLimit)
		}
	}
	var cjs sweepv1alpha1.CollectionJobList
	if err := cl.c.List(ctx, &cjs, client.InNamespace(d.ns)); err != nil {
		return 0, 0, 0, err
	}
	// Kept rounds of both kinds, one just finished, one running, one being
	// deleted by the garbage collector.
	if bound := (2*soakHistoryLimit + 3) * soakBuildings; len(cjs.Items) > bound {
		t.Errorf("%s: %d CollectionJobs, more than the %d that the kept and running rounds hold", d.ns, len(cjs.Items), bound)
	}
	var vj batchv1.JobList
	if err := cl.c.List(ctx, &vj, client.InNamespace(d.ns)); err != nil {
		return 0, 0, 0, err
	}
	return len(l.Items), len(cjs.Items), len(vj.Items), nil
}

// soakCheckCompleted: a Completed round swept every building of the
// district, each to the end, and every expected resident is either sampled
// or missed.
func soakCheckCompleted(t *testing.T, d *soakDistrict, tr *sweepv1alpha1.TestingRound) {
	t.Helper()
	b, r := tr.Status.Buildings, tr.Status.Residents
	switch {
	case b.Total != soakBuildings:
		t.Errorf("%s/%s Completed with %d buildings, the district has %d", d.ns, tr.Name, b.Total, soakBuildings)
	case b.Completed+b.Expired+b.Failed != b.Total:
		t.Errorf("%s/%s Completed with %d of %d buildings finished (%+v)", d.ns, tr.Name, b.Completed+b.Expired+b.Failed, b.Total, b)
	case r.Expected != d.expected:
		t.Errorf("%s/%s Completed expecting %d residents, the roster has %d", d.ns, tr.Name, r.Expected, d.expected)
	case r.Outstanding != 0 || r.Sampled+r.Missed != r.Expected:
		t.Errorf("%s/%s Completed with expected %d != sampled %d + missed %d (outstanding %d)", d.ns, tr.Name, r.Expected, r.Sampled, r.Missed, r.Outstanding)
	}
}

// soakAwaitPruned waits until the district keeps no more finished rounds
// than the history limit, every older round it saw finish is gone, and no
// CollectionJob of a deleted round is left.
func (cl *cluster) soakAwaitPruned(t *testing.T, d *soakDistrict) {
	t.Helper()
	seen := slices.Sorted(func(yield func(string) bool) {
		for name := range d.completed {
			if !yield(name) {
				return
			}
		}
	})
	await(t, 3*time.Minute, d.ns+": finished rounds pruned to the history limit and their jobs collected", func(ctx context.Context) (bool, error) {
		var l sweepv1alpha1.TestingRoundList
		if err := cl.c.List(ctx, &l, client.InNamespace(d.ns)); err != nil {
			return false, err
		}
		exists := map[string]bool{}
		finished := map[sweepv1alpha1.RoundPhase]int{}
		for _, tr := range l.Items {
			exists[tr.Name] = true
			if tr.Status.Phase == sweepv1alpha1.RoundCompleted || tr.Status.Phase == sweepv1alpha1.RoundDeadlineExceeded {
				finished[tr.Status.Phase]++
			}
		}
		for phase, n := range finished {
			if n > soakHistoryLimit {
				return false, fmt.Errorf("%d %s rounds kept", n, phase)
			}
		}
		// Round names end in the scheduled time: all but the newest
		// soakHistoryLimit completed rounds must be gone.
		for _, name := range seen[:max(0, len(seen)-soakHistoryLimit)] {
			if exists[name] {
				return false, fmt.Errorf("round %s is still there", name)
			}
		}
		var cjs sweepv1alpha1.CollectionJobList
		if err := cl.c.List(ctx, &cjs, client.InNamespace(d.ns)); err != nil {
			return false, err
		}
		for _, cj := range cjs.Items {
			if owner := metav1.GetControllerOf(&cj); owner == nil || !exists[owner.Name] {
				return false, fmt.Errorf("CollectionJob %s outlives its round", cj.Name)
			}
		}
		return true, nil
	})
	t.Logf("%s: %d completed rounds seen, %d pruned; kept %v", d.ns, len(d.completed), max(0, len(seen)-soakHistoryLimit), seen[max(0, len(seen)-soakHistoryLimit):])
}

// soakGrowthResult is the verdict on one series.
type soakGrowthResult struct {
	summary string
	failed  bool
}

// soakGrowth is the criterion for "grows without bound".
//
// The samples are cut in thirds. The first third is warm-up: the informer
// caches fill, the first rounds' objects appear, and the object count only
// reaches its steady state when the second round of each district finishes
// and the first is pruned (history limit 1; about 8 minutes). The test
// compares the median of the last third with the median of the middle
// third. Medians, because every series is noisy in a way a leak is not:
// the heap saws up and down with each garbage collection, and all four
// follow the rounds, which start every minute in one district or another
// and leave a burst of work behind; a median over a third (10 minutes at
// the default duration, three full schedule periods per district) is
// steady under that, where a single sample or the maximum is not. A leak
// proportional to the work (per reconcile, per round, per visit) keeps
// growing through the last third, so its median rises with it.
//
// Bounds: the heap may grow by at most 10% plus 4 MiB, the RSS by at most
// 10% plus 8 MiB (the RSS follows the heap's high-water mark and what the
// scavenger returned, so it is noisier), goroutines by at most 10 and open
// file descriptors by at most 5. The manager's goroutines are otherwise
// fixed workers and informers, and its fds a handful of connections and
// listeners, so a goroutine or connection leaked per visit (about 350
// visits in the 10 minutes between the two medians) is caught by far, one
// leaked per round (10 rounds in those minutes) just. For a leak that grows
// at a steady rate the two medians lie a third of the run apart in time, so
// at the default 30 minutes and a steady heap of about 15 MiB the bound
// (5.5 MiB in 10 minutes) catches any heap leak above about 33 MiB an
// hour, a leak that would take a 512 MiB pod down within a day or two.
// Relative bounds alone would let a leak pass that is already most of the
// heap at the middle third; the absolute part keeps a small, young heap
// from failing on a few MiB of noise. The least-squares slope over the last
// two thirds is reported per hour for reading, not judged: it follows the
// round bursts too closely on a short run to be a criterion.
func soakGrowth(samples []soakSample) []soakGrowthResult {
	n := len(samples)
	mid, last := samples[n/3:2*n/3], samples[2*n/3:]
	series := []struct {
		name     string
		value    func(soakSample) float64
		relative float64 // allowed growth, as a fraction of the middle median
		absolute float64 // allowed growth on top, in units
		unit     float64 // for printing
		unitName string
	}{
		{"heap (go_memstats_heap_inuse_bytes)", func(s soakSample) float64 { return s.heap }, 0.10, 4 << 20, 1 << 20, "MiB"},
		{"RSS (process_resident_memory_bytes)", func(s soakSample) float64 { return s.rss }, 0.10, 8 << 20, 1 << 20, "MiB"},
		{"goroutines (go_goroutines)", func(s soakSample) float64 { return s.goroutines }, 0, 10, 1, ""},
		{"open fds (process_open_fds)", func(s soakSample) float64 { return s.fds }, 0, 5, 1, ""},
	}
	var out []soakGrowthResult
	for _, s := range series {
		m1, m2 := soakMedian(mid, s.value), soakMedian(last, s.value)
		bound := m1*(1+s.relative) + s.absolute
		slope := soakSlope(samples[n/3:], s.value) * float64(time.Hour/time.Second)
		verdict := "bounded"
		if m2 > bound {
			verdict = "GROWS"
		}
		out = append(out, soakGrowthResult{
			summary: fmt.Sprintf("%s %s: median %.1f%s over minutes %.0f-%.0f, %.1f%s over minutes %.0f-%.0f (bound %.1f%s); slope over the last two thirds %+.1f%s per hour",
				s.name, verdict, m1/s.unit, s.unitName, mid[0].at.Minutes(), mid[len(mid)-1].at.Minutes(),
				m2/s.unit, s.unitName, last[0].at.Minutes(), last[len(last)-1].at.Minutes(), bound/s.unit, s.unitName,
				slope/s.unit, s.unitName),
			failed: m2 > bound,
		})
	}
	return out
}

func soakMedian(samples []soakSample, value func(soakSample) float64) float64 {
	v := make([]float64, len(samples))
	for i, s := range samples {
		v[i] = value(s)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// soakSlope is the least-squares slope of value against time, per second.
func soakSlope(samples []soakSample, value func(soakSample) float64) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, s := range samples {
		x, y := s.at.Seconds(), value(s)
		n, sx, sy, sxx, sxy = n+1, sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	if d := n*sxx - sx*sx; d != 0 {
		return (n*sxy - sx*sy) / d
	}
	return math.NaN()
}

// soakWrite writes soak.csv into dir; test/bench/soakplot reads its columns
// by name.
func soakWrite(samples []soakSample, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "soak.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"seconds", "heap_inuse_bytes", "rss_bytes", "goroutines", "open_fds", "rounds", "collection_jobs", "visit_jobs", "rounds_completed"})
	for _, s := range samples {
		_ = w.Write([]string{
			strconv.FormatFloat(s.at.Seconds(), 'f', 1, 64),
			strconv.FormatFloat(s.heap, 'f', 0, 64), strconv.FormatFloat(s.rss, 'f', 0, 64),
			strconv.FormatFloat(s.goroutines, 'f', 0, 64), strconv.FormatFloat(s.fds, 'f', 0, 64),
			strconv.Itoa(s.rounds), strconv.Itoa(s.jobs), strconv.Itoa(s.visitJobs), strconv.Itoa(s.completed),
		})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// soakRead fills s with the manager's heap, RSS, goroutines and open fds.
func soakRead(url string, s *soakSample) error {
	fams, err := testharness.Scrape(url, testharness.ScrapeOptions{})
	if err != nil {
		return err
	}
	for name, v := range map[string]*float64{
		"go_memstats_heap_inuse_bytes": &s.heap, "process_resident_memory_bytes": &s.rss,
		"go_goroutines": &s.goroutines, "process_open_fds": &s.fds,
	} {
		got, ok := fams.First(name)
		if !ok {
			return fmt.Errorf("the manager's metrics have no %s", name)
		}
		*v = got
	}
	return nil
}

// soakAwaitCRD waits for one of Sweep's CRDs to be established (startCluster
// waits for those the other tests use).
func (cl *cluster) soakAwaitCRD(t *testing.T, plural string) {
	t.Helper()
	await(t, time.Minute, "CRD "+plural+" established", func(ctx context.Context) (bool, error) {
		return testharness.CRDEstablished(ctx, cl.c, plural+".sweep.masstesting.io")
	})
}
