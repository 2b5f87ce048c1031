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

// Command bench measures Sweep at city scale against the API server's own
// ceiling and against the built-in Job controller, on a real control plane
// from bin/k8s. `make bench` runs it; it writes docs/performance.md and
// docs/performance.png. See docs/performance.md for what each column means.
//
// For every N:
//  1. the ceilings, on a fresh etcd and kube-apiserver (envtest) of their
//     own: the bare ceiling, a plain, unthrottled client creating N small
//     CollectionJobs with 16 workers; up to N = 10,000, Sweep's expansion of
//     a round created an hour before its start (no visits competing); the
//     fair ceiling, N Sweep-shaped CollectionJobs created with Sweep's
//     client limits and workers by a client with a CollectionJob informer;
//     the bare ceiling again, whose distance from the first run is the
//     noise the report shows next to every ratio;
//  2. on another fresh control plane, creates N Buildings, starts `sweep
//     manager` (local executor, instant drill) as its own process, and
//     creates one round over them: the expansion time is until N
//     CollectionJobs exist, the round time until the round is Completed with
//     one visit per building; pprof CPU and heap profiles go next to the
//     results;
//  3. reads API writes by resource from the API server's
//     apiserver_request_total, the manager's RSS from /proc and its heap and
//     reconcile latencies from its metrics endpoint;
//  4. starts kube-controller-manager with only the Job controller, client
//     limits equal to Sweep's, and times an Indexed Job with completions N
//     and parallelism the round's teams, its pods completed by the
//     benchmark, until its N pods exist and until it is Complete.
//
// The round and the Indexed Job are awaited on a watch of the one object
// (await.go), not polled with GETs, which loaded the API server measured.
//
// Then, once, the job executor's writes per one-visit building on a local
// kwok cluster (jobexecutor.go). With -city (`make bench-city`) it runs a
// whole city instead (city.go).
//
// The manager runs as a process of its own, not in this one, so that its
// RSS and heap are its own and not mixed with the benchmark client's.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	dto "github.com/prometheus/client_model/go"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/testharness"
)

// Sweep's client limits (cmd/sweep/manager.go defaults); the Job
// controller gets the same.
const clientQPS, clientBurst = 500, 1000

type result struct {
	N int
	// Ceilings are the bare ceiling's runs at this N (before and after the
	// other measurements on its control plane); FairCeiling the fair
	// ceiling's (see ceilings).
	Ceilings         []time.Duration
	FairCeiling      time.Duration
	Expansion, Round time.Duration
	// JobController is the time until the Job controller created the N pods
	// of the Indexed Job doing the round's work; IndexedJob until the Job
	// was Complete.
	JobController, IndexedJob time.Duration
	WritesPerBuilding         float64
	WritesByResource          map[string]float64
	StatusWritesPerSecond     float64
	PeakRSS, PeakHeap         float64 // bytes
	// CPU seconds per building (per object for the ceiling) spent by the
	// API server and by the manager, from their process_cpu_seconds_total.
	CeilingAPICPU, RoundAPICPU, RoundManagerCPU float64
	// ClosedWatches counts the CollectionJob watches the API server closed
	// during the round because their buffer stayed full (each resumes, and
	// the API server replays what it had not delivered).
	ClosedWatches float64
	// The expansion apart (from the round's creation until its N jobs
	// existed): when the first job appeared, the stalls of creation (gaps of
	// stallGap or more between two jobs), the CollectionJob status writes
	// per job the API server made meanwhile (visits of jobs admitted
	// already), the API server's and the manager's CPU per job, and the
	// CollectionJob watches closed. The visits' share is the round's total
	// less these.
	FirstJob, ExpansionStalls            time.Duration
	ExpansionJobStatusWrites             float64
	ExpansionAPICPU, ExpansionManagerCPU float64
	ExpansionClosedWatches               float64
	// BenchWatchRestarts is how many times the benchmark's own metadata
	// watch (which times the expansion) was opened again meanwhile: of the
	// expansion's closed watches, those that were not the manager's.
	BenchWatchRestarts int
	// FairClosedWatches is the CollectionJob watches closed during the fair
	// ceiling (ceilings.fairClosed).
	FairClosedWatches float64
	// IndexedJobAPICPU is the API server's CPU per pod over the Indexed Job
	// (its creation, the pods', their status writes, and the watches).
	IndexedJobAPICPU             float64
	ReconcileP50, ReconcileP99   map[string]time.Duration
	ceilingRates                 []float64 // one per bare run
	ceilingRate, fairRate        float64   // the bare runs' mean; the fair one
	expansionRate                float64
	jobControllerRate, roundRate float64
	indexedJobRate               float64
	// borrowedSpread and spreadFromN: see borrowSpreads.
	borrowedSpread float64
	spreadFromN    int
}

// ceilingSpread is how far the bare ceiling's runs at this N lie apart,
// as a fraction of their mean: a change smaller than this is noise. With
// one run, it is the spread borrowed from a smaller N (borrowSpreads).
func (r result) ceilingSpread() float64 {
	if len(r.ceilingRates) < 2 || r.ceilingRate == 0 {
		return r.borrowedSpread
	}
	return (slices.Max(r.ceilingRates) - slices.Min(r.ceilingRates)) / r.ceilingRate
}

