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
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/testobjects"
)

// mopUpOutcome is how a mop-up job of the test ends.
type mopUpOutcome struct {
	phase   sweepv1alpha1.JobPhase
	visits  int32
	sampled int32
	hh      []string
}

// mopUp creates mop-up round name of round of in ns as the round
// controller expands it (one job per building of missed residents, the
// jobs of earlier), plays the outcomes of its jobs by building (a
// building not in outcomes stays queued) and rolls the round up.
func mopUp(t *testing.T, ns, name, of string, phase sweepv1alpha1.RoundPhase, outcomes map[string]mopUpOutcome) {
	t.Helper()
	ctx := context.Background()
	var earlier sweepv1alpha1.TestingRound
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: of}, &earlier); err != nil {
		t.Fatal(err)
	}
	var all sweepv1alpha1.CollectionJobList
	if err := k8s.List(ctx, &all, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	start := earlier.Spec.Deadline.Add(2 * time.Hour)
	m := testobjects.Round(ns, name).MopUpOf(of).Start(start).Deadline(start.Add(4 * time.Hour)).Obj()
	m.Spec.Collector = earlier.Spec.Collector // its pod template too, not only the source
	if err := k8s.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	var jobs []*sweepv1alpha1.CollectionJob
	missing, _ := round.MopUpJobs(m, &earlier, pointers(round.Controlled(&earlier, all.Items)), nil, 100)
	for _, j := range missing {
		if err := k8s.Create(ctx, j); err != nil {
			t.Fatal(err)
		}
		if o, ok := outcomes[j.Spec.Building]; ok {
			j.Status = sweepv1alpha1.CollectionJobStatus{Phase: o.phase, Visits: o.visits, Sampled: o.sampled, MissedHouseholds: o.hh,
				StartTime: &metav1.Time{Time: start.Add(10 * time.Minute)}}
			if j.Status.Phase.Finished() {
				j.Status.Missed = j.Spec.Expected - o.sampled
				j.Status.CompletionTime = &metav1.Time{Time: start.Add(time.Hour)}
			} else {
				j.Status.Outstanding = j.Spec.Expected - o.sampled
			}
			if o.visits > 0 {
				j.Status.Report = &sweepv1alpha1.VisitReport{Visit: o.visits, Sampled: o.sampled, Missed: j.Spec.Expected - o.sampled,
					MissedHouseholds: o.hh, Final: true, Time: metav1.Time{Time: start.Add(time.Duration(o.visits) * 30 * time.Minute)}}
			}
			if err := k8s.Status().Update(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		jobs = append(jobs, j)
	}
	m.Status = round.StatusOf(m, jobs, round.Plan{Fixed: true}, start.Add(2*time.Hour))
	m.Status.Phase = phase
	if err := k8s.Status().Update(ctx, m); err != nil {
		t.Fatal(err)
	}
}

func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// `sweep missed` over a round and its mop-ups shows who is still missing:
// the round (finishedRound) missed 3 in xinjiang-2 (1-101, 2-1203), 5 in
// xinjiang-3 (1-502) and all 63 of xinjiang-4, never visited. Mop-up 1
// found 1-101's resident and everyone of xinjiang-3, and 60 of xinjiang-4;
// mop-up 2, still running, found xinjiang-4's last 3 and has not reached
// xinjiang-2 yet. Left: 2-1203 of xinjiang-2, last missed by mop-up 1.
func TestMissedOverTheRoundAndItsMopUps(t *testing.T) {
	const ns = "mopup"
	const main, mopUp1, mopUp2 = "baoguo-2026-11-26", "baoguo-2026-11-26-mopup-1", "baoguo-2026-11-26-mopup-2"
	finishedRound(t, ns)
	mopUp(t, ns, mopUp1, main, sweepv1alpha1.RoundCompleted, map[string]mopUpOutcome{
		"xinjiang-2": {sweepv1alpha1.JobCompleted, 1, 2, []string{"2-1203"}},
		"xinjiang-3": {sweepv1alpha1.JobCompleted, 1, 5, nil},
		"xinjiang-4": {sweepv1alpha1.JobCompleted, 2, 60, []string{"1-101", "2-305"}},
	})
	// Before the second mop-up exists, the first one's word stands.
	out, stderr, err := sweep(t, adminConf, "missed", main, "-n", ns)
	if err != nil || stderr != "" {
		t.Fatalf("%v %s", err, stderr)
	}
	golden(t, "missed_mopup1_table.golden", out)

	mopUp(t, ns, mopUp2, mopUp1, sweepv1alpha1.RoundRunning, map[string]mopUpOutcome{
		"xinjiang-4": {sweepv1alpha1.JobCompleted, 1, 3, nil},
	})
	// A mop-up of another round is not this round's.
	other := testobjects.Round(ns, "another-mopup").MopUpOf("another-round").Deadline(time.Now().Add(time.Hour)).
		Drill().Obj()
	if err := k8s.Create(context.Background(), other); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"missed_mopup_table.golden", nil},
		{"missed_mopup_csv.golden", []string{"-o", "csv"}},
		{"missed_mopup_json.golden", []string{"-o", "json"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, stderr, err := sweep(t, adminConf, append([]string{"missed", main, "-n", ns}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if want := "note: mop-up round mopup/" + mopUp2 + " is Running"; !strings.Contains(stderr, want) {
				t.Errorf("stderr %q lacks %q", stderr, want)
			}
			golden(t, tc.golden, out)
		})
	}
	jsonOut, _, _ := sweep(t, adminConf, "missed", main, "-n", ns, "-o", "json")
	var l MissedList
	if err := json.Unmarshal([]byte(jsonOut), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.MopUps) != 2 || l.MopUps[0] != mopUp1 || l.MopUps[1] != mopUp2 || len(l.Buildings) != 1 {
		t.Fatalf("mop-ups %v, buildings %+v", l.MopUps, l.Buildings)
	}
	if b := l.Buildings[0]; b.Building != "xinjiang-2" || b.MissedResidents != 1 || strings.Join(b.MissedHouseholds, " ") != "2-1203" || b.LastMissedIn != mopUp1 {
		t.Errorf("still missing: %+v; want 2-1203 of xinjiang-2, last missed in %s", b, mopUp1)
	}
	// The filters hold over the mop-ups too, and a mop-up round is a
	// round of its own for `sweep missed`.
	if out, _, _ := sweep(t, adminConf, "missed", main, "-n", ns, "--building", "xinjiang-4"); !strings.Contains(out, "Nobody missed in round mopup/"+main+" after its mop-ups") {
		t.Errorf("xinjiang-4 after the mop-ups:\n%s", out)
	}
	out, _, _ = sweep(t, adminConf, "missed", mopUp1, "-n", ns, "-o", "csv")
	if !strings.Contains(out, ",xinjiang-2,") || strings.Contains(out, ",xinjiang-4,") {
		t.Errorf("mop-up 1 over mop-up 2:\n%s", out)
	}
}
