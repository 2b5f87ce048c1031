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

package report

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func at(s string) *metav1.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &metav1.Time{Time: t}
}

func TestDay(t *testing.T) {
	shanghai, utc := mustZone(t, "Asia/Shanghai"), time.UTC
	for _, tc := range []struct {
		name string
		tr   sweepv1alpha1.TestingRound
		loc  *time.Location
		want string
	}{
		{"spec.start in the report's zone", sweepv1alpha1.TestingRound{Spec: sweepv1alpha1.TestingRoundSpec{Start: at("2026-11-25T22:30:00Z")}},
			shanghai, "2026-11-26"},
		{"the same start read in UTC", sweepv1alpha1.TestingRound{Spec: sweepv1alpha1.TestingRoundSpec{Start: at("2026-11-25T22:30:00Z")}},
			utc, "2026-11-25"},
		// A schedule's round belongs to the date its name carries, in the
		// schedule's zone, whatever zone the report is read in.
		{"scheduled in Shanghai, read in UTC", sweepv1alpha1.TestingRound{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{sweepv1alpha1.AnnotationScheduledTime: "2026-11-26T06:00:00+08:00"}},
			Spec:       sweepv1alpha1.TestingRoundSpec{Start: at("2026-11-25T22:00:00Z")}},
			utc, "2026-11-26"},
		{"a bad annotation: the start in the report's zone", sweepv1alpha1.TestingRound{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{sweepv1alpha1.AnnotationScheduledTime: "tomorrow"}},
			Spec:       sweepv1alpha1.TestingRoundSpec{Start: at("2026-11-25T22:00:00Z")}},
			utc, "2026-11-25"},
		{"no spec.start: when it started", sweepv1alpha1.TestingRound{Status: sweepv1alpha1.TestingRoundStatus{StartTime: at("2026-11-26T23:59:00+08:00")}},
			shanghai, "2026-11-26"},
		{"not started: when it was created", sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: *at("2026-11-27T00:01:00+08:00")}},
			shanghai, "2026-11-27"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Day(&tc.tr, tc.loc); got != tc.want {
				t.Errorf("Day = %s, want %s", got, tc.want)
			}
		})
	}
}

func round(ns, name, start string, mut ...func(*sweepv1alpha1.TestingRound)) sweepv1alpha1.TestingRound {
	tr := sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: sweepv1alpha1.TestingRoundSpec{Start: at(start), Deadline: metav1.Time{Time: at(start).Add(12 * time.Hour)}}}
	tr.Spec.Collector.Source = sweepv1alpha1.SourceHTTP
	for _, m := range mut {
		m(&tr)
	}
	return tr
}

func TestBuildPicksTheRoundsOfTheDayPerDistrict(t *testing.T) {
	rounds := []sweepv1alpha1.TestingRound{
		round("pingfang", "evening", "2026-11-26T18:00:00+08:00"),
		round("pingfang", "morning", "2026-11-26T06:00:00+08:00"),
		round("pingfang", "yesterday", "2026-11-25T06:00:00+08:00"),
		round("daoli", "tomorrow", "2026-11-27T06:00:00+08:00"),
		round("elsewhere", "not-asked", "2026-11-26T06:00:00+08:00"),
	}
	r := Build("2026-11-26", mustZone(t, "Asia/Shanghai"), []string{"pingfang", "daoli", "pingfang"}, []string{"secret"}, rounds)
	var got []string
	for _, d := range r.Districts {
		names := []string{}
		for _, tr := range d.Rounds {
			names = append(names, tr.Name)
		}
		s := d.Name + ":" + strings.Join(names, ",")
		if d.Forbidden {
			s += " forbidden"
		}
		got = append(got, s)
	}
	// Districts by name, each once; rounds of the day by start; a district
	// without one stays, and one not asked for is left out.
	want := "daoli: | pingfang:morning,evening | secret: forbidden"
	if strings.Join(got, " | ") != want {
		t.Errorf("got %s, want %s", strings.Join(got, " | "), want)
	}
}

