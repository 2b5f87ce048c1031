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

// Package report builds the city's daily campaign report (`sweep report`):
// for one day, every district's rounds of that day with their figures, as
// a table for people and as CSV for the report up the chain. It reads only
// the rounds' status, which the operator computes; it decides which rounds
// belong to the day (Day) and renders them.
package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/schedule"
)

// DateLayout is how a day is written: --date, the CSV's date column.
const DateLayout = "2006-01-02"

// Day is the day a round belongs to: the date it starts on. A round a
// TestingSchedule created starts at its scheduled time, and its day is that
// time's date in the schedule's own time zone (the annotation keeps the
// zone's offset), the same date its name carries. Any other round's day is
// the date of its start (spec.start, else when it started, else when it was
// created) in loc, the report's time zone.
func Day(tr *sweepv1alpha1.TestingRound, loc *time.Location) string {
	if t, ok := schedule.ScheduledTime(tr); ok {
		return t.Format(DateLayout)
	}
	return Start(tr).In(loc).Format(DateLayout)
}

// Start is when a round starts or started: spec.start, else the status's
// start time, else its creation.
func Start(tr *sweepv1alpha1.TestingRound) time.Time {
	switch {
	case tr.Spec.Start != nil:
		return tr.Spec.Start.Time
	case tr.Status.StartTime != nil:
		return tr.Status.StartTime.Time
	}
	return tr.CreationTimestamp.Time
}

// District state for a district without rounds on the day, in the phase
// column of the CSV.
const (
	// NoRound: the district had no round starting that day.
	NoRound = "NoRound"
	// Forbidden: the district was asked for (--districts, -n) but the
	// caller may not list its rounds.
	Forbidden = "Forbidden"
)

// District is one district's part of the report.
type District struct {
	Name string
	// Rounds are the district's rounds of the day, by start.
	Rounds []sweepv1alpha1.TestingRound
	// Forbidden says the caller may not read the district's rounds.
	Forbidden bool
}

// Report is one day's campaign figures.
type Report struct {
	// Date is the day, as DateLayout.
	Date string
	// Location is the zone times are shown in.
	Location  *time.Location
	Districts []District
}

// Build picks, for each district, the rounds of the day from rounds (any
// namespaces, any days). districts are the districts to report, each once
// even without a round that day; a round of a namespace not among them is
// left out. forbidden are the districts asked for but not readable.
func Build(date string, loc *time.Location, districts []string, forbidden []string, rounds []sweepv1alpha1.TestingRound) Report {
	index := map[string]int{}
	r := Report{Date: date, Location: loc}
	add := func(name string, forbidden bool) {
		if _, dup := index[name]; !dup {
			index[name] = len(r.Districts)
			r.Districts = append(r.Districts, District{Name: name, Forbidden: forbidden})
		}
	}
	for _, d := range districts {
		add(d, false)
	}
	for _, d := range forbidden {
		add(d, true)
	}
	for i := range rounds {
		tr := &rounds[i]
		if at, ok := index[tr.Namespace]; ok && !r.Districts[at].Forbidden && Day(tr, loc) == date {
			r.Districts[at].Rounds = append(r.Districts[at].Rounds, *tr)
		}
	}
	sort.Slice(r.Districts, func(a, b int) bool { return r.Districts[a].Name < r.Districts[b].Name })
	for i := range r.Districts {
		rs := r.Districts[i].Rounds
		sort.Slice(rs, func(a, b int) bool {
			if sa, sb := Start(&rs[a]), Start(&rs[b]); !sa.Equal(sb) {
				return sa.Before(sb)
			}
			return rs[a].Name < rs[b].Name
		})
	}
	return r
}

// Figures are one round's numbers as the report shows them.
type Figures struct {
	BuildingsDone, BuildingsTotal                  int32
	Expected, Sampled, Outstanding, Missed, Exempt int64
	MissedByReason                                 sweepv1alpha1.MissedReasonTotals
	// HasLab says the round follows up positive pools; without it the
	// pool figures are not applicable.
	HasLab bool
	// PoolsOpen are the pools not resolved yet: open, retesting or
	// awaiting single-tube results.
	PoolsOpen, PoolsResolved, ToSeal int32
	// OldestOpenPool is the pooled result time of the oldest pool not
	// retested yet (open or retesting).
	OldestOpenPool *time.Time
	TubesUsed      int64
	// TubesForecast is the round's forecast with its spare share, as
	// status.supplies has it.
	TubesForecast int64
	// End is the ETA while the round runs and its end once it ended;
	// Ended says which.
	End   *time.Time
	Ended bool
}

