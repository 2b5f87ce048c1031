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

// Package metrics holds every Prometheus metric Sweep exports, in one place.
//
// Round gauges are not kept in memory: on each scrape, RoundCollector reads
// the rounds and their jobs from the manager's cache (its own objects,
// through the round controller's index, not copies) and reports their
// status. So a restarted manager serves
// the same numbers at once, and the series of a deleted round disappear with
// it. Visit counters and duration histograms are events, counted when the
// collection controller records them. Names are prefixed sweep_, in base
// units; labels are bounded (namespace, round, phase or state, result).
package metrics

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
)

// durationBuckets fit sweeps of minutes to hours: 1m to about 17h.
var durationBuckets = prometheus.ExponentialBuckets(60, 2, 11)

var (
	// Visits counts visits that ended, by result.
	Visits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sweep_visits_total",
		// result is one of internal/collection's Result* values.
		Help: "Visits of buildings that ended, by result: complete (everyone sampled), missed (residents still missed), failed (the attempt failed).",
	}, []string{"namespace", "result"})

	// VisitDuration observes how long a visit took, start to final report.
	VisitDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sweep_visit_duration_seconds",
		Help:    "Time from the start of a visit to its final report.",
		Buckets: durationBuckets,
	}, []string{"namespace"})

	// BuildingDuration observes how long a building took, first visit to
	// finish.
	BuildingDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sweep_building_duration_seconds",
		Help:    "Time from a building's first visit to its end (completed, expired or failed).",
		Buckets: durationBuckets,
	}, []string{"namespace", "phase"})

	// LabTurnaround observes each tube's time from swab to result, as the
	// lab reports them (a tube is observed once per manager process).
	LabTurnaround = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sweep_lab_turnaround_seconds",
		Help:    "Time from swab to lab result of each resulted tube, pooled or single.",
		Buckets: durationBuckets,
	}, []string{"namespace"})

	// PoolRetestDone observes, for each positive pool, the time from its
	// pooled result to the end of its retest's visits.
	PoolRetestDone = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sweep_positive_pool_retest_seconds",
		Help:    "Time from a positive pooled result to the end of its single-tube retest.",
		Buckets: durationBuckets,
	}, []string{"namespace"})

	// LabPollErrors counts polls of a round's lab that failed.
	LabPollErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sweep_lab_poll_errors_total",
		Help: "Polls of a round's lab source that failed (unreachable, timed out, answered garbage).",
	}, []string{"namespace"})

	// LabResultsIgnored counts lab results that could not be taken.
	LabResultsIgnored = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sweep_lab_results_ignored_total",
		Help: "Lab results ignored because they could not be taken (a building not in the round, bad ids, a single tube of no positive pool).",
	}, []string{"namespace"})
)

// InitLab makes a district's lab series exist at zero once one of its
// rounds has a lab (the lab controller calls it on each reconcile). A
// counter or histogram child appears on its first increment otherwise, and
// rate() and increase() never count that first poll error, ignored result
// or observation: a night's one positive pool would leave the time-to-retest
// panel empty and a single ignored result would not alert.
func InitLab(namespace string) {
	LabPollErrors.WithLabelValues(namespace)
	LabResultsIgnored.WithLabelValues(namespace)
	LabTurnaround.WithLabelValues(namespace)
	PoolRetestDone.WithLabelValues(namespace)
}

