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
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testharness"
)

// cityDistrict is one district of the city run: its round's times.
type cityDistrict struct {
	Namespace string
	Buildings int
	Created   bool // its round was created before the run ended
	// Started is when its round was created, after the first district's;
	// Expanded and Completed are measured from its own round's creation.
	Started, Expanded, Completed time.Duration
}

// cityResult is a whole city on one manager and one control plane.
type cityResult struct {
	Districts                    []cityDistrict
	Buildings                    int
	Took                         time.Duration // first round created to last completed
	Apart, Timeout               time.Duration
	TimedOut                     bool
	WritesPerBuilding            float64
	WritesByResource             map[string]float64
	ManagerRSS, APIServerRSS     float64 // peak bytes
	EtcdRSS, EtcdDB              float64 // peak bytes; the database's size at the end
	ClosedWatches                float64
	RoundStatusWritesPerSecond   float64
	managerLimit, managerGoProcs int64
}

// splitCity divides buildings over districts as evenly as whole buildings
// allow, the first districts taking one more.
func splitCity(buildings, districts int) []int {
	out := make([]int, districts)
	for i := range out {
		out[i] = buildings / districts
		if i < buildings%districts {
			out[i]++
		}
	}
	return out
}

// stopErr is an error that ends the city run at once, unlike running out
// of time, after which the report says how far the city got.
type stopErr struct{ error }

func (e stopErr) Unwrap() error { return e.error }

// processAlive says whether the process is still there (not yet reaped
// and not a zombie).
func processAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	return err == nil && !strings.Contains(string(data), "State:\tZ")
}

// city runs a whole city on one control plane and one `sweep manager`:
// districts namespaces holding buildings in all, one one-visit round per
// district started apart from the one before, until every round is
// Completed or timeout has passed since the first round.
func city(buildings, districts int, apart, timeout time.Duration, k8sBin, sweepBin, crds string) (cityResult, error) {
	res := cityResult{Buildings: buildings, Apart: apart, Timeout: timeout}
	ctx := context.Background()
	p, err := startPlane(k8sBin, crds)
	if err != nil {
		return res, err
	}
	defer p.stop()
	for i, n := range splitCity(buildings, districts) {
		ns := fmt.Sprintf("district-%02d", i+1)
		if err := p.namespace(ctx, ns); err != nil {
			return res, err
		}
		if err := p.buildings(ctx, ns, n); err != nil {
			return res, fmt.Errorf("buildings of %s: %w", ns, err)
		}
		res.Districts = append(res.Districts, cityDistrict{Namespace: ns, Buildings: n})
		fmt.Printf("city: %s has %d buildings\n", ns, n)
	}
	mgr, err := p.startManager(sweepBin)
	if err != nil {
		return res, err
	}
	defer mgr.stop()
	limits, err := chartLimits()
	if err != nil {
		return res, err
	}
	res.managerLimit, res.managerGoProcs = limits.memory, limits.gomaxprocs()

	var peakAPI, peakEtcd atomic.Int64
	etcdMetrics := p.env.ControlPlane.Etcd.URL.String() + "/metrics"
	stopSampling := sample(5*time.Second, func() {
		if fams, err := apiServerMetrics(ctx, p.cs); err == nil {
			if v := int64(counterOrGauge(fams, "process_resident_memory_bytes")); v > peakAPI.Load() {
				peakAPI.Store(v)
			}
		}
		if fams, err := scrape(etcdMetrics); err == nil {
			if v := int64(counterOrGauge(fams, "process_resident_memory_bytes")); v > peakEtcd.Load() {
				peakEtcd.Store(v)
			}
		}
	})
	defer stopSampling()

	before, err := apiWrites(ctx, p.cs)
	if err != nil {
		return res, err
	}
	closed0, err := closedJobWatches(ctx, p.cs)
	if err != nil {
		return res, err
	}
	counters := make([]*counter, len(res.Districts))
	for i, d := range res.Districts {
		counters[i] = countObjects(ctx, p.meta, sweepv1alpha1.GroupVersion.WithResource("collectionjobs"), d.Namespace)
		defer counters[i].stop()
	}

	// One round per district, apart from the one before; every district is
	// then watched until its round completes.
	began := time.Now()
	created := make([]time.Time, len(res.Districts))
	next := 0
	err = testharness.Poll(ctx, timeout, time.Second, func(context.Context) (bool, error) {
		if mgr.cmd.ProcessState != nil || !processAlive(mgr.cmd.Process.Pid) {
			return false, testharness.Stop(fmt.Errorf("the manager exited (its log: %s)", mgr.log.Name()))
		}
		if next < len(res.Districts) && time.Since(began) >= time.Duration(next)*apart {
			d := &res.Districts[next]
			if err := p.c.Create(ctx, cityRound(d.Namespace, d.Buildings, nil)); err != nil {
				return false, testharness.Stop(stopErr{fmt.Errorf("round of %s: %w", d.Namespace, err)})
			}
			created[next] = time.Now()
			d.Started, d.Created = created[next].Sub(began), true
			fmt.Printf("city: round of %s created at +%s\n", d.Namespace, d.Started.Round(time.Second))
			next++
		}
		done := true
		for i := range next {
			d := &res.Districts[i]
			if d.Expanded == 0 && counters[i].count() >= d.Buildings {
				d.Expanded = time.Since(created[i])
			}
			if d.Completed != 0 {
				continue
			}
			var tr sweepv1alpha1.TestingRound
			if err := p.c.Get(ctx, client.ObjectKey{Namespace: d.Namespace, Name: "city"}, &tr); err == nil && tr.Status.Phase == sweepv1alpha1.RoundCompleted {
				d.Completed = time.Since(created[i])
				fmt.Printf("city: %s completed in %s\n", d.Namespace, d.Completed.Round(time.Second))
				continue
			}
			done = false
		}
		return done && next == len(res.Districts), nil
	})
	var stopped stopErr
	if errors.As(err, &stopped) {
		return res, fmt.Errorf("the city's rounds: %w", err)
	}
	// Out of time, the report still says how far the city got.
	res.TimedOut = err != nil
	res.Took = time.Since(began)
	stopSampling()

	after, err := apiWrites(ctx, p.cs)
	if err != nil {
		return res, err
	}
	res.WritesByResource, res.WritesPerBuilding = writesPerBuilding(before, after, buildings)
	res.RoundStatusWritesPerSecond = (after["testingrounds/status"] - before["testingrounds/status"]) / res.Took.Seconds()
	closed1, err := closedJobWatches(ctx, p.cs)
	if err != nil {
		return res, err
	}
	res.ClosedWatches = closed1 - closed0
	res.ManagerRSS = float64(rssPeakBytes(mgr.cmd.Process.Pid))
	res.APIServerRSS, res.EtcdRSS = float64(peakAPI.Load()), float64(peakEtcd.Load())
	fams, err := scrape(etcdMetrics)
	if err != nil {
		return res, fmt.Errorf("etcd's metrics: %w", err)
	}
	res.EtcdDB = counterOrGauge(fams, "etcd_mvcc_db_total_size_in_bytes")
	return res, nil
}

