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
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/lab"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/statusview"
	"github.com/masstesting/sweep/internal/testobjects"
)

// finishedRound imports the small ledger into ns, creates a round over it
// as the operator would expand it, plays the collectors' reports, and
// rolls the round up as the round controller would: every building
// finished, two of them expired at the deadline, so the round exceeded its
// deadline.
func finishedRound(t *testing.T, ns string) {
	t.Helper()
	ctx := context.Background()
	createNamespace(t, ns)
	if _, _, err := sweep(t, adminConf, "import", "-n", ns, filepath.Join("testdata", "ledger_small.csv")); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)
	// In the past: nothing runs here, the test plays every part.
	tr := testobjects.Round(ns, "baoguo-2026-11-26").Start(start).Deadline(start.Add(12 * time.Hour)).
		Collector(sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceHTTP,
			HTTP: &sweepv1alpha1.HTTPSource{URL: "https://samples.pingfang.example/api"}}).Obj()
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		phase   sweepv1alpha1.JobPhase
		sampled int32
		visits  int32
		hh      []string
		// The source's reasons: 2-1203 got none, and
		// xinjiang-4, never visited, has no counts (all unknown).
		byReason *sweepv1alpha1.MissedReasonCounts
		why      []sweepv1alpha1.HouseholdReason
	}
	outcomes := map[string]outcome{
		"xinjiang-1": {sweepv1alpha1.JobCompleted, 106, 1, nil, nil, nil},
		"xinjiang-2": {sweepv1alpha1.JobCompleted, 115, 3, []string{"1-101", "2-1203"},
			&sweepv1alpha1.MissedReasonCounts{NotHome: 2, Unknown: 1}, []sweepv1alpha1.HouseholdReason{{Household: "1-101", Reason: sweepv1alpha1.MissedNotHome}}},
		"xinjiang-3": {sweepv1alpha1.JobExpired, 50, 2, []string{"1-502"},
			&sweepv1alpha1.MissedReasonCounts{Refused: 5}, []sweepv1alpha1.HouseholdReason{{Household: "1-502", Reason: sweepv1alpha1.MissedRefused}}},
		"xinjiang-4": {sweepv1alpha1.JobExpired, 0, 0, nil, nil, nil},
	}
	var jobs []sweepv1alpha1.CollectionJob
	for name, b := range buildings(t, ns) {
		j := round.NewJob(tr, &b)
		if err := k8s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		o := outcomes[name]
		j.Status = sweepv1alpha1.CollectionJobStatus{
			Phase: o.phase, Visits: o.visits, Sampled: o.sampled, Missed: j.Spec.Expected - o.sampled,
			Tubes: (o.sampled + 9) / 10, MissedHouseholds: o.hh,
			NotSampledByReason: o.byReason, MissedHouseholdReasons: o.why,
			CompletionTime: &metav1.Time{Time: start.Add(12 * time.Hour)},
		}
		if o.visits > 0 {
			j.Status.StartTime = &metav1.Time{Time: start.Add(time.Hour)}
			j.Status.Report = &sweepv1alpha1.VisitReport{Visit: o.visits, Sampled: o.sampled, Missed: j.Spec.Expected - o.sampled,
				MissedHouseholds: o.hh, MissedByReason: o.byReason, MissedHouseholdReasons: o.why,
				Final: true, Time: metav1.Time{Time: start.Add(time.Duration(o.visits) * 2 * time.Hour)}}
		}
		if err := k8s.Status().Update(ctx, j); err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, *j)
	}
	// Jobs the round does not control, with its label and an owner
	// reference naming it: left by an earlier round of the same name (its
	// UID) and made by hand (any other UID). `sweep missed` and `sweep status` must
	// not show them: the goldens hold only the round's own buildings.
	earlier := tr.DeepCopy()
	earlier.UID = "an-earlier-round-of-the-same-name"
	for i, uid := range []types.UID{earlier.UID, "made-by-hand"} {
		b := testobjects.Building(ns, fmt.Sprintf("ghost-%d", i)).Residents(40).Households(10).Obj()
		j := round.NewJob(earlier, b)
		j.OwnerReferences[0].UID = uid
		if err := k8s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		j.Status = sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobExpired, Visits: 1, Missed: 40, MissedHouseholds: []string{"9-901"}}
		if err := k8s.Status().Update(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	jobPtrs := make([]*sweepv1alpha1.CollectionJob, len(jobs))
	for i := range jobs {
		jobPtrs[i] = &jobs[i]
	}
	tr.Status = round.Status(tr, jobPtrs, 0, start.Add(12*time.Hour))
	if err := k8s.Status().Update(ctx, tr); err != nil {
		t.Fatal(err)
	}
	if tr.Status.Phase != sweepv1alpha1.RoundDeadlineExceeded {
		t.Fatalf("round phase %s", tr.Status.Phase)
	}
}