var (
	roundBuildings = prometheus.NewDesc("sweep_round_buildings", "Buildings of a round by the phase of their CollectionJob.", []string{"namespace", "round", "phase"}, nil)
	roundResidents = prometheus.NewDesc("sweep_round_residents", "Residents of a round by state: expected, sampled, outstanding, missed, exempt, home_visited, extra_sampled (sampled beyond the roster: the roster needs updating).", []string{"namespace", "round", "state"}, nil)
	// reason is one of the 8 sweepv1alpha1.MissedReasons, a fixed list:
	// never a source's free text.
	roundMissed = prometheus.NewDesc("sweep_round_missed_residents", "Missed residents of a round by the reason their household gave (not-home, refused, away, in-hospital, moved-out, vacant, unreachable; unknown when none was given); they add up to sweep_round_residents{state=\"missed\"}.", []string{"namespace", "round", "reason"}, nil)
	roundTubes  = prometheus.NewDesc("sweep_round_tubes", "Sample tubes of a round: forecast and used.", []string{"namespace", "round", "kind"}, nil)
	// roundInfo carries what describes a round rather than measures it;
	// dashboards and alerts join on it (source="drill" marks simulated
	// results), so the measuring series keep their labels.
	roundInfo     = prometheus.NewDesc("sweep_round_info", "Always 1; its source label says where the round's results come from: http, csv, or drill (simulated for an exercise).", []string{"namespace", "round", "source"}, nil)
	roundPhase    = prometheus.NewDesc("sweep_round_phase", "1 for the round's current phase, 0 for the others.", []string{"namespace", "round", "phase"}, nil)
	roundStart    = prometheus.NewDesc("sweep_round_start_timestamp_seconds", "When the round started admitting buildings.", []string{"namespace", "round"}, nil)
	roundDeadline = prometheus.NewDesc("sweep_round_deadline_timestamp_seconds", "The round's deadline.", []string{"namespace", "round"}, nil)
	roundETA      = prometheus.NewDesc("sweep_round_estimated_completion_timestamp_seconds", "When the round will finish at the pace so far.", []string{"namespace", "round"}, nil)
	roundSupplies = prometheus.NewDesc("sweep_round_supplies", "Supplies of a round by item (tubes, swabs, tube_bags) and kind: forecast (with the round's spare share) and used.", []string{"namespace", "round", "item", "kind"}, nil)
	commSupplies  = prometheus.NewDesc("sweep_community_supplies", "Supplies of a round in one community by item (tubes, swabs, tube_bags) and kind (forecast, used); at most 200 communities a round.", []string{"namespace", "round", "community", "item", "kind"}, nil)
	commResidents = prometheus.NewDesc("sweep_community_residents", "Residents of a round in one community by state: expected, sampled, missed; at most 200 communities a round.", []string{"namespace", "round", "community", "state"}, nil)
	roundPools    = prometheus.NewDesc("sweep_positive_pools", "Positive pools of a round by phase: open (waiting for a team), retesting, awaiting_results, resolved.", []string{"namespace", "round", "phase"}, nil)
	roundToSeal   = prometheus.NewDesc("sweep_households_to_seal", "Households of a round whose own single tube was positive, over its resolved pools.", []string{"namespace", "round"}, nil)
	poolOldest    = prometheus.NewDesc("sweep_positive_pool_oldest_open_result_timestamp_seconds", "The pooled result time of the round's oldest positive pool not retested yet (open or retesting); absent when there is none.", []string{"namespace", "round"}, nil)
	retestWithin  = prometheus.NewDesc("sweep_round_retest_within_seconds", "The round's spec.lab.retestWithin: how soon a positive pool should be retested.", []string{"namespace", "round"}, nil)
	roundDone     = prometheus.NewDesc("sweep_round_completion_timestamp_seconds", "When the round ended (Completed or DeadlineExceeded).", []string{"namespace", "round"}, nil)
	roundInterval = prometheus.NewDesc("sweep_round_visit_interval_seconds", "The round's re-knock interval: the time between the end of one visit and the start of the next.", []string{"namespace", "round"}, nil)
	roundProgress = prometheus.NewDesc("sweep_round_oldest_building_progress_timestamp_seconds",
		"The oldest last sign of progress among the round's buildings under way (Active or Waiting): a collector report, the start of a visit, or when the next visit is due.",
		[]string{"namespace", "round"}, nil)
	// community comes from the CollectionJob's sweep.masstesting.io/community
	// label (copied from the Building); it adds no series, since each
	// building belongs to one community, and lets dashboards sum by it.
	buildingRes = prometheus.NewDesc("sweep_building_residents", "Residents of one building in one round by state (only with --metrics-per-building).", []string{"namespace", "round", "building", "community", "state"}, nil)
)

var roundPhases = []sweepv1alpha1.RoundPhase{sweepv1alpha1.RoundPending, sweepv1alpha1.RoundRunning, sweepv1alpha1.RoundSuspended,
	sweepv1alpha1.RoundCompleted, sweepv1alpha1.RoundDeadlineExceeded}

// RoundCollector reports every round's status on each scrape.
type RoundCollector struct {
	// Reader lists the rounds (the manager's cached client).
	Reader client.Reader
	// RoundJobs returns the CollectionJobs a round controls (by UID,
	// round.Controls), read-only: the round controller's cache index
	// (TestingRoundReconciler.RoundJobs). Listing
	// every job through the client instead copies each into the list,
	// about 50 MB per scrape at 50,000 jobs.
	RoundJobs func(ctx context.Context, tr *sweepv1alpha1.TestingRound) ([]*sweepv1alpha1.CollectionJob, error)
	// PerBuilding adds sweep_building_residents, one series per job.
	PerBuilding bool
}