// counterOrGauge is the first value of a metric family, whichever type.
func counterOrGauge(fams testharness.Metrics, name string) float64 {
	f := fams[name]
	if f == nil || len(f.Metric) == 0 {
		return 0
	}
	if g := f.Metric[0].GetGauge(); g != nil {
		return g.GetValue()
	}
	return f.Metric[0].GetCounter().GetValue()
}

// cityTargets are the city run's targets.
func cityTargets(r cityResult) []target {
	completed := 0
	for _, d := range r.Districts {
		if d.Completed > 0 {
			completed += d.Buildings
		}
	}
	return []target{
		{fmt.Sprintf("the city completes %d buildings", r.Buildings), completed == r.Buildings, fmt.Sprintf("%d buildings in completed rounds", completed)},
		{"the manager stays under 512 MiB", r.ManagerRSS < 512<<20, fmt.Sprintf("%.0f MiB peak RSS", r.ManagerRSS/(1<<20))},
	}
}

// citySection is the city run's report: written to its own file by
// `make bench-city` and carried into docs/performance.md by `make bench`.
func citySection(r cityResult, args string) string {
	var b strings.Builder
	host, _ := os.Hostname()
	took := r.Took.Round(time.Second).String()
	if r.TimedOut {
		took = fmt.Sprintf("not reached: stopped after %s (-city-timeout), figures below are up to then", r.Timeout)
	}
	fmt.Fprintf(&b, "## A whole city\n\nGenerated by `make bench-city` (`bin/sweep-bench %s`) on %s, %s. %d districts (namespaces), %d buildings in all, on one control plane (envtest: etcd and kube-apiserver) and one `sweep manager` (local executor, instant drill, the chart's limits: `GOMEMLIMIT` 90%% of %.0f MiB, `GOMAXPROCS` %d); one one-visit round per district, each created %s after the one before (`spec.teams` = the district's buildings). From the first round's creation to the last one's completion: **%s**.\n\n",
		args, host, time.Now().UTC().Format("2006-01-02 15:04 MST"), len(r.Districts), r.Buildings,
		float64(r.managerLimit)/(1<<20), r.managerGoProcs, r.Apart, took)
	b.WriteString("| district | buildings | round created | expanded after | completed after | buildings/s |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
	for _, d := range r.Districts {
		started, expanded, completed, rate := "-", "-", "-", "-"
		if d.Created {
			started = "+" + d.Started.Round(time.Second).String()
		}
		if d.Expanded > 0 {
			expanded = d.Expanded.Round(time.Second).String()
		}
		if d.Completed > 0 {
			completed = d.Completed.Round(time.Second).String()
			rate = fmt.Sprintf("%.0f", float64(d.Buildings)/d.Completed.Seconds())
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s |\n", d.Namespace, d.Buildings, started, expanded, completed, rate)
	}
	fmt.Fprintf(&b, "\nWrites per building: **%.2f** (events and leases left out), by resource: %s. Round status writes: %.2f per second, all rounds together. CollectionJob watches closed by the API server: %.0f (%.1f per 10,000 buildings).\n\n",
		r.WritesPerBuilding, byResource(r.WritesByResource), r.RoundStatusWritesPerSecond, r.ClosedWatches, r.ClosedWatches*10000/float64(r.Buildings))
	fmt.Fprintf(&b, "Memory, peak resident: manager **%.0f MiB**, kube-apiserver %.0f MiB, etcd %.0f MiB (each process's `process_resident_memory_bytes`, sampled every 5 s; the manager's VmHWM). etcd's database at the end: %.0f MiB (`etcd_mvcc_db_total_size_in_bytes`).\n\n",
		r.ManagerRSS/(1<<20), r.APIServerRSS/(1<<20), r.EtcdRSS/(1<<20), r.EtcdDB/(1<<20))
	writeTargets(&b, cityTargets(r))
	return b.String()
}