// borrowSpreads gives each N whose bare ceiling ran once the largest
// spread measured at the other N of the run.
func borrowSpreads(rs []result) {
	worst, from := 0.0, 0
	for _, r := range rs {
		if len(r.ceilingRates) >= 2 && r.ceilingSpread() >= worst {
			worst, from = r.ceilingSpread(), r.N
		}
	}
	for i := range rs {
		if len(rs[i].ceilingRates) < 2 {
			rs[i].borrowedSpread, rs[i].spreadFromN = worst, from
		}
	}
}

// spreadText is the spread as the report shows it: borrowed ones say from
// which N.
func (r result) spreadText() string {
	if r.spreadFromN != 0 {
		return fmt.Sprintf("%.0f%% (one run; N = %d's)", 100*r.ceilingSpread(), r.spreadFromN)
	}
	return fmt.Sprintf("%.0f%%", 100*r.ceilingSpread())
}

// bareRatio is rate against the bare ceiling: against the runs' mean, and
// the lowest and highest against any single run.
func (r result) bareRatio(rate float64) (avg, low, high float64) {
	if len(r.ceilingRates) == 0 {
		return 0, 0, 0
	}
	return rate / r.ceilingRate, rate / slices.Max(r.ceilingRates), rate / slices.Min(r.ceilingRates)
}

func main() {
	ns := flag.String("n", "1000,10000,50000", "building counts, comma-separated")
	out := flag.String("out", "docs/performance.md", "the results table (Markdown)")
	png := flag.String("png", "docs/performance.png", "the chart")
	k8sBin := flag.String("k8s", "bin/k8s", "the control plane binaries")
	sweepBin := flag.String("sweep", "bin/sweep", "the sweep binary")
	crds := flag.String("crds", "config/crd/bases", "the CRDs")
	jobN := flag.Int("job-executor-buildings", 2000, "buildings of the job executor's write count (a kwok cluster); 0 skips it")
	flag.IntVar(&expansionWorkers, "expansion-workers", 0, "the manager's --expansion-workers, and the fair ceiling's workers; 0 takes the chart's manager.expansionWorkers")
	pprofDir := flag.String("pprof", "docs/performance", "where to write the manager's CPU and heap profiles (cpu-N.pprof, heap-N.pprof)")
	cityMode := flag.Bool("city", false, "run a whole city instead (make bench-city): -city-buildings over -city-districts, rounds -city-apart")
	cityBuildings := flag.Int("city-buildings", 100000, "the city's buildings")
	cityDistricts := flag.Int("city-districts", 13, "the city's districts (namespaces), one round each")
	cityApart := flag.Duration("city-apart", time.Minute, "time between one district's round and the next")
	cityTimeout := flag.Duration("city-timeout", 40*time.Minute, "how long the city's rounds may take from the first one's creation; the report then says how far they got")
	cityOut := flag.String("city-out", "docs/performance-city.md", "the city run's report, also carried into -out")
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())
	if expansionWorkers <= 0 {
		limits, err := chartLimits()
		if err != nil {
			fail(err)
		}
		expansionWorkers = limits.expansionWorkers
	}
	began := time.Now()
	if *cityMode {
		if *cityBuildings <= 0 || *cityDistricts <= 0 || *cityDistricts > *cityBuildings {
			fail(fmt.Errorf("-city-buildings %d and -city-districts %d: want at least one building per district", *cityBuildings, *cityDistricts))
		}
		r, err := city(*cityBuildings, *cityDistricts, *cityApart, *cityTimeout, *k8sBin, *sweepBin, *crds)
		if err != nil {
			fail(fmt.Errorf("city: %w", err))
		}
		section := citySection(r, strings.Join(os.Args[1:], " "))
		if err := os.WriteFile(*cityOut, []byte(section), 0o644); err != nil {
			fail(err)
		}
		if err := replaceCitySection(*out, section); err != nil {
			fail(err)
		}
		fmt.Printf("the city took %s; wrote %s and its section of %s\n", time.Since(began).Round(time.Second), *cityOut, *out)
		for _, t := range cityTargets(r) {
			if !t.holds {
				fmt.Printf("target missed: %s: %s\n", t.what, t.got)
			}
		}
		return
	}

	var results []result
	for _, f := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("-n: %q is not a positive number", f))
		}
		r, err := runN(n, *k8sBin, *sweepBin, *crds, *pprofDir)
		if err != nil {
			fail(fmt.Errorf("at %d buildings: %w", n, err))
		}
		results = append(results, r)
		fmt.Println(r.summary())
	}
	borrowSpreads(results)
	var jw *jobWrites
	if *jobN > 0 {
		w, err := jobExecutorWrites(*jobN, *k8sBin, *sweepBin)
		if err != nil {
			fail(fmt.Errorf("job executor writes: %w", err))
		}
		jw = &w
		fmt.Printf("job executor: %.2f writes per building over %d buildings\n", w.PerBuilding, w.Buildings)
	}
	took := time.Since(began)
	fmt.Printf("the whole run took %s\n", took.Round(time.Second))
	missed, err := write(results, jw, *out, *png, strings.Join(os.Args[1:], " "), took)
	if err != nil {
		fail(err)
	}
	fmt.Printf("wrote %s and %s\n", *out, *png)
	if missed > 0 {
		fmt.Printf("%d target(s) missed: see %s\n", missed, *out)
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(2)
}

