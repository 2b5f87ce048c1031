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

package statusview

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/lab"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/testobjects"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./internal/statusview -update` to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update if the change is intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var now = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// testRound is a round in Pingfang district at 09:00 with buildings in two
// communities and one without a community label, in every phase, and its
// status computed by internal/round as the operator computes it.
func testRound(extra int) (*sweepv1alpha1.TestingRound, []sweepv1alpha1.CollectionJob) {
	tr := testobjects.Round("pingfang", "today").WithUID("today-uid").Start(now.Add(-3 * time.Hour)).
		Deadline(now.Add(9 * time.Hour)).PoolSize(10).Teams(4).Obj()
	tr.Spec.Supplies = sweepv1alpha1.SuppliesPolicy{SparePercent: 10, TubesPerBag: 50}
	tr.Spec.Collector.Source = sweepv1alpha1.SourceHTTP
	tr.Status.StartTime = tr.Spec.Start
	var jobs []sweepv1alpha1.CollectionJob
	add := func(b, community string, residents int32, phase sweepv1alpha1.JobPhase, sampled, visits int32, hh ...string) {
		bl := &sweepv1alpha1.Building{ObjectMeta: metav1.ObjectMeta{Name: b, Labels: map[string]string{}}}
		if community != "" {
			bl.Labels[sweepv1alpha1.LabelCommunity] = community
		}
		bl.Spec.Residents = residents
		j := round.NewJob(tr, bl)
		j.Spec.Suspend = phase == sweepv1alpha1.JobQueued
		if phase != sweepv1alpha1.JobQueued {
			j.Status = sweepv1alpha1.CollectionJobStatus{Phase: phase, Sampled: sampled, Visits: visits,
				Tubes: (sampled + 9) / 10, Missed: residents - sampled, MissedHouseholds: hh}
		}
		if phase == sweepv1alpha1.JobWaiting {
			j.Status.NextVisitTime = &metav1.Time{Time: now.Add(25 * time.Minute)}
		}
		jobs = append(jobs, *j)
	}
	add("xinjiang-1", "xinjiang", 106, sweepv1alpha1.JobCompleted, 106, 1)
	add("xinjiang-2", "xinjiang", 120, sweepv1alpha1.JobCompleted, 117, 3, "2-1203", "1-101")
	add("xinjiang-3", "xinjiang", 56, sweepv1alpha1.JobWaiting, 40, 1)
	add("xinjiang-4", "xinjiang", 63, sweepv1alpha1.JobActive, 12, 1)
	add("kangqiao-1", "kangqiao-huacheng", 610, sweepv1alpha1.JobExpired, 590, 3, "3-2201")
	add("kangqiao-2", "kangqiao-huacheng", 640, sweepv1alpha1.JobQueued, 0, 0)
	add("annex", "", 12, sweepv1alpha1.JobFailed, 0, 3)
	// Reasons: xinjiang-2's source gave some, kangqiao-1's none
	// (unknown); annex failed, all unknown.
	jobs[1].Status.NotSampledByReason = &sweepv1alpha1.MissedReasonCounts{NotHome: 2, Refused: 1}
	jobs[1].Status.MissedHouseholdReasons = []sweepv1alpha1.HouseholdReason{{Household: "2-1203", Reason: sweepv1alpha1.MissedNotHome},
		{Household: "1-101", Reason: sweepv1alpha1.MissedRefused}}
	for i := range extra {
		add(fmt.Sprintf("ruiming-%02d", i+1), "ruiming", 400, []sweepv1alpha1.JobPhase{sweepv1alpha1.JobCompleted, sweepv1alpha1.JobQueued, sweepv1alpha1.JobActive}[i%3], 300, 1)
	}
	jobPtrs := make([]*sweepv1alpha1.CollectionJob, len(jobs))
	for i := range jobs {
		jobPtrs[i] = &jobs[i]
	}
	tr.Status = round.Status(tr, jobPtrs, 0, now)
	return tr, jobs
}

func TestTreeGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra int
		opt   Options
	}{
		{"tree_plain.golden", 0, Options{}},
		{"tree_color.golden", 0, Options{Color: true}},
		// 14 buildings in one community: the ten that matter most are
		// listed, the rest summed up; --all lists all of them.
		{"tree_capped.golden", 14, Options{}},
		{"tree_all.golden", 14, Options{All: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, jobs := testRound(tc.extra)
			tc.opt.Now, tc.opt.Location = now, time.UTC
			var b bytes.Buffer
			Tree(&b, tr, jobs, tc.opt)
			out := b.String()
			if !tc.opt.Color && strings.Contains(out, "\033") {
				t.Errorf("plain output has colour codes")
			}
			if tc.opt.Color && !strings.Contains(out, ansiRed+"1") {
				t.Errorf("colour output does not show missed residents in red")
			}
			golden(t, tc.name, b.Bytes())
		})
	}
}

func TestTreeNumbersComeFromTheJobs(t *testing.T) {
	tr, jobs := testRound(0)
	var b bytes.Buffer
	Tree(&b, tr, jobs, Options{Now: now, Location: time.UTC})
	out := b.String()
	for _, want := range []string{
		"Round pingfang/today  Running  deadline 2026-11-26 18:00 (in 9h)",
		// 865 of 1,607 sampled; missed: 3 (xinjiang-2) + 20 (kangqiao-1) + 12 (annex).
		"865 of 1607 sampled, 35 missed",
		"Missed by reason: not-home 2, refused 1, unknown 32",
		"Buildings 4/7 finished: 1 queued, 1 active, 1 waiting, 2 completed, 1 expired, 1 failed",
		"├─ xinjiang-2",
		"└─ xinjiang-4",
		"in 25m",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tree lacks %q:\n%s", want, out)
		}
	}
}

func TestSummary(t *testing.T) {
	tr, jobs := testRound(0)
	// The status the round writes a minute past its deadline: every
	// resident not sampled is missed, in the header as in the list.
	jobPtrs := make([]*sweepv1alpha1.CollectionJob, len(jobs))
	for i := range jobs {
		jobPtrs[i] = &jobs[i]
	}
	tr.Status = round.Status(tr, jobPtrs, 0, tr.Spec.Deadline.Add(time.Minute))
	if tr.Status.Phase != sweepv1alpha1.RoundDeadlineExceeded {
		t.Fatalf("phase %s a minute past the deadline, want DeadlineExceeded", tr.Status.Phase)
	}
	tr.Status.CompletionTime = &metav1.Time{Time: tr.Spec.Deadline.Time}
	var b bytes.Buffer
	Summary(&b, tr, jobs, nil)
	golden(t, "summary.golden", b.Bytes())
}

// A job the round does not control by UID is not shown, however much it
// looks like one of its own: one left by an earlier round of the same name,
// or one made by hand with the round's label and owner name.
func TestOnlyTheRoundsOwnJobsAreShown(t *testing.T) {
	tr, jobs := testRound(0)
	var before, beforeSum bytes.Buffer
	Tree(&before, tr, jobs, Options{Now: now})
	Summary(&beforeSum, tr, jobs, nil)

	old := tr.DeepCopy()
	old.UID = "earlier-round-of-the-same-name"
	forged := append([]sweepv1alpha1.CollectionJob(nil), jobs...)
	for _, b := range []string{"ghost-1", "ghost-2"} {
		j := round.NewJob(old, testobjects.Building("", b).Residents(50).Obj())
		j.Status = sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobExpired, Missed: 50, MissedHouseholds: []string{"9-901"}}
		forged = append(forged, *j)
	}
	forged[len(forged)-1].OwnerReferences[0].UID = "" // by hand: the round's name only
	var after, afterSum bytes.Buffer
	Tree(&after, tr, forged, Options{Now: now})
	Summary(&afterSum, tr, forged, nil)
	if before.String() != after.String() || beforeSum.String() != afterSum.String() {
		t.Errorf("jobs the round does not control changed the view:\n%s\nwant\n%s", after.String()+afterSum.String(), before.String()+beforeSum.String())
	}
	if strings.Contains(after.String()+afterSum.String(), "ghost") {
		t.Error("a job the round does not control is shown")
	}
}

// A drill's numbers look like a real round's: the tree and the summary
// say so at the top, and a round from a registry does not.
func TestDrillIsMarkedWhereResultsAreShown(t *testing.T) {
	for _, src := range []sweepv1alpha1.SourceType{sweepv1alpha1.SourceDrill, "", sweepv1alpha1.SourceHTTP, sweepv1alpha1.SourceCSV} {
		tr, jobs := testRound(0)
		tr.Spec.Collector.Source = src
		var tree, summary bytes.Buffer
		Tree(&tree, tr, jobs, Options{Now: now, Location: time.UTC})
		Summary(&summary, tr, jobs, nil)
		for name, out := range map[string]string{"tree": tree.String(), "summary": summary.String()} {
			if got, want := strings.Contains(out, DrillBanner), src.Simulated(); got != want {
				t.Errorf("source %q: %s shows the drill banner: %v, want %v\n%s", src, name, got, want, out)
			}
		}
	}
}

// poolRound is testRound with a drill lab and three positive pools: one in
// xinjiang-1 resolved with a household to seal (its retest missed one
// resident), one in xinjiang-2 whose retest waits for its second visit,
// one in kangqiao-1 still open; plus a pool of an earlier round of the same
// name, which is not shown. The retests are jobs of the round like any
// other and must not show as buildings.
func poolRound() (*sweepv1alpha1.TestingRound, []sweepv1alpha1.CollectionJob, []sweepv1alpha1.PositivePool) {
	tr, jobs := testRound(0)
	tr.Spec.Lab = &sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceDrill, Sealing: sweepv1alpha1.SealingApproval}
	byBuilding := map[string]*sweepv1alpha1.CollectionJob{}
	for i := range jobs {
		byBuilding[jobs[i].Spec.Building] = &jobs[i]
	}
	var pools []sweepv1alpha1.PositivePool
	add := func(building, tube string, swabs int32, hh []string, age time.Duration, st sweepv1alpha1.PositivePoolStatus, job sweepv1alpha1.CollectionJobStatus) {
		p := lab.NewPool(tr, lab.TubeResult{Tube: tube, Building: building, Kind: lab.Pooled, Positive: true,
			Swabs: swabs, Households: hh, ResultTime: now.Add(-age)})
		p.Status = st
		if job.Phase != "" {
			j := lab.NewRetest(tr, p, byBuilding[building])
			j.Spec.Suspend = false
			j.Status = job
			jobs = append(jobs, *j)
		}
		pools = append(pools, *p)
	}
	add("xinjiang-1", "T0001", 10, []string{"1-301", "2-502", "3-101"}, 2*time.Hour,
		sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolResolved, Retested: 9, Resulted: 9, HouseholdsToSeal: []string{"2-502"}},
		sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobCompleted, Visits: 2, Sampled: 9, Missed: 1, Tubes: 9, MissedHouseholds: []string{"3-101"}})
	add("xinjiang-2", "T0002", 8, []string{"1-101", "1-102"}, 40*time.Minute,
		sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolRetesting, Retested: 5},
		sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobWaiting, Visits: 1, Sampled: 5, Tubes: 5,
			NextVisitTime: &metav1.Time{Time: now.Add(20 * time.Minute)}})
	add("kangqiao-1", "T0003", 10, []string{"3-2201", "3-2202"}, 5*time.Minute, sweepv1alpha1.PositivePoolStatus{}, sweepv1alpha1.CollectionJobStatus{})

	earlier := tr.DeepCopy()
	earlier.UID = "an-earlier-round-of-the-same-name"
	ghost := lab.NewPool(earlier, lab.TubeResult{Tube: "GHOST", Building: "ghost-1", Swabs: 5, Households: []string{"9-901"}, ResultTime: now})
	pools = append(pools, *ghost)

	ptrs := make([]*sweepv1alpha1.CollectionJob, len(jobs))
	for i := range jobs {
		ptrs[i] = &jobs[i]
	}
	tr.Status = round.Status(tr, round.SweepJobs(ptrs), 0, now) // as the round controller counts
	pp := make([]*sweepv1alpha1.PositivePool, 0, len(pools))
	for i := range pools[:3] {
		pp = append(pp, &pools[i])
	}
	tr.Status.PositivePools = round.PoolCounts(pp)
	return tr, jobs, pools
}

// A round with positive pools shows them under its header, one line each,
// and its summary lists them with the households to seal; the retests are
// not listed as buildings, and a pool of another round is not shown.
func TestPoolsAreShownAndRetestsAreNotBuildings(t *testing.T) {
	tr, jobs, pools := poolRound()
	var tree, summary bytes.Buffer
	Tree(&tree, tr, jobs, Options{Now: now, Location: time.UTC, Pools: pools})
	tr.Status.Phase = sweepv1alpha1.RoundDeadlineExceeded
	tr.Status.CompletionTime = &metav1.Time{Time: now.Add(time.Hour)}
	Summary(&summary, tr, jobs, pools)
	golden(t, "tree_pools.golden", tree.Bytes())
	golden(t, "summary_pools.golden", summary.Bytes())
	out := tree.String() + summary.String()
	for _, want := range []string{
		"Positive pools 3: 1 open, 1 retesting, 0 awaiting results, 1 resolved; 1 households to seal",
		"Buildings 4/7 finished",
		"positive   3 pools: 1 resolved, 0 awaiting results, 1 retesting, 1 open; 1 households to seal",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "GHOST") {
		t.Errorf("a pool of another round is shown:\n%s", out)
	}
	// Each building appears once in the tree: a retest is not a building
	// row (the pool line names its building, indented under the header).
	for _, b := range []string{"xinjiang-1", "xinjiang-2"} {
		if n := strings.Count(tree.String(), "─ "+b); n != 1 {
			t.Errorf("%s listed %d times in the tree, want once:\n%s", b, n, tree.String())
		}
	}
	// Without the pools (not readable), the status counts are shown alone.
	var bare bytes.Buffer
	Tree(&bare, tr, jobs, Options{Now: now, Location: time.UTC})
	if !strings.Contains(bare.String(), "Positive pools 3: 1 open") || strings.Contains(bare.String(), "T0001") {
		t.Errorf("without the pools listed:\n%s", bare.String())
	}
	// And another round (another UID) without a lab shows no block at all.
	tr0, jobs0 := testRound(0)
	tr0.UID = "another-round"
	var plain bytes.Buffer
	Tree(&plain, tr0, jobs0, Options{Now: now, Location: time.UTC, Pools: pools})
	if strings.Contains(plain.String(), "Positive pools") {
		t.Errorf("a round without pools shows a pools block:\n%s", plain.String())
	}
}