// FiguresOf reads a round's figures from its status.
func FiguresOf(tr *sweepv1alpha1.TestingRound) Figures {
	st := &tr.Status
	b, res := st.Buildings, st.Residents
	f := Figures{
		BuildingsDone: b.Completed + b.Expired + b.Failed, BuildingsTotal: b.Total,
		Expected: res.Expected, Sampled: res.Sampled, Outstanding: res.Outstanding, Missed: res.Missed, Exempt: res.Exempt,
		MissedByReason: res.MissedByReason,
		HasLab:         tr.Spec.Lab != nil || st.PositivePools != nil,
		TubesUsed:      st.Supplies.Used.Tubes, TubesForecast: st.Supplies.Forecast.Tubes,
	}
	// A status written before missed reasons were counted has none: its
	// missed residents are unknown, so that the reasons add up to missed.
	if unknown := res.Missed - res.MissedByReason.Total(); unknown > 0 {
		f.MissedByReason.Unknown += unknown
	}
	if pc := st.PositivePools; pc != nil {
		f.PoolsOpen = pc.Open + pc.Retesting + pc.AwaitingResults
		f.PoolsResolved, f.ToSeal = pc.Resolved, pc.HouseholdsToSeal
		if pc.OldestOpenResultTime != nil {
			t := pc.OldestOpenResultTime.Time
			f.OldestOpenPool = &t
		}
	}
	switch {
	case st.CompletionTime != nil:
		t := st.CompletionTime.Time
		f.End, f.Ended = &t, true
	case st.EstimatedCompletionTime != nil:
		t := st.EstimatedCompletionTime.Time
		f.End = &t
	}
	return f
}

// VersusDeadline is the round's ETA (or end) minus its deadline: below
// zero it finishes, or finished, that long before the deadline. ok is
// false while there is no ETA.
func VersusDeadline(tr *sweepv1alpha1.TestingRound) (d time.Duration, ok bool) {
	f := FiguresOf(tr)
	if f.End == nil {
		return 0, false
	}
	return f.End.Sub(tr.Spec.Deadline.Time), true
}

// csvHeader names the CSV's columns; each row is one round, or one district
// without a round that day (round empty, phase NoRound or Forbidden).
var csvHeader = func() []string {
	h := []string{"date", "district", "round", "source", "phase", "start", "deadline", "eta", "ended", "eta_minus_deadline_seconds",
		"buildings_done", "buildings_total", "expected", "sampled", "outstanding", "missed"}
	for _, r := range sweepv1alpha1.MissedReasons {
		h = append(h, "missed_"+strings.ReplaceAll(string(r), "-", "_"))
	}
	return append(h, "exempt", "positive_pools_open", "positive_pools_resolved", "oldest_open_pool_result", "households_to_seal",
		"tubes_used", "tubes_forecast")
}()