func (r result) summary() string {
	return fmt.Sprintf("N=%d ceiling %.0f/s (spread %.0f%%), fair ceiling %.0f/s, expansion %.0f/s (%.2f of the ceiling, %.2f of the fair one), round %s, Job controller %.0f pods/s, %.2f writes/building, %.2f status writes/s, peak RSS %.0f MiB, heap %.0f MiB; CPU ms per object: API server %.1f at the ceiling, %.1f in the round; manager %.1f; %.0f CollectionJob watches closed by the API server; expansion apart: first job after %s, stalls %s, %.2f job status writes per job, API server CPU %.1f ms per job, %.0f watches closed (%d of them the benchmark's; %.0f during the fair ceiling); Indexed Job: API server CPU %.1f ms per pod",
		r.N, r.ceilingRate, 100*r.ceilingSpread(), r.fairRate, r.expansionRate, r.expansionRate/r.ceilingRate, r.expansionRate/r.fairRate, r.Round.Round(time.Millisecond), r.jobControllerRate,
		r.WritesPerBuilding, r.StatusWritesPerSecond, r.PeakRSS/(1<<20), r.PeakHeap/(1<<20),
		r.CeilingAPICPU*1000, r.RoundAPICPU*1000, r.RoundManagerCPU*1000, r.ClosedWatches,
		r.FirstJob.Round(time.Millisecond), r.ExpansionStalls.Round(time.Millisecond), r.ExpansionJobStatusWrites, r.ExpansionAPICPU*1000, r.ExpansionClosedWatches, r.BenchWatchRestarts, r.FairClosedWatches, r.IndexedJobAPICPU*1000)
}

