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
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/statusview"
)

// MissedList is what `sweep missed -o json` prints: the list a health-code
// office follows up.
type MissedList struct {
	Namespace string `json:"namespace"`
	Round     string `json:"round"`
	// Phase is the round's phase; before Completed or DeadlineExceeded the
	// list holds residents not sampled yet, not finally missed.
	Phase sweepv1alpha1.RoundPhase `json:"phase"`
	// Source is where the round's results come from: http, csv, or drill,
	// whose missed households are invented for an exercise.
	Source sweepv1alpha1.SourceType `json:"source"`
	// MopUps are the round's mop-up rounds, each after the round it mops
	// up: the list holds who is still missing after all of them.
	MopUps    []string         `json:"mopUps,omitempty"`
	Buildings []MissedBuilding `json:"buildings"`
	// MissedByReason adds up the buildings' MissedByReason (not the
	// retests'): the residents not sampled by the reason their household
	// gave.
	MissedByReason sweepv1alpha1.MissedReasonTotals `json:"missedByReason"`
	// Retests are the single-tube retests of positive pools with residents
	// not retested: not buildings of the round, but people whose pooled
	// tube was positive, listed under their pool.
	Retests []MissedRetest `json:"retests,omitempty"`
}

// MissedRetest is the retest of one positive pool with residents not
// retested (yet, while it runs).
type MissedRetest struct {
	// Pool is the PositivePool's name, Tube the lab's id of its tube.
	Pool string `json:"pool"`
	Tube string `json:"tube"`
	MissedBuilding
}

// MissedBuilding is one building with residents not sampled.
type MissedBuilding struct {
	Building  string `json:"building"`
	Community string `json:"community,omitempty"`
	Address   string `json:"address,omitempty"`
	Phase     string `json:"phase"`
	Visits    int32  `json:"visits"`
	// LastVisitTime is the time of the collector's last report, RFC 3339.
	LastVisitTime   string `json:"lastVisitTime,omitempty"`
	MissedResidents int32  `json:"missedResidents"`
	// MissedHouseholds are unit-room ids, at most 500 per building.
	MissedHouseholds []string `json:"missedHouseholds"`
	// HouseholdsTruncated is true when the collector's list hit its cap:
	// the residents count is exact, the list is not complete.
	HouseholdsTruncated bool `json:"householdsTruncated,omitempty"`
	// MissedByReason counts MissedResidents by the reason the source gave
	// for their household; they add up to MissedResidents, and residents
	// without a reason (or never visited) are unknown.
	MissedByReason sweepv1alpha1.MissedReasonCounts `json:"missedByReason"`
	// MissedHouseholdReasons is the reason of each household on
	// MissedHouseholds that got one from the source, in the same order;
	// the others have none (unknown).
	MissedHouseholdReasons []sweepv1alpha1.HouseholdReason `json:"missedHouseholdReasons,omitempty"`
	// LastMissedIn is the round that last missed these residents: the
	// round or one of its mop-ups. Set when the round has mop-ups.
	LastMissedIn string `json:"lastMissedIn,omitempty"`
}

// runMissed lists a round's missed households per building. It only reads
// (get and list on rounds, collection jobs and buildings).
func (c *cli) runMissed(ctx context.Context, args []string) error {
	fs := pflag.NewFlagSet("missed", pflag.ContinueOnError)
	kf := addKubeFlags(fs)
	roundName := fs.String("round", "", "the round (required)")
	output := fs.StringP("output", "o", "table", "output format: table, csv (one line per household) or json")
	community := fs.String("community", "", "only this community (its label value, e.g. xinjiang)")
	building := fs.String("building", "", "only this building")
	fs.Usage = func() {
		fmt.Fprintf(c.errOut, "Usage: %s missed --round ROUND [-n namespace] [-o table|csv|json] [--community C] [--building B]\n", c.prog)
		fs.PrintDefaults()
	}
	if err := c.parseFlags(fs, args); err != nil {
		return err
	}
	if *roundName == "" && fs.NArg() == 1 {
		*roundName = fs.Arg(0)
	} else if *roundName == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("missed needs --round ROUND")
	}
	switch *output {
	case "table", "csv", "json":
	default:
		return fmt.Errorf("-o %q: want table, csv or json", *output)
	}
	cl, ns, err := kf.client()
	if err != nil {
		return err
	}
	var tr sweepv1alpha1.TestingRound
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: *roundName}, &tr); err != nil {
		return fmt.Errorf("reading round %s/%s: %w", ns, *roundName, err)
	}
	var jobs sweepv1alpha1.CollectionJobList
	if err := cl.List(ctx, &jobs, client.InNamespace(ns), client.MatchingLabels{sweepv1alpha1.LabelRound: round.LabelValue(tr.Name)}); err != nil {
		return fmt.Errorf("listing the round's jobs: %w", err)
	}
	// The label finds them; the controller reference's UID says which are
	// the round's, as the operator counts them.
	jobs.Items = round.Controlled(&tr, jobs.Items)
	var buildings sweepv1alpha1.BuildingList
	if err := cl.List(ctx, &buildings, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing buildings: %w", err)
	}
	address := map[string]string{}
	for _, b := range buildings.Items {
		address[b.Name] = b.Spec.Address
	}
	list := missedList(&tr, jobs.Items, address, *community, *building)
	mopUps, err := readMopUps(ctx, cl, &tr)
	if err != nil {
		return err
	}
	applyMopUps(&list, &tr, jobs.Items, mopUps, address, *community, *building)
	if list.Source.Simulated() {
		fmt.Fprintf(c.errOut, "warning: round %s/%s is a drill: these households are simulated, not residents to follow up\n", ns, tr.Name)
	}
	if !tr.Status.Phase.Finished() {
		fmt.Fprintf(c.errOut, "note: round %s/%s is %s: these residents are not sampled yet, not finally missed\n", ns, tr.Name, orDash(string(tr.Status.Phase)))
	}
	noteMopUps(c.errOut, mopUps)
	switch *output {
	case "json":
		enc := json.NewEncoder(c.out)
		enc.SetIndent("", "  ")
		return enc.Encode(list)
	case "csv":
		return writeMissedCSV(c.out, list)
	}
	return writeMissedTable(c.out, list)
}