func TestMissedOutputs(t *testing.T) {
	const ns = "missed"
	finishedRound(t, ns)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"missed_table.golden", nil},
		{"missed_csv.golden", []string{"-o", "csv"}},
		{"missed_json.golden", []string{"-o", "json"}},
		{"missed_building.golden", []string{"-o", "csv", "--building", "xinjiang-2"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, stderr, err := sweep(t, adminConf, append([]string{"missed", "--round", "baoguo-2026-11-26", "-n", ns}, tc.args...)...)
			if err != nil || stderr != "" {
				t.Fatalf("%v %s", err, stderr)
			}
			golden(t, tc.golden, out)
		})
	}
	// The JSON is the list a health-code office loads: its numbers are the
	// round's (3 + 5 + 63 missed residents).
	out, _, _ := sweep(t, adminConf, "missed", "--round", "baoguo-2026-11-26", "-n", ns, "-o", "json")
	var l MissedList
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	total := int32(0)
	for _, b := range l.Buildings {
		total += b.MissedResidents
	}
	if len(l.Buildings) != 3 || total != 71 || l.Phase != sweepv1alpha1.RoundDeadlineExceeded {
		t.Errorf("json list: %d buildings, %d missed, phase %s", len(l.Buildings), total, l.Phase)
	}
	// Counts by reason add up to the missed residents, per
	// building and for the list, and the list's are the round status's.
	for _, b := range l.Buildings {
		if b.MissedByReason.Total() != int64(b.MissedResidents) {
			t.Errorf("%s: by reason %+v does not add up to %d missed", b.Building, b.MissedByReason, b.MissedResidents)
		}
	}
	var tr sweepv1alpha1.TestingRound
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "baoguo-2026-11-26"}, &tr); err != nil {
		t.Fatal(err)
	}
	want := sweepv1alpha1.MissedReasonTotals{NotHome: 2, Refused: 5, Unknown: 64}
	if l.MissedByReason != want || tr.Status.Residents.MissedByReason != want {
		t.Errorf("json missed by reason %+v, round status %+v; want %+v", l.MissedByReason, tr.Status.Residents.MissedByReason, want)
	}
	if out, _, _ := sweep(t, adminConf, "missed", "--round", "baoguo-2026-11-26", "-n", ns, "--community", "nowhere"); !strings.Contains(out, "Nobody missed") {
		t.Errorf("--community filter: %s", out)
	}
	if _, _, err := sweep(t, adminConf, "missed", "-n", ns); err == nil || !strings.Contains(err.Error(), "--round") {
		t.Errorf("missing --round: %v", err)
	}
	if _, _, err := sweep(t, adminConf, "missed", "--round", "nope", "-n", ns); !apierrors.IsNotFound(err) && (err == nil || !strings.Contains(err.Error(), "not found")) {
		t.Errorf("unknown round: %v", err)
	}
	if _, _, err := sweep(t, adminConf, "missed", "--round", "baoguo-2026-11-26", "-n", ns, "-o", "xml"); err == nil || !strings.Contains(err.Error(), `-o "xml"`) {
		t.Errorf("bad -o: %v", err)
	}

	// The same round as a drill: every output says its households are
	// simulated, so nobody follows up on them.
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"collector":{"source":"drill","http":null}}}`))
	if err := k8s.Patch(context.Background(), &sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "baoguo-2026-11-26"}}, patch); err != nil {
		t.Fatal(err)
	}
	table, stderr, _ := sweep(t, adminConf, "missed", "--round", "baoguo-2026-11-26", "-n", ns)
	if !strings.HasPrefix(table, statusview.DrillBanner+"\n") || !strings.Contains(stderr, "is a drill") {
		t.Errorf("drill not marked in the table or on stderr:\n%s\n%s", table, stderr)
	}
	csvOut, _, _ := sweep(t, adminConf, "missed", "--round", "baoguo-2026-11-26", "-n", ns, "-o", "csv")
	for i, line := range strings.Split(strings.TrimSpace(csvOut), "\n")[1:] {
		if !strings.HasPrefix(line, ns+",baoguo-2026-11-26,drill,") {
			t.Errorf("csv row %d is not marked drill: %s", i+1, line)
		}
	}
	jsonOut, _, _ := sweep(t, adminConf, "missed", "--round", "baoguo-2026-11-26", "-n", ns, "-o", "json")
	if err := json.Unmarshal([]byte(jsonOut), &l); err != nil || l.Source != sweepv1alpha1.SourceDrill {
		t.Errorf("json source = %q (%v), want drill", l.Source, err)
	}
}

// A health-code office gets read access and nothing more: `sweep missed`
// works with it, and writing does not.
func TestMissedNeedsOnlyReadAccess(t *testing.T) {
	const ns = "readonly"
	finishedRound(t, ns)
	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "missed-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{sweepv1alpha1.GroupVersion.Group},
			Resources: []string{"testingrounds", "collectionjobs", "buildings"}, Verbs: []string{"get", "list"}}},
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "health-office"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: "health-office"}},
	}
	if err := k8s.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kc, err := writeKubeconfig(dir, envtest.User{Name: "health-office"})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := sweep(t, kc, "missed", "--round", "baoguo-2026-11-26", "-n", ns, "-o", "csv")
	if err != nil {
		t.Fatalf("missed with read access: %v", err)
	}
	want, _ := os.ReadFile(filepath.Join("testdata", "missed_csv.golden"))
	if out != strings.ReplaceAll(string(want), "missed,baoguo", "readonly,baoguo") {
		t.Errorf("read-only output differs:\n%s", out)
	}
	if _, _, err := sweep(t, kc, "import", "-n", ns, filepath.Join("testdata", "ledger_changed.csv")); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Errorf("the read-only user could import: %v (is RBAC enforced?)", err)
	}
}

func TestStatusTreeAndSummary(t *testing.T) {
	const ns = "status"
	finishedRound(t, ns)
	// A round over its deadline prints in full, and the exit code says so.
	out, _, err := sweep(t, adminConf, "status", "baoguo-2026-11-26", "-n", ns)
	if err == nil || !strings.Contains(err.Error(), "exceeded its deadline") {
		t.Errorf("status of a round over its deadline: %v, want an error saying so", err)
	}
	for _, want := range []string{
		"Round status/baoguo-2026-11-26  DeadlineExceeded",
		"271 of 342 sampled, 71 missed, 0 outstanding",
		"Missed by reason: not-home 2, refused 5, unknown 64",
		"Supplies used/forecast: tubes 28/42, swabs 271/378, tube bags 3/4",
		"xinjiang              4/4 done",
		"├─ xinjiang-1         Completed",
		"└─ xinjiang-4         Expired    [##########] 100%  0/63",
		// The summary follows a final round.
		"  missed     by reason: not-home 2, refused 5, unknown 64",
		"Missed households by building (3 buildings):",
		"xinjiang-2  3       3       1-101 2-1203",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\033") {
		t.Errorf("colour codes when not on a terminal:\n%s", out)
	}
	// --watch on a round that is over prints it once, with the summary.
	out, _, _ = sweep(t, adminConf, "status", "-n", ns, "--watch", "--interval", "50ms", "--timeout", "1m", "--color", "always", "baoguo-2026-11-26")
	if !strings.Contains(out, "----") || !strings.Contains(out, "\033[32mCompleted") || !strings.Contains(out, "Missed households by building") {
		t.Errorf("--watch of a finished round:\n%s", out)
	}
	if _, _, err := sweep(t, adminConf, "status", "-n", ns, "nope"); err == nil || !strings.Contains(err.Error(), "status/nope") {
		t.Errorf("unknown round: %v", err)
	}
}

// poolsRound is finishedRound with a drill lab that found two pooled tubes
// positive: xinjiang-1's pool resolved, one household to seal, its retest
// missed one resident of 3-502; xinjiang-2's retest still waits for its
// second visit. The retests are jobs of the round with its label and
// controller reference, as the lab controller makes them.
func poolsRound(t *testing.T, ns string) {
	t.Helper()
	finishedRound(t, ns)
	ctx := context.Background()
	var tr sweepv1alpha1.TestingRound
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "baoguo-2026-11-26"}, &tr); err != nil {
		t.Fatal(err)
	}
	tr.Spec.Lab = &sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceDrill, Sealing: sweepv1alpha1.SealingApproval}
	if err := k8s.Update(ctx, &tr); err != nil {
		t.Fatal(err)
	}
	result := tr.Spec.Deadline.Add(-8 * time.Hour)
	var pools []*sweepv1alpha1.PositivePool
	for _, pc := range []struct {
		building, tube string
		hh             []string
		pool           sweepv1alpha1.PositivePoolStatus
		job            sweepv1alpha1.CollectionJobStatus
	}{
		{"xinjiang-1", "T0001", []string{"1-101", "3-502"},
			sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolResolved, Retested: 4, Resulted: 4, HouseholdsToSeal: []string{"1-101"}},
			sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobCompleted, Visits: 2, Sampled: 4, Missed: 1, Tubes: 4, MissedHouseholds: []string{"3-502"},
				StartTime: &metav1.Time{Time: result.Add(30 * time.Minute)}, CompletionTime: &metav1.Time{Time: result.Add(90 * time.Minute)}}},
		{"xinjiang-2", "T0002", []string{"2-301", "2-302"},
			sweepv1alpha1.PositivePoolStatus{Phase: sweepv1alpha1.PoolRetesting, Retested: 2},
			sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobWaiting, Visits: 1, Sampled: 2, Tubes: 2,
				StartTime: &metav1.Time{Time: result.Add(30 * time.Minute)}}},
	} {
		p := lab.NewPool(&tr, lab.TubeResult{Tube: pc.tube, Building: pc.building, Kind: lab.Pooled, Positive: true,
			Swabs: 5, Households: pc.hh, ResultTime: result})
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		p.Status = pc.pool
		p.Status.RetestJob = p.Name
		if err := k8s.Status().Update(ctx, p); err != nil {
			t.Fatal(err)
		}
		pools = append(pools, p)
		var sweepJob sweepv1alpha1.CollectionJob
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: round.JobName(tr.Name, tr.UID, pc.building)}, &sweepJob); err != nil {
			t.Fatal(err)
		}
		j := lab.NewRetest(&tr, p, &sweepJob)
		j.Spec.Suspend = false
		if err := k8s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		j.Status = pc.job
		if err := k8s.Status().Update(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	tr.Status.PositivePools = round.PoolCounts(pools)
	if err := k8s.Status().Update(ctx, &tr); err != nil {
		t.Fatal(err)
	}
}

// A round with positive pools: `sweep status` prints them under the round
// and in the summary, the retests are not listed as buildings, and `sweep
// missed` lists the resident a retest missed under its pool, not as a
// building.
func TestStatusAndMissedWithPools(t *testing.T) {
	const ns = "pools"
	poolsRound(t, ns)
	out, _, err := sweep(t, adminConf, "status", "baoguo-2026-11-26", "-n", ns)
	if err == nil || !strings.Contains(err.Error(), "exceeded its deadline") {
		t.Errorf("status: %v", err)
	}
	for _, want := range []string{
		"Positive pools 2: 0 open, 1 retesting, 0 awaiting results, 1 resolved; 1 households to seal",
		"  xinjiang-1  T0001  Resolved   4/5",
		"Completed, visit 2, 1 missed (3-502)  1-101",
		"  xinjiang-2  T0002  Retesting  2/5",
		"xinjiang              4/4 done",
		"positive   2 pools: 1 resolved, 0 awaiting results, 1 retesting, 0 open; 1 households to seal",
		"xinjiang-1  T0001  Resolved   4/5       1 (3-502)     1-101",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	// Four buildings, each once in the tree: the retests are not buildings.
	for _, b := range []string{"xinjiang-1", "xinjiang-2", "xinjiang-3", "xinjiang-4"} {
		if n := strings.Count(out, "─ "+b+" "); n != 1 {
			t.Errorf("%s is %d times in the tree, want once:\n%s", b, n, out)
		}
	}

	table, _, err := sweep(t, adminConf, "missed", "--round", "baoguo-2026-11-26", "-n", ns)
	if err != nil {
		t.Fatal(err)
	}
	// A pool's name ends in a hash of the round's UID, new in each run:
	// the golden holds it as ten x's (the same width, so the columns hold).
	golden(t, "missed_pools_table.golden", regexp.MustCompile(`-[0-9a-f]{10}\b`).ReplaceAllString(table, "-xxxxxxxxxx"))
	jsonOut, _, _ := sweep(t, adminConf, "missed", "--round", "baoguo-2026-11-26", "-n", ns, "-o", "json")
	var l MissedList
	if err := json.Unmarshal([]byte(jsonOut), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Buildings) != 3 || len(l.Retests) != 2 || l.Retests[0].MissedResidents+l.Retests[1].MissedResidents != 4 {
		t.Errorf("json: %d buildings, retests %+v; want the same 3 buildings and both retests under their pools", len(l.Buildings), l.Retests)
	}
	csvOut, _, _ := sweep(t, adminConf, "missed", "--round", "baoguo-2026-11-26", "-n", ns, "-o", "csv")
	if !strings.Contains(csvOut, ",xinjiang-1,") || !strings.Contains(csvOut, ",3-502,"+l.Retests[0].Pool+",unknown,baoguo-2026-11-26\n") {
		t.Errorf("csv lacks the retest's missed household under its pool:\n%s", csvOut)
	}
}