func runN(n int, k8sBin, sweepBin, crds, pprofDir string) (result, error) {
	res := result{N: n}
	ctx := context.Background()

	// 1. The ceiling, on a control plane of its own: nothing to clean up
	// afterwards (deleting 50,000 objects takes minutes), and the measured
	// manager never caches them.
	c, err := ceiling(ctx, n, k8sBin, crds, pprofDir)
	if err != nil {
		return res, fmt.Errorf("ceiling: %w", err)
	}
	res.Ceilings, res.FairCeiling, res.CeilingAPICPU, res.FairClosedWatches = c.bare, c.fair, c.apiCPU, c.fairClosed

	// 2. Sweep, on a fresh control plane.
	p, err := startPlane(k8sBin, crds)
	if err != nil {
		return res, err
	}
	defer p.stop()
	for _, ns := range []string{"district", "jobref"} {
		if err := p.namespace(ctx, ns); err != nil {
			return res, err
		}
	}
	if err := p.buildings(ctx, "district", n); err != nil {
		return res, fmt.Errorf("buildings: %w", err)
	}
	mgr, err := p.startManager(sweepBin)
	if err != nil {
		return res, err
	}
	defer mgr.stop()

	var peakRSS, peakHeap atomic.Int64
	// RSS every second (a read of /proc); the heap every fifth, because a
	// scrape makes the manager gather its round metrics over every cached
	// job, which Prometheus does every 15 to 30 seconds, not every second.
	var ticks int
	stopSampling := sample(time.Second, func() {
		if rss := rssBytes(mgr.cmd.Process.Pid); rss > peakRSS.Load() {
			peakRSS.Store(rss)
		}
		if ticks++; ticks%5 != 1 {
			return
		}
		if fams, err := scrape(mgr.metricsURL); err == nil {
			heap, _ := fams.First("go_memstats_heap_inuse_bytes")
			if h := int64(heap); h > peakHeap.Load() {
				peakHeap.Store(h)
			}
		}
	})
	api0, err := readRound(ctx, p.cs, mgr)
	if err != nil {
		return res, err
	}
	cjs := countObjects(ctx, p.meta, sweepv1alpha1.GroupVersion.WithResource("collectionjobs"), "district")
	defer cjs.stop()
	tr := cityRound("district", n, nil)
	start := time.Now()
	if err := p.c.Create(ctx, tr); err != nil {
		return res, err
	}
	// A CPU profile of the round's first 30 seconds (expansion and the
	// first visits): where the manager's time goes when it matters most.
	// The API server's profile over the same seconds: where the time goes
	// on the other side of every write and watch.
	cpuDone := make(chan error, 2)
	go func() {
		cpuDone <- fetchProfile("http://"+mgr.pprofAddr+"/debug/pprof/profile?seconds=30", filepath.Join(pprofDir, fmt.Sprintf("cpu-%d.pprof", n)))
	}()
	go func() {
		cpuDone <- apiServerProfile(ctx, p.cs, filepath.Join(pprofDir, fmt.Sprintf("apiserver-cpu-%d.pprof", n)))
	}()
	if err := until(30*time.Minute, func() bool { return cjs.count() >= n }); err != nil {
		return res, fmt.Errorf("expansion: %d of %d jobs: %w", cjs.count(), n, err)
	}
	res.Expansion = time.Since(start)
	// Stop counting: this watch would otherwise carry every status write
	// of the round to the benchmark, on the API server the round is
	// measured on.
	cjs.stop()
	// The expansion apart from the visits: what else the API server did
	// while the jobs were created (the first visits' status writes), what
	// it cost, which watches it closed, and whether creation stalled.
	apiE, err := readRound(ctx, p.cs, mgr)
	if err != nil {
		return res, err
	}
	first, stalls := cjs.firstAndStalls()
	res.FirstJob, res.ExpansionStalls = first.Sub(start), stalls
	res.ExpansionJobStatusWrites = (apiE.writes["collectionjobs/status"] - api0.writes["collectionjobs/status"]) / float64(n)
	res.ExpansionAPICPU = (apiE.cpu - api0.cpu) / float64(n)
	res.ExpansionManagerCPU = (apiE.managerCPU - api0.managerCPU) / float64(n)
	res.ExpansionClosedWatches = apiE.closed - api0.closed
	res.BenchWatchRestarts = cjs.restarts()
	// Once the jobs exist the round only visits: where the time goes then,
	// on both sides, over 30 seconds, where the round lasts minutes (and
	// its expansion longer than the first profiles).
	if n >= profileMinN {
		for range 2 {
			if err := <-cpuDone; err != nil {
				return res, fmt.Errorf("CPU profile: %w", err)
			}
		}
		go func() {
			cpuDone <- fetchProfile("http://"+mgr.pprofAddr+"/debug/pprof/profile?seconds=30", filepath.Join(pprofDir, fmt.Sprintf("cpu-visits-%d.pprof", n)))
		}()
		go func() {
			cpuDone <- apiServerProfile(ctx, p.cs, filepath.Join(pprofDir, fmt.Sprintf("apiserver-cpu-visits-%d.pprof", n)))
		}()
	}
	if err := awaitRoundCompleted(ctx, p.dyn, tr.Namespace, tr.Name, 60*time.Minute); err != nil {
		return res, fmt.Errorf("the round did not complete: %w", err)
	}
	res.Round = time.Since(start)
	stopSampling()
	// The heap with the whole round cached: what the RSS target is about.
	if err := fetchProfile("http://"+mgr.pprofAddr+"/debug/pprof/heap?gc=1", filepath.Join(pprofDir, fmt.Sprintf("heap-%d.pprof", n))); err != nil {
		return res, fmt.Errorf("heap profile: %w", err)
	}
	for range 2 { // the first profiles, or those of the visits
		if err := <-cpuDone; err != nil {
			return res, fmt.Errorf("CPU profile: %w", err)
		}
	}
	api1, err := readRound(ctx, p.cs, mgr)
	if err != nil {
		return res, err
	}
	res.ClosedWatches = api1.closed - api0.closed
	res.RoundAPICPU = (api1.cpu - api0.cpu) / float64(n)
	res.RoundManagerCPU = (api1.managerCPU - api0.managerCPU) / float64(n)
	res.WritesByResource, res.WritesPerBuilding = writesPerBuilding(api0.writes, api1.writes, n)
	res.StatusWritesPerSecond = (api1.writes["testingrounds/status"] - api0.writes["testingrounds/status"]) / res.Round.Seconds()
	fams, err := scrape(mgr.metricsURL)
	if err != nil {
		return res, err
	}
	res.ReconcileP50, res.ReconcileP99 = map[string]time.Duration{}, map[string]time.Duration{}
	for _, ctl := range []string{"testinground", "collectionjob"} {
		res.ReconcileP50[ctl] = quantile(fams, "controller_runtime_reconcile_time_seconds", ctl, 0.5)
		res.ReconcileP99[ctl] = quantile(fams, "controller_runtime_reconcile_time_seconds", ctl, 0.99)
	}
	if rss := rssPeakBytes(mgr.cmd.Process.Pid); rss > peakRSS.Load() {
		peakRSS.Store(rss)
	}
	res.PeakRSS, res.PeakHeap = float64(peakRSS.Load()), float64(peakHeap.Load())
	mgr.stop()

	// 4. The built-in Job controller, on the same API server, and what
	// its pods cost the API server: the same work in built-in objects.
	jobCPU0, err := apiServerCPU(ctx, p.cs)
	if err != nil {
		return res, err
	}
	if res.JobController, res.IndexedJob, err = jobControllerRound(ctx, n, k8sBin, p.kubeconfig, p.dir, p.c, p.cs, p.meta, p.dyn); err != nil {
		return res, fmt.Errorf("job controller: %w", err)
	}
	jobCPU1, err := apiServerCPU(ctx, p.cs)
	if err != nil {
		return res, err
	}
	res.IndexedJobAPICPU = (jobCPU1 - jobCPU0) / float64(n)
	for _, d := range res.Ceilings {
		res.ceilingRates = append(res.ceilingRates, float64(n)/d.Seconds())
	}
	res.ceilingRate = mean(res.ceilingRates)
	res.fairRate = float64(n) / res.FairCeiling.Seconds()
	res.expansionRate = float64(n) / res.Expansion.Seconds()
	res.roundRate = float64(n) / res.Round.Seconds()
	res.jobControllerRate = float64(n) / res.JobController.Seconds()
	res.indexedJobRate = float64(n) / res.IndexedJob.Seconds()
	return res, nil
}

