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
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/metrics"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/statusview"
	"github.com/masstesting/sweep/internal/testobjects"
)

// oneRound is a cache holding one round, for the round collector.
type oneRound struct {
	client.Reader
	tr *sweepv1alpha1.TestingRound
}

func (o oneRound) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	list.(*sweepv1alpha1.TestingRoundList).Items = []sweepv1alpha1.TestingRound{*o.tr}
	return nil
}

// clampedRound is a round past its deadline whose jobs' statuses need the
// clamp: sampled above expected, a negative sampled, counts by reason and
// a missed that do not fit, a building never visited, and one over by the
// deadline that has not written Expired.
func clampedRound() (*sweepv1alpha1.TestingRound, []sweepv1alpha1.CollectionJob) {
	start := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	tr := testobjects.Round("pingfang", "clamped").WithUID("clamped-uid").Start(start).Deadline(start.Add(12 * time.Hour)).
		PoolSize(10).Collector(sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceHTTP}).Obj()
	var jobs []sweepv1alpha1.CollectionJob
	add := func(b string, expected int32, phase sweepv1alpha1.JobPhase, st sweepv1alpha1.CollectionJobStatus) {
		bl := testobjects.Building("", b).Label(sweepv1alpha1.LabelCommunity, "xinjiang").Residents(expected).Obj()
		j := round.NewJob(tr, bl)
		j.Spec.Suspend = phase == sweepv1alpha1.JobQueued
		j.Status = st
		j.Status.Phase = phase
		jobs = append(jobs, *j)
	}
	add("over", 10, sweepv1alpha1.JobCompleted, sweepv1alpha1.CollectionJobStatus{Visits: 1, Sampled: 14, HomeVisited: 20, ExtraSampled: 4})
	add("unfit", 20, sweepv1alpha1.JobExpired, sweepv1alpha1.CollectionJobStatus{Visits: 3, Sampled: 5, Missed: 40,
		NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{NotHome: 30, Refused: 5}, MissedHouseholds: []string{"1-101"}})
	add("never", 8, sweepv1alpha1.JobQueued, sweepv1alpha1.CollectionJobStatus{})
	add("negative", 6, sweepv1alpha1.JobCompleted, sweepv1alpha1.CollectionJobStatus{Visits: 1, Sampled: -3})
	add("late", 12, sweepv1alpha1.JobWaiting, sweepv1alpha1.CollectionJobStatus{Visits: 1, Sampled: 9, Outstanding: 3,
		NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Away: 1}})
	tr.Status = round.Status(tr, jobPointers(jobs), 0, tr.Spec.Deadline.Add(time.Hour))
	return tr, jobs
}

func jobPointers(jobs []sweepv1alpha1.CollectionJob) []*sweepv1alpha1.CollectionJob {
	out := make([]*sweepv1alpha1.CollectionJob, len(jobs))
	for i := range jobs {
		out[i] = &jobs[i]
	}
	return out
}

// totals is what every reader says of a round's residents.
type totals struct {
	Expected, Sampled, Outstanding, Missed, HomeVisited int64
	MissedByReason                                      sweepv1alpha1.MissedReasonTotals
}