func missedList(tr *sweepv1alpha1.TestingRound, jobs []sweepv1alpha1.CollectionJob, address map[string]string, community, building string) MissedList {
	out := MissedList{Namespace: tr.Namespace, Round: tr.Name, Phase: tr.Status.Phase, Source: tr.Spec.Collector.Source.Effective(), Buildings: []MissedBuilding{}}
	final := tr.Status.Phase.Finished()
	for i := range jobs {
		j := &jobs[i]
		if j.Spec.Round != tr.Name || (building != "" && j.Spec.Building != building) || (community != "" && round.Community(j) != community) {
			continue
		}
		if !final && j.Status.Visits == 0 && !round.IsRetest(j) {
			// A running round's buildings not visited yet: nobody there is
			// missed so far, only not reached.
			continue
		}
		// Not sampled, as the round counts them (round.JobResidents):
		// everyone expected of a building never visited before the
		// deadline.
		mb, ok := missedBuilding(j, round.JobResidents(j, tr.Status.Phase))
		if !ok {
			continue
		}
		mb.Address = address[j.Spec.Building]
		if round.IsRetest(j) {
			// A retest is not a building: its residents are listed under
			// their pool, and only once it visited or finished (a queued
			// retest has missed nobody yet).
			if j.Status.Visits > 0 || j.Status.Phase.Finished() {
				out.Retests = append(out.Retests, MissedRetest{Pool: j.Spec.Retest.Pool, Tube: j.Spec.Retest.Tube, MissedBuilding: mb})
			}
			continue
		}
		out.Buildings = append(out.Buildings, mb)
		out.MissedByReason.AddCounts(mb.MissedByReason)
	}
	sort.Slice(out.Retests, func(a, b int) bool { return out.Retests[a].Pool < out.Retests[b].Pool })
	sort.Slice(out.Buildings, func(a, b int) bool {
		if out.Buildings[a].Community != out.Buildings[b].Community {
			return out.Buildings[a].Community < out.Buildings[b].Community
		}
		return out.Buildings[a].Building < out.Buildings[b].Building
	})
	return out
}

// missedBuilding is job j's entry in the list, with its residents jr as
// the round counts them: those not sampled, its households, their reasons,
// and the counts by reason fitted to them (a job over by the deadline has
// not written them as missed yet, and one never visited has no reasons:
// all unknown). ok is false when nobody is missing.
func missedBuilding(j *sweepv1alpha1.CollectionJob, jr round.Residents) (MissedBuilding, bool) {
	if jr.NotSampled() == 0 {
		return MissedBuilding{}, false
	}
	mb := MissedBuilding{
		Building: j.Spec.Building, Community: round.Community(j),
		Phase: string(round.EffectivePhase(j)), Visits: j.Status.Visits, MissedResidents: int32(jr.NotSampled()),
		MissedHouseholds:       append([]string{}, j.Status.MissedHouseholds...),
		HouseholdsTruncated:    len(j.Status.MissedHouseholds) >= sweepv1alpha1.MaxMissedHouseholds,
		MissedByReason:         jr.NotSampledByReason,
		MissedHouseholdReasons: append([]sweepv1alpha1.HouseholdReason(nil), j.Status.MissedHouseholdReasons...),
	}
	if mb.Community == round.NoCommunity {
		mb.Community = ""
	}
	if t := lastVisit(j); t != nil {
		mb.LastVisitTime = t.UTC().Format(time.RFC3339)
	}
	return mb, true
}