// profileMinN is the smallest N whose run is long enough for the second
// pair of 30-second profiles (the visits') and the ceiling's API server
// profile.
const profileMinN = 10000

// bareOnceFromN is the smallest N whose bare ceiling runs once: a second
// run at 50,000 takes about 100 seconds of a run that must fit in 30
// minutes. Its noise is then the largest spread of the smaller N of the
// same run (the "or several times at small N"), said in the report.
const bareOnceFromN = 50000

// ceilings is what the ceiling's control plane measured for one N.
type ceilings struct {
	// bare are the times of a plain, unthrottled client creating n small
	// CollectionJobs with 16 workers: first before everything else on the
	// plane, then again at the end (with the other runs' objects stored),
	// so that the report shows how far the same measurement moves.
	bare []time.Duration
	// fair is the time until n Sweep-shaped CollectionJobs (round.NewJob,
	// as the round's expansion creates them) exist, created with Sweep's
	// client limits and expansion workers by a client with a full-object
	// CollectionJob informer attached, as the manager has: what expansion
	// could reach if Sweep did nothing but create. Timed as the expansion
	// is, by a metadata watch counting the jobs.
	fair time.Duration
	// apiCPU is the API server's CPU seconds per object of the first bare run.
	apiCPU float64
	// fairClosed is how many CollectionJob watches the API server closed
	// during the fair ceiling (its client's informer and the counting
	// watch): what creating at that pace costs any watcher, Sweep or not.
	fairClosed float64
}

// ceiling measures, on a fresh control plane started for it: the bare
// ceiling, the fair ceiling, and the bare ceiling again.
func ceiling(ctx context.Context, n int, k8sBin, crds, pprofDir string) (ceilings, error) {
	var c ceilings
	p, err := startPlane(k8sBin, crds)
	if err != nil {
		return c, err
	}
	defer p.stop()
	cpu0, err := apiServerCPU(ctx, p.cs)
	if err != nil {
		return c, err
	}
	// The ceiling's API server profile, to compare with the round's (only
	// where the creates outlast most of its 30 seconds).
	profDone := make(chan error, 1)
	if n >= profileMinN {
		go func() {
			profDone <- apiServerProfile(ctx, p.cs, filepath.Join(pprofDir, fmt.Sprintf("apiserver-cpu-ceiling-%d.pprof", n)))
		}()
	} else {
		profDone <- nil
	}
	first, err := bareCeiling(ctx, p, "ceiling", n)
	if err != nil {
		return c, err
	}
	c.bare = append(c.bare, first)
	cpu1, err := apiServerCPU(ctx, p.cs)
	if err != nil {
		return c, err
	}
	c.apiCPU = (cpu1 - cpu0) / float64(n)
	if err := <-profDone; err != nil {
		return c, fmt.Errorf("API server profile: %w", err)
	}
	closed0, err := closedJobWatches(ctx, p.cs)
	if err != nil {
		return c, err
	}
	if c.fair, err = fairCeiling(ctx, p, n); err != nil {
		return c, fmt.Errorf("fair ceiling: %w", err)
	}
	closed1, err := closedJobWatches(ctx, p.cs)
	if err != nil {
		return c, err
	}
	c.fairClosed = closed1 - closed0
	if n >= bareOnceFromN {
		return c, nil
	}
	again, err := bareCeiling(ctx, p, "ceiling-again", n)
	if err != nil {
		return c, err
	}
	c.bare = append(c.bare, again)
	return c, nil
}

// bareCeiling times a plain, unthrottled client creating n small
// CollectionJobs in a new namespace ns with 16 workers.
func bareCeiling(ctx context.Context, p *plane, ns string, n int) (time.Duration, error) {
	if err := p.namespace(ctx, ns); err != nil {
		return 0, err
	}
	deadline := metav1.NewTime(time.Now().Add(6 * time.Hour))
	start := time.Now()
	err := parallel(n, 16, func(i int) error {
		return p.c.Create(ctx, &sweepv1alpha1.CollectionJob{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("ceiling-b-%05d", i)},
			Spec: sweepv1alpha1.CollectionJobSpec{Round: "ceiling", Building: fmt.Sprintf("b-%05d", i), Expected: 100,
				Households: 40, Deadline: deadline, Suspend: true,
				Collector: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill}},
		})
	})
	return time.Since(start), err
}

// expansionWorkers is the create pipeline's workers (`sweep manager
// --expansion-workers`), and the fair ceiling's: -expansion-workers, or the
// chart's manager.expansionWorkers (main sets it before any run).
var expansionWorkers int