func TestFigures(t *testing.T) {
	tr := round("pingfang", "r", "2026-11-26T06:00:00+08:00", func(tr *sweepv1alpha1.TestingRound) {
		tr.Status = sweepv1alpha1.TestingRoundStatus{
			Buildings: sweepv1alpha1.BuildingCounts{Total: 9, Completed: 5, Expired: 1, Failed: 1, Active: 2},
			Residents: sweepv1alpha1.ResidentCounts{Expected: 100, Sampled: 80, Missed: 12, Outstanding: 8, Exempt: 3,
				MissedByReason: sweepv1alpha1.MissedReasonTotals{NotHome: 5, Refused: 2}},
			PositivePools:           &sweepv1alpha1.PoolCounts{Open: 1, Retesting: 2, AwaitingResults: 3, Resolved: 4, HouseholdsToSeal: 5},
			EstimatedCompletionTime: at("2026-11-26T17:00:00+08:00"),
		}
	})
	f := FiguresOf(&tr)
	if f.BuildingsDone != 7 || f.BuildingsTotal != 9 {
		t.Errorf("buildings %d/%d, want 7/9", f.BuildingsDone, f.BuildingsTotal)
	}
	if !f.HasLab || f.PoolsOpen != 6 || f.PoolsResolved != 4 || f.ToSeal != 5 {
		t.Errorf("pools %+v", f)
	}
	// Reasons add up to missed: the 5 residents without one are unknown.
	if f.MissedByReason.Unknown != 5 || f.MissedByReason.Total() != f.Missed {
		t.Errorf("missed by reason %+v, want 5 unknown adding up to %d", f.MissedByReason, f.Missed)
	}
	if d, ok := VersusDeadline(&tr); !ok || d != -time.Hour {
		t.Errorf("versus deadline %v %v, want -1h", d, ok)
	}
	tr.Status.CompletionTime = at("2026-11-26T18:30:00+08:00")
	if f := FiguresOf(&tr); !f.Ended || !f.End.Equal(tr.Status.CompletionTime.Time) {
		t.Errorf("an ended round's end is its completion: %+v", f)
	}
	if d, _ := VersusDeadline(&tr); d != 30*time.Minute {
		t.Errorf("versus deadline %v, want 30m", d)
	}
	tr.Status.CompletionTime, tr.Status.EstimatedCompletionTime = nil, nil
	if _, ok := VersusDeadline(&tr); ok {
		t.Error("no ETA yet, but a difference to the deadline")
	}
}

func TestCSVRowsHaveEveryColumn(t *testing.T) {
	r := Build("2026-11-26", time.UTC, []string{"a", "b"}, []string{"c"}, []sweepv1alpha1.TestingRound{round("a", "r", "2026-11-26T06:00:00Z")})
	var buf bytes.Buffer
	if err := WriteCSV(&buf, r); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want a header and 3: %v", len(rows), rows)
	}
	phase := map[string]string{}
	for _, row := range rows[1:] {
		phase[row[1]] = row[4]
		if row[0] != "2026-11-26" {
			t.Errorf("row %v: date %q", row, row[0])
		}
	}
	if phase["b"] != NoRound || phase["c"] != Forbidden {
		t.Errorf("districts without a round: %v", phase)
	}
	// A round without a lab has no pool figures, not zeros.
	for i, h := range rows[0] {
		if strings.HasPrefix(h, "positive_pools") && rows[1][i] != "" {
			t.Errorf("%s = %q for a round without a lab", h, rows[1][i])
		}
	}
}

func TestDurations(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-80 * time.Minute: "-1h20m", 35 * time.Minute: "+35m", 20 * time.Second: "0m", 3 * time.Hour: "+3h",
		50 * time.Hour: "+2d2h",
	} {
		if got := signed(d); got != want {
			t.Errorf("signed(%v) = %s, want %s", d, got, want)
		}
	}
}

// The table names its zone; the computer's own is not just "Local".
func TestZoneName(t *testing.T) {
	if got := zoneName(Report{Date: "2026-11-26", Location: mustZone(t, "Asia/Shanghai")}); got != "Asia/Shanghai" {
		t.Errorf("zoneName = %q", got)
	}
	if got := zoneName(Report{Date: "2026-11-26", Location: time.Local}); !strings.HasPrefix(got, "local time, ") {
		t.Errorf("zoneName of Local = %q", got)
	}
}