// lastVisit is the time of the collector's last report on the building,
// or, without one, when its first visit started.
func lastVisit(j *sweepv1alpha1.CollectionJob) *time.Time {
	switch {
	case j.Status.Report != nil:
		return &j.Status.Report.Time.Time
	case j.Status.StartTime != nil:
		return &j.Status.StartTime.Time
	}
	return nil
}

func writeMissedCSV(w io.Writer, l MissedList) error {
	cw := csv.NewWriter(w)
	// source is on every row, so that a drill's rows stay marked after
	// they are filtered or pasted elsewhere.
	// pool is empty on a building's rows and names the positive pool on a
	// retest's: those residents' pooled tube was positive. reason is the
	// household's (unknown when the source gave none), after the older
	// columns so that readers of them by position are unaffected.
	// last_missed_in is the round that last missed the household: the
	// round, or the mop-up that went back for it last.
	_ = cw.Write([]string{"namespace", "round", "source", "community", "building", "address", "phase", "visits", "last_visit", "missed_residents", "household", "pool", "reason", "last_missed_in"})
	write := func(b MissedBuilding, pool string) {
		hh := b.MissedHouseholds
		if len(hh) == 0 {
			hh = []string{""} // the building's count, without household ids
		}
		why := b.reasons()
		for _, h := range hh {
			reason := ""
			if h != "" {
				reason = string(why(h))
			}
			_ = cw.Write([]string{l.Namespace, l.Round, string(l.Source), b.Community, b.Building, b.Address, b.Phase,
				strconv.Itoa(int(b.Visits)), b.LastVisitTime, strconv.Itoa(int(b.MissedResidents)), h, pool, reason, lastMissedIn(l, b)})
		}
	}
	for _, b := range l.Buildings {
		write(b, "")
	}
	for _, r := range l.Retests {
		write(r.MissedBuilding, r.Pool)
	}
	cw.Flush()
	return cw.Error()
}

func writeMissedTable(w io.Writer, l MissedList) error {
	if len(l.Buildings) == 0 && len(l.Retests) == 0 {
		_, err := fmt.Fprintf(w, "Nobody missed %s.\n", nobodyWhere(l))
		return err
	}
	if l.Source.Simulated() {
		fmt.Fprintln(w, statusview.DrillBanner)
	}
	if len(l.Buildings) == 0 {
		fmt.Fprintf(w, "No building of round %s/%s has residents not sampled.\n", l.Namespace, l.Round)
		return writeMissedRetests(w, l)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMMUNITY\tBUILDING\tPHASE\tVISITS\tLAST VISIT\tMISSED\tBY REASON\tHOUSEHOLDS"+mopUpColumn(l))
	total := int64(0)
	for _, b := range l.Buildings {
		hh := b.households()
		if b.HouseholdsTruncated {
			hh += " (list capped)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\t%s%s\n", orDash(b.Community), b.Building, b.Phase, b.Visits, orDash(b.LastVisitTime), b.MissedResidents,
			orDash(statusview.ByReason(statusview.Totals(&b.MissedByReason))), hh, mopUpCell(l, b))
		total += int64(b.MissedResidents)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "%d residents in %d buildings not sampled %s.\nBy reason: %s.\n", total, len(l.Buildings), missedWhere(l),
		statusview.ByReason(l.MissedByReason)); err != nil {
		return err
	}
	return writeMissedRetests(w, l)
}

// writeMissedRetests lists the residents of positive pools not retested,
// pool by pool: not buildings, and the first to go back for.
func writeMissedRetests(w io.Writer, l MissedList) error {
	if len(l.Retests) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nResidents of positive pools not retested (%d pools):\n", len(l.Retests))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tTUBE\tBUILDING\tPHASE\tVISITS\tNOT RETESTED\tHOUSEHOLDS")
	for _, r := range l.Retests {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\n", r.Pool, r.Tube, r.Building, r.Phase, r.Visits, r.MissedResidents, r.households())
	}
	return tw.Flush()
}

// reasons is the reason of each of b's households: the one the source
// gave, or unknown.
func (b MissedBuilding) reasons() func(household string) sweepv1alpha1.MissedReason {
	why := make(map[string]sweepv1alpha1.MissedReason, len(b.MissedHouseholdReasons))
	for _, hr := range b.MissedHouseholdReasons {
		why[hr.Household] = hr.Reason
	}
	return func(h string) sweepv1alpha1.MissedReason {
		if r, ok := why[h]; ok {
			return r
		}
		return sweepv1alpha1.MissedUnknown
	}
}

// households are b's missed households for a table cell, each with the
// reason the source gave ("1-101:not-home"); those without one are bare.
func (b MissedBuilding) households() string {
	why := b.reasons()
	hh := make([]string, len(b.MissedHouseholds))
	for i, h := range b.MissedHouseholds {
		hh[i] = h
		if r := why(h); r != sweepv1alpha1.MissedUnknown {
			hh[i] += ":" + string(r)
		}
	}
	return strings.Join(hh, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