// fairCeiling times n Sweep-shaped CollectionJobs created in namespace
// "fair" with the manager's client limits and expansion workers, while a
// full-object CollectionJob informer (the manager's cache has one) receives
// every one of them, timed by a metadata watch as the expansion is. No
// round object exists: nothing on the plane acts on these jobs.
func fairCeiling(ctx context.Context, p *plane, n int) (time.Duration, error) {
	const ns = "fair"
	if err := p.namespace(ctx, ns); err != nil {
		return 0, err
	}
	cfg := rest.CopyConfig(p.cfg)
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	c, err := client.New(cfg, client.Options{Scheme: p.c.Scheme()})
	if err != nil {
		return 0, err
	}
	informers, err := crcache.New(cfg, crcache.Options{Scheme: p.c.Scheme(), DefaultNamespaces: map[string]crcache.Config{ns: {}}})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if _, err := informers.GetInformer(ctx, &sweepv1alpha1.CollectionJob{}); err != nil {
		return 0, err
	}
	go func() { _ = informers.Start(ctx) }()
	if !informers.WaitForCacheSync(ctx) {
		return 0, errors.New("the CollectionJob informer did not sync")
	}
	tr := cityRound(ns, n, nil)
	tr.UID = uuid.NewUUID()
	tr.Spec.PoolSize = 10
	cjs := countObjects(ctx, p.meta, sweepv1alpha1.GroupVersion.WithResource("collectionjobs"), ns)
	defer cjs.stop()
	start := time.Now()
	err = parallel(n, expansionWorkers, func(i int) error {
		return c.Create(ctx, round.NewJob(tr, benchBuilding(ns, i)))
	})
	if err != nil {
		return 0, err
	}
	if err := until(30*time.Minute, func() bool { return cjs.count() >= n }); err != nil {
		return 0, fmt.Errorf("%d of %d jobs seen: %w", cjs.count(), n, err)
	}
	return time.Since(start), nil
}

// jobControllerRound is the Job controller doing a round's work: one
// Indexed Job of n pods (completions n, parallelism the round's teams),
// its pods completed by the benchmark standing in for the kubelet. It
// returns the time until the n pods were created and until the Job was
// Complete.
func jobControllerRound(ctx context.Context, n int, k8sBin, kubeconfig, dir string, c client.Client, cs kubernetes.Interface, meta metadata.Interface, dyn dynamic.Interface) (created, completed time.Duration, err error) {
	kcm := exec.Command(filepath.Join(k8sBin, "kube-controller-manager"), "--kubeconfig="+kubeconfig,
		"--controllers=job", "--leader-elect=false", "--secure-port=0",
		fmt.Sprintf("--kube-api-qps=%d", clientQPS), fmt.Sprintf("--kube-api-burst=%d", clientBurst))
	logf, err := os.Create(filepath.Join(dir, "kcm.log"))
	if err != nil {
		return 0, 0, err
	}
	defer logf.Close()
	kcm.Stdout, kcm.Stderr = logf, logf
	if err := kcm.Start(); err != nil {
		return 0, 0, err
	}
	defer func() { _ = kcm.Process.Signal(syscall.SIGTERM); _ = kcm.Wait() }()
	// No ServiceAccount controller runs: give the namespace its default
	// account so that pods pass admission.
	if err := c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "jobref", Name: "default"}}); err != nil {
		return 0, 0, err
	}
	kubelet := completePods(ctx, cs, meta, "jobref", n)
	defer kubelet.stop()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: "jobref", Name: "round"},
		Spec: batchv1.JobSpec{
			CompletionMode: ptr.To(batchv1.IndexedCompletion),
			Completions:    ptr.To(int32(n)), Parallelism: ptr.To(int32(min(n, maxTeams))),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy:                corev1.RestartPolicyNever,
				AutomountServiceAccountToken: ptr.To(false),
				Containers:                   []corev1.Container{{Name: "c", Image: "collector"}},
			}},
		},
	}
	start := time.Now()
	if err := c.Create(ctx, job); err != nil {
		return 0, 0, err
	}
	// The pods' creation and the completer's errors are in memory, polled;
	// the Job's completion is awaited on a watch, as the round's is.
	waitCtx, stopWaiting := context.WithCancelCause(ctx)
	defer stopWaiting(nil)
	stopPolling := sample(100*time.Millisecond, func() {
		if created == 0 && kubelet.created.Load() >= int64(n) {
			created = time.Since(start)
		}
		if err := kubelet.failed(); err != nil {
			stopWaiting(err)
		}
	})
	err = awaitJobComplete(waitCtx, dyn, job.Namespace, job.Name, 60*time.Minute)
	completed = time.Since(start)
	stopPolling()
	if created == 0 && kubelet.created.Load() >= int64(n) {
		created = completed
	}
	if err == nil {
		err = kubelet.failed()
	}
	if err != nil {
		return created, 0, fmt.Errorf("the Indexed Job: %d of %d pods created, %d completed: %w", kubelet.created.Load(), n, kubelet.completed.Load(), err)
	}
	return created, completed, nil
}

// maxTeams is the most teams a round may have (the schema's maximum).
const maxTeams = 10000

// podCompleter stands in for the kubelet on a control plane without nodes:
// every pod that appears in its namespace is marked Succeeded with one
// status write, a kubelet's last, by 16 workers.
type podCompleter struct {
	created, completed atomic.Int64
	stop               func()
	mu                 sync.Mutex
	err                error
}

func (k *podCompleter) failed() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.err
}