// The round's status, its metrics (the round's, its communities' and
// every building's), `sweep status` (the tree's communities and
// buildings, the summary's missed households) and `sweep missed` count the
// same residents, however far a job's status is from adding up.
func TestMetricsStatusAndMissedAgreeOnClampedCounts(t *testing.T) {
	tr, jobs := clampedRound()
	res := tr.Status.Residents
	if tr.Status.Phase != sweepv1alpha1.RoundDeadlineExceeded {
		t.Fatalf("round is %s, want DeadlineExceeded", tr.Status.Phase)
	}
	status := totals{res.Expected, res.Sampled, res.Outstanding, res.Missed, res.HomeVisited, res.MissedByReason}
	// What the rule says for these jobs, worked out by hand: sampled 10 +
	// 5 + 0 + 0 + 9, missed 0 + 15 + 8 + 6 + 3.
	want := totals{Expected: 56, Sampled: 24, Missed: 32, HomeVisited: 10,
		MissedByReason: sweepv1alpha1.MissedReasonTotals{NotHome: 10, Refused: 5, Away: 1, Unknown: 16}}
	if diff := cmp.Diff(want, status); diff != "" {
		t.Fatalf("round status (-want +got):\n%s", diff)
	}

	t.Run("metrics", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(&metrics.RoundCollector{Reader: oneRound{tr: tr}, PerBuilding: true,
			RoundJobs: func(context.Context, *sweepv1alpha1.TestingRound) ([]*sweepv1alpha1.CollectionJob, error) {
				return jobPointers(jobs), nil
			}})
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		// Summed by the state (or reason) label, per metric.
		sums := map[string]map[string]int64{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "state" || l.GetName() == "reason" {
						if sums[f.GetName()] == nil {
							sums[f.GetName()] = map[string]int64{}
						}
						sums[f.GetName()][l.GetValue()] += int64(m.GetGauge().GetValue())
					}
				}
			}
		}
		byReason := func(m map[string]int64) sweepv1alpha1.MissedReasonTotals {
			var t sweepv1alpha1.MissedReasonTotals
			for _, r := range sweepv1alpha1.MissedReasons {
				c := sweepv1alpha1.MissedReasonCounts{}
				c.Add(r, int32(m[string(r)]))
				t.AddCounts(c)
			}
			return t
		}
		for _, name := range []string{"sweep_round_residents", "sweep_building_residents"} {
			s := sums[name]
			got := totals{s["expected"], s["sampled"], s["outstanding"], s["missed"], s["home_visited"], byReason(sums["sweep_round_missed_residents"])}
			if diff := cmp.Diff(status, got); diff != "" {
				t.Errorf("%s disagrees with the round status (-status +metrics):\n%s", name, diff)
			}
		}
		c := sums["sweep_community_residents"]
		if got := (totals{Expected: c["expected"], Sampled: c["sampled"], Missed: c["missed"]}); got != (totals{Expected: status.Expected, Sampled: status.Sampled, Missed: status.Missed}) {
			t.Errorf("sweep_community_residents %+v disagree with the round status %+v", got, status)
		}
	})

	t.Run("sweep status", func(t *testing.T) {
		var b bytes.Buffer
		statusview.Tree(&b, tr, jobs, statusview.Options{Now: tr.Spec.Deadline.Add(time.Hour), Location: time.UTC, All: true})
		out := b.String()
		num := func(s string) int64 {
			if s == "-" {
				return 0
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("%q in:\n%s", s, out)
			}
			return n
		}
		row := regexp.MustCompile(`(?m)^xinjiang\s+\d+/\d+ done\s+\[[#.]+\]\s+\d+%\s+(\d+)/(\d+)\s+(\S+)`).FindStringSubmatch(out)
		if row == nil {
			t.Fatalf("no community row in:\n%s", out)
		}
		if got := (totals{Expected: num(row[2]), Sampled: num(row[1]), Missed: num(row[3])}); got != (totals{Expected: status.Expected, Sampled: status.Sampled, Missed: status.Missed}) {
			t.Errorf("the tree's community row %+v disagrees with the round status %+v:\n%s", got, status, out)
		}
		var buildings totals
		rows := regexp.MustCompile(`(?m)^[├└]─ (\S+)\s+\S+\s+\[[#.]+\]\s+\d+%\s+(\d+)/(\d+)\s+(\S+)`).FindAllStringSubmatch(out, -1)
		if len(rows) != len(jobs) {
			t.Fatalf("%d building rows, want %d:\n%s", len(rows), len(jobs), out)
		}
		for _, r := range rows {
			buildings.Sampled += num(r[2])
			buildings.Expected += num(r[3])
			buildings.Missed += num(r[4])
		}
		if buildings != (totals{Expected: status.Expected, Sampled: status.Sampled, Missed: status.Missed}) {
			t.Errorf("the tree's buildings add up to %+v, the round status says %+v:\n%s", buildings, status, out)
		}

		b.Reset()
		statusview.Summary(&b, tr, jobs, nil)
		out = b.String()
		var missed int64
		for _, r := range regexp.MustCompile(`(?m)^(\S+)\s+(\d+)\s+\d+\s*\S*$`).FindAllStringSubmatch(out, -1) {
			missed += num(r[2])
		}
		if missed != status.Missed {
			t.Errorf("the summary's missed households list %d residents, the round status %d:\n%s", missed, status.Missed, out)
		}
	})

	t.Run("sweep missed", func(t *testing.T) {
		l := missedList(tr, jobs, nil, "", "")
		var missed int64
		for _, b := range l.Buildings {
			missed += int64(b.MissedResidents)
		}
		if missed != status.Missed {
			t.Errorf("sweep missed lists %d residents, the round status %d: %+v", missed, status.Missed, l.Buildings)
		}
		if diff := cmp.Diff(status.MissedByReason, l.MissedByReason); diff != "" {
			t.Errorf("sweep missed by reason (-status +missed):\n%s", diff)
		}
	})
}