// WriteCSV writes the report as CSV: times RFC 3339 in the report's zone,
// counts as integers, pool columns empty for a round without a lab.
func WriteCSV(w io.Writer, r Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	ts := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(r.Location).Format(time.RFC3339)
	}
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, d := range r.Districts {
		if len(d.Rounds) == 0 {
			row := make([]string, len(csvHeader))
			row[0], row[1], row[4] = r.Date, d.Name, NoRound
			if d.Forbidden {
				row[4] = Forbidden
			}
			_ = cw.Write(row)
			continue
		}
		for i := range d.Rounds {
			tr := &d.Rounds[i]
			f := FiguresOf(tr)
			start, deadline := Start(tr), tr.Spec.Deadline.Time
			var eta, ended *time.Time
			if f.Ended {
				ended = f.End
			} else {
				eta = f.End
			}
			vs := ""
			if d, ok := VersusDeadline(tr); ok {
				vs = n(int64(d / time.Second))
			}
			row := []string{Day(tr, r.Location), d.Name, tr.Name, string(tr.Spec.Collector.Source.Effective()), string(tr.Status.Phase),
				ts(&start), ts(&deadline), ts(eta), ts(ended), vs,
				n(int64(f.BuildingsDone)), n(int64(f.BuildingsTotal)), n(f.Expected), n(f.Sampled), n(f.Outstanding), n(f.Missed)}
			for _, reason := range sweepv1alpha1.MissedReasons {
				row = append(row, n(f.MissedByReason.Get(reason)))
			}
			row = append(row, n(f.Exempt))
			if f.HasLab {
				row = append(row, n(int64(f.PoolsOpen)), n(int64(f.PoolsResolved)), ts(f.OldestOpenPool), n(int64(f.ToSeal)))
			} else {
				row = append(row, "", "", "", "")
			}
			row = append(row, n(f.TubesUsed), n(f.TubesForecast))
			_ = cw.Write(row)
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteTable writes the report for people: one line per round (and per
// district without one), the missed residents by reason, then notes on
// drills and positive pools waiting for a retest. now is the time the
// pools' waits are measured to.
func WriteTable(w io.Writer, r Report, now time.Time) error {
	fmt.Fprintf(w, "Campaign report for %s (rounds starting that day; times in %s)\n\n", r.Date, zoneName(r))
	if len(r.Districts) == 0 {
		_, err := fmt.Fprintln(w, "No district with rounds that you may read.")
		return err
	}
	clock := func(t time.Time) string {
		t = t.In(r.Location)
		if t.Format(DateLayout) == r.Date {
			return t.Format("15:04")
		}
		return t.Format("01-02 15:04")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DISTRICT\tROUND\tPHASE\tBUILDINGS\tEXPECTED\tSAMPLED\tOUTSTANDING\tMISSED\tEXEMPT\tPOOLS OPEN/RESOLVED\tTO SEAL\tTUBES USED/FORECAST\tDEADLINE\tETA\tVS DEADLINE")
	var drills, waiting, noRound, forbidden []string
	rounds := 0
	for _, d := range r.Districts {
		switch {
		case d.Forbidden:
			forbidden = append(forbidden, d.Name)
		case len(d.Rounds) == 0:
			noRound = append(noRound, d.Name)
		}
		for i := range d.Rounds {
			tr := &d.Rounds[i]
			rounds++
			f := FiguresOf(tr)
			name := tr.Name
			if tr.Spec.Collector.Source.Simulated() {
				name += " (drill)"
				drills = append(drills, d.Name+"/"+tr.Name)
			}
			pools, seal := "-", "-"
			if f.HasLab {
				pools, seal = fmt.Sprintf("%d/%d", f.PoolsOpen, f.PoolsResolved), strconv.Itoa(int(f.ToSeal))
				if f.OldestOpenPool != nil {
					waiting = append(waiting, fmt.Sprintf("%s/%s: the oldest has waited %s (pooled result at %s)", d.Name, tr.Name,
						short(now.Sub(*f.OldestOpenPool)), clock(*f.OldestOpenPool)))
				}
			}
			eta, vs := "-", "-"
			if f.End != nil {
				eta = clock(*f.End)
				if f.Ended {
					eta = "ended " + eta
				}
				dd, _ := VersusDeadline(tr)
				vs = signed(dd)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%d/%d\t%s\t%s\t%s\n",
				d.Name, name, orDash(string(tr.Status.Phase)), f.BuildingsDone, f.BuildingsTotal,
				f.Expected, f.Sampled, f.Outstanding, f.Missed, f.Exempt, pools, seal, f.TubesUsed, f.TubesForecast,
				clock(tr.Spec.Deadline.Time), eta, vs)
		}
	}
	if rounds == 0 {
		fmt.Fprintln(w, "No round starts that day in the districts you may read.")
	} else if err := tw.Flush(); err != nil {
		return err
	}
	if len(noRound) > 0 {
		fmt.Fprintf(w, "No round that day: %s\n", strings.Join(noRound, ", "))
	}
	if len(forbidden) > 0 {
		fmt.Fprintf(w, "Not readable (you may not list their rounds): %s\n", strings.Join(forbidden, ", "))
	}
	if rounds > 0 {
		fmt.Fprintln(w, "\nMissed residents by reason:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		head := []string{"DISTRICT", "ROUND", "MISSED"}
		for _, reason := range sweepv1alpha1.MissedReasons {
			head = append(head, strings.ToUpper(string(reason)))
		}
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		for _, d := range r.Districts {
			for i := range d.Rounds {
				tr := &d.Rounds[i]
				f := FiguresOf(tr)
				row := []string{d.Name, tr.Name, strconv.FormatInt(f.Missed, 10)}
				for _, reason := range sweepv1alpha1.MissedReasons {
					row = append(row, strconv.FormatInt(f.MissedByReason.Get(reason), 10))
				}
				fmt.Fprintln(tw, strings.Join(row, "\t"))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(waiting) > 0 {
		fmt.Fprintln(w, "\nPositive pools waiting for a retest:")
		for _, s := range waiting {
			fmt.Fprintln(w, "  "+s)
		}
	}
	if len(drills) > 0 {
		fmt.Fprintf(w, "\nDrills (simulated results for an exercise; nobody was sampled, do not report them): %s\n", strings.Join(drills, ", "))
	}
	return nil
}

// zoneName names the report's zone: its IANA name, or for the computer's
// own ("Local") its abbreviation and offset on the report's day.
func zoneName(r Report) string {
	if r.Location.String() != "Local" {
		return r.Location.String()
	}
	day, err := time.ParseInLocation(DateLayout, r.Date, r.Location)
	if err != nil {
		return "local time"
	}
	return "local time, " + day.Add(12*time.Hour).Format("MST -07:00")
}

// signed is a duration to the minute with its sign: "-1h20m", "+35m", "0m".
func signed(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d < 0:
		return "-" + short(-d)
	case d > 0:
		return "+" + short(d)
	}
	return "0m"
}

// short is a duration to the minute: "3h10m", "45m", "2d4h".
func short(d time.Duration) string {
	d = d.Round(time.Minute)
	if d < 0 {
		d = 0
	}
	days, h, m := int(d/(24*time.Hour)), int(d/time.Hour)%24, int(d/time.Minute)%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, h)
	case h > 0 && m > 0:
		return fmt.Sprintf("%dh%dm", h, m)
	case h > 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dm", m)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