func completePods(ctx context.Context, cs kubernetes.Interface, meta metadata.Interface, ns string, n int) *podCompleter {
	ctx, cancel := context.WithCancel(ctx)
	k := &podCompleter{stop: cancel}
	names := make(chan string, n)
	inf := metadatainformer.NewFilteredMetadataInformer(meta, corev1.SchemeGroupVersion.WithResource("pods"), ns, 0, cache.Indexers{}, nil).Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			k.created.Add(1)
			if m, ok := obj.(metav1.Object); ok {
				select {
				case names <- m.GetName():
				default: // more pods than the Job has: not this benchmark's
				}
			}
		},
	})
	go inf.Run(ctx.Done())
	succeeded := []byte(`{"status":{"phase":"Succeeded"}}`)
	for range 16 {
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case name := <-names:
					_, err := cs.CoreV1().Pods(ns).Patch(ctx, name, types.MergePatchType, succeeded, metav1.PatchOptions{}, "status")
					if err != nil && ctx.Err() == nil {
						k.mu.Lock()
						k.err = errors.Join(k.err, fmt.Errorf("completing pod %s: %w", name, err))
						k.mu.Unlock()
						continue
					}
					k.completed.Add(1)
				}
			}
		}()
	}
	return k
}

// fetchProfile saves one of the manager's pprof profiles.
func fetchProfile(url, path string) error {
	resp, err := http.Get(url) //nolint:gosec // a loopback address this program chose
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// parallel runs f(0..n-1) on workers goroutines; the first error wins.
func parallel(n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// counter counts the objects of one resource in one namespace through a
// metadata-only watch, so that watching 50,000 objects stays cheap. It also
// keeps when the first object appeared and how long creation stalled.
type counter struct {
	n       atomic.Int64
	watches atomic.Int64 // watches opened
	stop    func()

	mu     sync.Mutex
	first  time.Time     // the first object seen
	last   time.Time     // the latest object seen
	stalls time.Duration // the gaps of at least stallGap between two objects seen
}

// stallGap is the least gap between two new objects that counts as a stall
// of creation: at the few hundred objects a second of expansion, half a
// second with none means nothing was being created, not a slow create.
const stallGap = 500 * time.Millisecond

func (c *counter) count() int { return int(c.n.Load()) }

// restarts is how many times the counter's watch was opened again.
func (c *counter) restarts() int { return max(int(c.watches.Load())-1, 0) }

// seen records one new object at now.
func (c *counter) seen(now time.Time) {
	c.n.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first.IsZero() {
		c.first = now
	}
	if gap := now.Sub(c.last); !c.last.IsZero() && gap >= stallGap {
		c.stalls += gap
	}
	c.last = now
}

// firstAndStalls is when the first object was seen and the stalls so far.
func (c *counter) firstAndStalls() (time.Time, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first, c.stalls
}

func countObjects(ctx context.Context, meta metadata.Interface, gvr schema.GroupVersionResource, ns string) *counter {
	ctx, cancel := context.WithCancel(ctx)
	c := &counter{stop: cancel}
	// Every watch the informer opens after its first is a restart: the API
	// server closed the one before (a watcher that fell behind, or its
	// timeout of 5 to 10 minutes).
	countWatches := func(o *metav1.ListOptions) {
		if o.TimeoutSeconds != nil {
			c.watches.Add(1)
		}
	}
	inf := metadatainformer.NewFilteredMetadataInformer(meta, gvr, ns, 0, cache.Indexers{}, countWatches).Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.seen(time.Now()) },
		DeleteFunc: func(any) { c.n.Add(-1) },
	})
	go inf.Run(ctx.Done())
	return c
}

// until polls cond every 100 ms, as testharness.Poll does.
func until(timeout time.Duration, cond func() bool) error {
	return testharness.Poll(context.Background(), timeout, 100*time.Millisecond, func(context.Context) (bool, error) { return cond(), nil })
}

// sample calls f every interval until the returned stop is called (once or
// more: later calls do nothing).
func sample(interval time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			f()
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-finished }) }
}

func scrape(url string) (testharness.Metrics, error) {
	return testharness.Scrape(url, testharness.ScrapeOptions{})
}

// quantile estimates a quantile of one controller's histogram, linearly
// within the bucket, as Prometheus's histogram_quantile does.
func quantile(fams map[string]*dto.MetricFamily, name, controller string, q float64) time.Duration {
	f := fams[name]
	if f == nil {
		return 0
	}
	for _, m := range f.Metric {
		if testharness.Label(m, "controller") != controller {
			continue
		}
		h := m.GetHistogram()
		total := float64(h.GetSampleCount())
		if total == 0 {
			return 0
		}
		rank := q * total
		prevBound, prevCount := 0.0, 0.0
		for _, b := range h.Bucket {
			c := float64(b.GetCumulativeCount())
			if c >= rank {
				frac := 0.0
				if c > prevCount {
					frac = (rank - prevCount) / (c - prevCount)
				}
				return time.Duration((prevBound + frac*(b.GetUpperBound()-prevBound)) * float64(time.Second))
			}
			prevBound, prevCount = b.GetUpperBound(), c
		}
		return time.Duration(prevBound * float64(time.Second))
	}
	return 0
}

// apiServerCPU is the API server's process_cpu_seconds_total.
func apiServerCPU(ctx context.Context, cs kubernetes.Interface) (float64, error) {
	fams, err := apiServerMetrics(ctx, cs)
	if err != nil {
		return 0, err
	}
	return counterValue(fams, "process_cpu_seconds_total"), nil
}