// Describe sends the round metrics' descriptions.
func (c *RoundCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{roundInfo, roundBuildings, roundResidents, roundMissed, roundTubes, roundSupplies, commSupplies, commResidents, roundPhase, roundStart, roundDeadline, roundETA,
		roundDone, roundInterval, roundProgress, buildingRes, roundPools, roundToSeal, poolOldest, retestWithin} {
		ch <- d
	}
}

// Collect reads the rounds and their jobs from the cache and sends their
// gauges.
func (c *RoundCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Only read, so the cache may hand out its own objects rather than
	// copies.
	var rounds sweepv1alpha1.TestingRoundList
	if err := c.Reader.List(ctx, &rounds, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(roundBuildings, err)
		return
	}
	for i := range rounds.Items {
		tr := &rounds.Items[i]
		jobs, err := c.RoundJobs(ctx, tr)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(roundProgress, err)
			return
		}
		c.collectRound(ch, tr, jobs)
	}
}

// collectRound sends one round's gauges; jobs are its cached jobs.
func (c *RoundCollector) collectRound(ch chan<- prometheus.Metric, tr *sweepv1alpha1.TestingRound, jobs []*sweepv1alpha1.CollectionJob) {
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ns, name, st := tr.Namespace, tr.Name, &tr.Status
	jobs = round.SweepJobs(jobs) // retests show as pools, not buildings
	g(roundInfo, 1, ns, name, string(tr.Spec.Collector.Source.Effective()))
	b := st.Buildings
	for phase, n := range map[sweepv1alpha1.JobPhase]int32{
		sweepv1alpha1.JobQueued: b.Queued, sweepv1alpha1.JobActive: b.Active, sweepv1alpha1.JobWaiting: b.Waiting,
		sweepv1alpha1.JobCompleted: b.Completed, sweepv1alpha1.JobExpired: b.Expired, sweepv1alpha1.JobFailed: b.Failed,
	} {
		g(roundBuildings, float64(n), ns, name, string(phase))
	}
	r := st.Residents
	for state, n := range map[string]int64{"expected": r.Expected, "sampled": r.Sampled, "outstanding": r.Outstanding,
		"missed": r.Missed, "exempt": r.Exempt, "home_visited": r.HomeVisited, "extra_sampled": r.ExtraSampled} {
		g(roundResidents, float64(n), ns, name, state)
	}
	// Every reason, 0 included, so a sum by reason across districts has
	// the same series everywhere.
	for _, reason := range sweepv1alpha1.MissedReasons {
		g(roundMissed, float64(r.MissedByReason.Get(reason)), ns, name, string(reason))
	}
	g(roundTubes, float64(st.Tubes.Forecast), ns, name, "forecast")
	g(roundTubes, float64(st.Tubes.Used), ns, name, "used")
	supplies(func(v float64, item, kind string) { g(roundSupplies, v, ns, name, item, kind) }, st.Supplies)
	// Communities come from the status, which caps them: the series stay
	// bounded however a district labels its buildings.
	for _, c := range st.Communities {
		supplies(func(v float64, item, kind string) { g(commSupplies, v, ns, name, c.Name, item, kind) }, c.Supplies)
		g(commResidents, float64(c.Expected), ns, name, c.Name, "expected")
		g(commResidents, float64(c.Sampled), ns, name, c.Name, "sampled")
		g(commResidents, float64(c.Missed), ns, name, c.Name, "missed")
	}
	for _, p := range roundPhases {
		v := 0.0
		if st.Phase == p {
			v = 1
		}
		g(roundPhase, v, ns, name, string(p))
	}
	if st.StartTime != nil {
		g(roundStart, float64(st.StartTime.Unix()), ns, name)
	}
	g(roundDeadline, float64(tr.Spec.Deadline.Unix()), ns, name)
	if st.EstimatedCompletionTime != nil {
		g(roundETA, float64(st.EstimatedCompletionTime.Unix()), ns, name)
	}
	if st.CompletionTime != nil {
		g(roundDone, float64(st.CompletionTime.Unix()), ns, name)
	}
	g(roundInterval, tr.Spec.Visits.IntervalOrDefault().Seconds(), ns, name)
	if tr.Spec.Lab != nil {
		g(retestWithin, tr.Spec.Lab.RetestWithinOrDefault().Seconds(), ns, name)
		pc := st.PositivePools
		if pc == nil {
			pc = &sweepv1alpha1.PoolCounts{}
		}
		for phase, n := range map[string]int32{"open": pc.Open, "retesting": pc.Retesting, "awaiting_results": pc.AwaitingResults, "resolved": pc.Resolved} {
			g(roundPools, float64(n), ns, name, phase)
		}
		g(roundToSeal, float64(pc.HouseholdsToSeal), ns, name)
		if pc.OldestOpenResultTime != nil {
			g(poolOldest, float64(pc.OldestOpenResultTime.Unix()), ns, name)
		}
	}
	var oldest time.Time
	for _, j := range jobs {
		if t, ok := LastProgress(j, tr.Spec.Visits.IntervalOrDefault()); ok && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	if !oldest.IsZero() {
		g(roundProgress, float64(oldest.Unix()), ns, name)
	}
	if !c.PerBuilding {
		return
	}
	// Counted as the round's status counts them (round.JobResidents), so
	// the buildings add up to the round's series.
	for _, j := range jobs {
		jr := round.JobResidents(j, st.Phase)
		state := "outstanding"
		if jr.Over {
			state = "missed"
		}
		community := j.Labels[sweepv1alpha1.LabelCommunity]
		g(buildingRes, float64(jr.Expected), ns, name, j.Spec.Building, community, "expected")
		g(buildingRes, float64(jr.Sampled), ns, name, j.Spec.Building, community, "sampled")
		g(buildingRes, float64(jr.HomeVisited), ns, name, j.Spec.Building, community, "home_visited")
		g(buildingRes, float64(jr.NotSampled()), ns, name, j.Spec.Building, community, state)
	}
}

// supplies sends forecast and used of each supply item.
func supplies(g func(v float64, item, kind string), s sweepv1alpha1.Supplies) {
	for kind, c := range map[string]sweepv1alpha1.SupplyCounts{"forecast": s.Forecast, "used": s.Used} {
		g(float64(c.Tubes), "tubes", kind)
		g(float64(c.Swabs), "swabs", kind)
		g(float64(c.TubeBags), "tube_bags", kind)
	}
}

// LastProgress is the latest sign of progress of a building under way
// (Active or Waiting): the start of its first visit, its collector's latest
// report, and, while it waits for a re-knock or a retry, when the next visit
// is due. A report left from an earlier visit stands for the start of the
// current one, interval later (the round's visit interval, as the round
// says it now). Queued and finished buildings are not under way (ok is
// false): a queue waits for teams, not for this building.
//
// The SweepBuildingStalled alert fires when the oldest of these in a round
// is older than the round's visit interval: a collector should report more
// often than that, and a due re-knock should start well within it.
func LastProgress(j *sweepv1alpha1.CollectionJob, interval time.Duration) (t time.Time, ok bool) {
	st := &j.Status
	if st.Phase != sweepv1alpha1.JobActive && st.Phase != sweepv1alpha1.JobWaiting {
		return time.Time{}, false
	}
	later := func(c time.Time) {
		if c.After(t) {
			t = c
		}
	}
	if st.StartTime != nil {
		later(st.StartTime.Time)
	}
	if r := st.Report; r != nil {
		if r.Visit < st.Visits {
			later(r.Time.Add(interval))
		} else {
			later(r.Time.Time)
		}
	}
	if st.NextVisitTime != nil {
		later(st.NextVisitTime.Time)
	}
	return t, !t.IsZero()
}

// Register adds Sweep's metrics to controller-runtime's registry, which the
// manager serves on its metrics endpoint. The registry is the process's: a
// second Register (tests start one manager after another) makes rounds the
// collector that scrapes read, in place of the first.
func Register(rounds *RoundCollector) error {
	registeredRounds.Store(rounds)
	for _, c := range []prometheus.Collector{Visits, VisitDuration, BuildingDuration,
		LabTurnaround, PoolRetestDone, LabPollErrors, LabResultsIgnored, latestRounds{}} {
		if err := ctrlmetrics.Registry.Register(c); err != nil {
			if _, dup := err.(prometheus.AlreadyRegisteredError); !dup {
				return err
			}
		}
	}
	return nil
}

// registeredRounds is the RoundCollector last registered.
var registeredRounds atomic.Pointer[RoundCollector]

// latestRounds is what the registry holds: the RoundCollector last
// registered.
type latestRounds struct{}

func (latestRounds) Describe(ch chan<- *prometheus.Desc) { (&RoundCollector{}).Describe(ch) }

func (latestRounds) Collect(ch chan<- prometheus.Metric) {
	if c := registeredRounds.Load(); c != nil {
		c.Collect(ch)
	}
}