// closedJobWatches is the API server's apiserver_terminated_watchers_total
// for CollectionJobs: watchers it closed because they fell behind.
func closedJobWatches(ctx context.Context, cs kubernetes.Interface) (float64, error) {
	fams, err := apiServerMetrics(ctx, cs)
	if err != nil {
		return 0, err
	}
	return closedJobWatchesOf(fams), nil
}

func closedJobWatchesOf(fams map[string]*dto.MetricFamily) float64 {
	const resource = "collectionjobs"
	var n float64
	if f := fams["apiserver_terminated_watchers_total"]; f != nil {
		for _, m := range f.Metric {
			if testharness.Label(m, "resource") == resource {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// apiReading is one reading of the API server's counters, from one scrape
// of its /metrics: its CPU, its writes by resource, the CollectionJob
// watches it closed; and the manager's CPU at the same moment (readRound).
type apiReading struct {
	cpu        float64
	writes     map[string]float64
	closed     float64
	managerCPU float64
}

// readRound reads the API server's counters and the manager's CPU.
func readRound(ctx context.Context, cs kubernetes.Interface, mgr *sweepManager) (apiReading, error) {
	r, err := readAPIServer(ctx, cs)
	if err != nil {
		return r, err
	}
	r.managerCPU, err = managerCPU(mgr)
	return r, err
}

func readAPIServer(ctx context.Context, cs kubernetes.Interface) (apiReading, error) {
	fams, err := apiServerMetrics(ctx, cs)
	if err != nil {
		return apiReading{}, err
	}
	writes, err := writesOf(fams, false)
	if err != nil {
		return apiReading{}, err
	}
	return apiReading{cpu: counterValue(fams, "process_cpu_seconds_total"), writes: writes, closed: closedJobWatchesOf(fams)}, nil
}

// managerCPU is the manager's process_cpu_seconds_total.
func managerCPU(m *sweepManager) (float64, error) {
	fams, err := scrape(m.metricsURL)
	if err != nil {
		return 0, err
	}
	return counterValue(fams, "process_cpu_seconds_total"), nil
}

func counterValue(fams map[string]*dto.MetricFamily, name string) float64 {
	f := fams[name]
	if f == nil || len(f.Metric) == 0 {
		return 0
	}
	return f.Metric[0].GetCounter().GetValue()
}

// apiServerProfile saves a 30-second CPU profile of the API server (its
// /debug/pprof, on by default; the benchmark's client is an admin).
func apiServerProfile(ctx context.Context, cs kubernetes.Interface, path string) error {
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "30").
		Timeout(time.Minute).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("the API server's CPU profile: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

func apiServerMetrics(ctx context.Context, cs kubernetes.Interface) (map[string]*dto.MetricFamily, error) {
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's metrics: %w", err)
	}
	return testharness.ParseMetrics(bytes.NewReader(raw))
}

// apiWrites reads the API server's own count of mutating requests, by
// resource (and subresource), from its /metrics.
func apiWrites(ctx context.Context, cs kubernetes.Interface) (map[string]float64, error) {
	return readAPIWrites(ctx, cs, false)
}

// apiWritesDetail is apiWrites by "resource[/subresource] verb code": which
// writes were conflicts, which were server-side applies.
func apiWritesDetail(ctx context.Context, cs kubernetes.Interface) (map[string]float64, error) {
	return readAPIWrites(ctx, cs, true)
}

// writesPerBuilding is the API writes between two apiWrites readings per
// building, by resource, and their sum without events and leases: events
// are not state, and leases here are the API server's own identity leases
// (the manager runs without leader election).
func writesPerBuilding(before, after map[string]float64, buildings int) (byResource map[string]float64, total float64) {
	byResource = map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			byResource[k] = d / float64(buildings)
			if k != "events" && k != "leases" {
				total += d / float64(buildings)
			}
		}
	}
	return byResource, total
}

func readAPIWrites(ctx context.Context, cs kubernetes.Interface, detail bool) (map[string]float64, error) {
	fams, err := apiServerMetrics(ctx, cs)
	if err != nil {
		return nil, err
	}
	return writesOf(fams, detail)
}

func writesOf(fams map[string]*dto.MetricFamily, detail bool) (map[string]float64, error) {
	out := map[string]float64{}
	f := fams["apiserver_request_total"]
	if f == nil {
		return nil, errors.New("the API server has no apiserver_request_total")
	}
	for _, m := range f.Metric {
		verb := testharness.Label(m, "verb")
		switch verb {
		case "POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION":
		default:
			continue
		}
		key := testharness.Label(m, "resource")
		if sub := testharness.Label(m, "subresource"); sub != "" {
			key += "/" + sub
		}
		if detail {
			key += " " + verb + " " + testharness.Label(m, "code")
		}
		out[key] += m.GetCounter().GetValue()
	}
	return out, nil
}

// rssBytes is a process's resident set now; rssPeakBytes its peak.
func rssBytes(pid int) int64     { return procStatus(pid, "VmRSS:") }
func rssPeakBytes(pid int) int64 { return procStatus(pid, "VmHWM:") }

func procStatus(pid int, key string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, key) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
