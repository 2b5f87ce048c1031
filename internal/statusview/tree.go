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
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
)

// Options say how a round is drawn.
type Options struct {
	// Now is the time the view is drawn at (for "in 5m" and the ETA).
	Now time.Time
	// Location is the zone times are shown in; nil is time.Local.
	Location *time.Location
	// Color adds ANSI colours: on a terminal, never when piped.
	Color bool
	// All lists every building. Otherwise each community lists at most
	// BuildingsPerCommunity, those under way and those with missed
	// residents first, and sums up the rest by phase.
	All bool
	// Pools are the positive pools of the round's lab follow-up; those the
	// round does not control are left out. Nil when they could not be
	// read: the round's status counts are shown alone.
	Pools []sweepv1alpha1.PositivePool
}

// BuildingsPerCommunity is how many buildings a community lists without All.
const BuildingsPerCommunity = 10

const (
	ansiReset  = "\033[0m"
	ansiBold   = "\033[1m"
	ansiDim    = "\033[2m"
	ansiRed    = "\033[31m"
	ansiGreen  = "\033[32m"
	ansiYellow = "\033[33m"
	ansiCyan   = "\033[36m"
)

func phaseColor(p string) string {
	switch p {
	case string(sweepv1alpha1.JobCompleted): // and RoundCompleted
		return ansiGreen
	case string(sweepv1alpha1.JobActive), string(sweepv1alpha1.RoundRunning):
		return ansiCyan
	case string(sweepv1alpha1.JobWaiting), string(sweepv1alpha1.RoundSuspended), string(sweepv1alpha1.RoundPending):
		return ansiYellow
	case string(sweepv1alpha1.JobExpired), string(sweepv1alpha1.JobFailed), string(sweepv1alpha1.RoundDeadlineExceeded):
		return ansiRed
	case string(sweepv1alpha1.JobQueued):
		return ansiDim
	}
	return ""
}

// painter colours text, or leaves it plain.
type painter bool

func (p painter) paint(color, s string) string {
	if !p || color == "" || s == "" {
		return s
	}
	return color + s + ansiReset
}

// Tree writes a round as a tree: the round with its progress, deadline,
// ETA and supplies, and its positive pools if it has any; under it each
// community; under each community its buildings, with phase, progress bar,
// sampled, missed, visits and tubes. Retests are not buildings: they show
// under their pool.
func Tree(w io.Writer, tr *sweepv1alpha1.TestingRound, jobs []sweepv1alpha1.CollectionJob, opt Options) {
	jobs = round.Controlled(tr, jobs) // the round's own, as the operator counts them
	retests := retestsByPool(jobs)
	jobs = sweepJobs(jobs)
	loc := opt.Location
	if loc == nil {
		loc = time.Local
	}
	p := painter(opt.Color)
	st := tr.Status
	res := st.Residents
	when := func(t time.Time) string {
		s := t.In(loc).Format("2006-01-02 15:04")
		if d := t.Sub(opt.Now).Round(time.Minute); d > 0 {
			s += " (in " + shortDuration(d) + ")"
		}
		return s
	}
	eta := "-"
	if st.EstimatedCompletionTime != nil {
		eta = when(st.EstimatedCompletionTime.Time)
	}
	fmt.Fprintf(w, "%s %s/%s  %s  deadline %s  ETA %s\n", p.paint(ansiBold, "Round"), tr.Namespace, tr.Name,
		p.paint(phaseColor(string(st.Phase)), orDash(string(st.Phase))), when(tr.Spec.Deadline.Time), eta)
	if tr.Spec.Collector.Source.Simulated() {
		fmt.Fprintln(w, p.paint(ansiYellow, DrillBanner))
	}
	fmt.Fprintf(w, "%s %3d%%  %d of %d sampled, %s, %d outstanding, %d exempt, %d home-visited\n",
		p.bar(st.ProgressPercent, 40), st.ProgressPercent, res.Sampled, res.Expected,
		p.paintIf(res.Missed > 0, ansiRed, fmt.Sprintf("%d missed", res.Missed)), res.Outstanding, res.Exempt, res.HomeVisited)
	if res.Missed > 0 {
		fmt.Fprintf(w, "Missed by reason: %s\n", ByReason(res.MissedByReason))
	}
	if res.ExtraSampled > 0 {
		fmt.Fprintf(w, "%d sampled beyond the roster (moved in, or exempt and sampled anyway): update the Buildings\n", res.ExtraSampled)
	}
	b := st.Buildings
	fmt.Fprintf(w, "Buildings %s finished: %d queued, %d active, %d waiting, %d completed, %d expired, %d failed\n",
		orDash(st.BuildingProgress), b.Queued, b.Active, b.Waiting, b.Completed, b.Expired, b.Failed)
	sup := st.Supplies
	fmt.Fprintf(w, "Supplies used/forecast: tubes %d/%d, swabs %d/%d, tube bags %d/%d\n",
		sup.Used.Tubes, sup.Forecast.Tubes, sup.Used.Swabs, sup.Forecast.Swabs, sup.Used.TubeBags, sup.Forecast.TubeBags)
	writePools(w, p, tr, opt.Pools, retests, opt.Now)
	fmt.Fprintln(w)

	// Communities from the jobs themselves, so the tree is right even
	// before the round's status lists them.
	byCommunity := map[string][]*sweepv1alpha1.CollectionJob{}
	for i := range jobs {
		c := round.Community(&jobs[i])
		byCommunity[c] = append(byCommunity[c], &jobs[i])
	}
	names := make([]string, 0, len(byCommunity))
	for n := range byCommunity {
		names = append(names, n)
	}
	sort.Strings(names)

	t := &table{p: p}
	t.add(cell{s: "COMMUNITY / BUILDING"}, cell{s: "PHASE"}, cell{s: "PROGRESS"}, cell{s: "SAMPLED"}, cell{s: "MISSED"}, cell{s: "VISITS"}, cell{s: "TUBES"}, cell{s: "NEXT VISIT"})
	policy := tr.Spec.Supplies
	for _, name := range names {
		cj := byCommunity[name]
		var expected, sampled, missed, finished, tubesUsed, tubesFc int64
		for _, j := range cj {
			jr := round.JobResidents(j, st.Phase)
			expected += jr.Expected
			sampled += jr.Sampled
			missed += jr.Missed
			if j.Status.Phase.Finished() {
				finished++
			}
			tubesUsed += round.JobUsed(j, policy).Tubes
			tubesFc += round.JobForecast(j).Tubes
		}
		pct := percent(sampled+missed, expected, finished == int64(len(cj)))
		t.add(cell{s: name, color: ansiBold}, cell{s: fmt.Sprintf("%d/%d done", finished, len(cj))},
			cell{s: fmt.Sprintf("%s %3d%%", p.bar(pct, 10), pct)},
			cell{s: fmt.Sprintf("%d/%d", sampled, expected)}, missedCell(missed, true), cell{}, cell{s: fmt.Sprintf("%d/%d", tubesUsed, tubesFc)}, cell{})

		shown, hidden := pick(cj, opt.All)
		for i, j := range shown {
			branch := "├─ "
			if i == len(shown)-1 && len(hidden) == 0 {
				branch = "└─ "
			}
			phase := string(round.EffectivePhase(j))
			jr := round.JobResidents(j, st.Phase)
			fin := j.Status.Phase.Finished()
			pct := percent(jr.Sampled+jr.Missed, jr.Expected, jr.Over)
			next := ""
			if j.Status.NextVisitTime != nil && !fin {
				next = "in " + shortDuration(j.Status.NextVisitTime.Sub(opt.Now).Round(time.Second))
			}
			t.add(cell{s: branch + j.Spec.Building}, cell{s: phase, color: phaseColor(phase)},
				cell{s: fmt.Sprintf("%s %3d%%", p.bar(pct, 10), pct)},
				cell{s: fmt.Sprintf("%d/%d", jr.Sampled, jr.Expected)}, missedCell(jr.Missed, jr.Over), cell{s: fmt.Sprint(j.Status.Visits)},
				cell{s: fmt.Sprintf("%d/%d", round.JobUsed(j, policy).Tubes, round.JobForecast(j).Tubes)}, cell{s: next})
		}
		if len(hidden) > 0 {
			t.add(cell{s: "└─ " + hiddenSummary(hidden), color: ansiDim})
		}
	}
	if len(names) == 0 {
		fmt.Fprintln(w, "No buildings yet.")
		return
	}
	t.write(w)
}

func (p painter) paintIf(cond bool, color, s string) string {
	if !cond {
		return s
	}
	return p.paint(color, s)
}

func missedCell(n int64, final bool) cell {
	switch {
	case !final:
		return cell{s: "-"}
	case n > 0:
		return cell{s: fmt.Sprint(n), color: ansiRed}
	}
	return cell{s: "0"}
}

// percent is done/expected in whole percent; a building with nobody
// expected is 100% once finished.
func percent(done, expected int64, finished bool) int32 {
	if expected <= 0 {
		if finished {
			return 100
		}
		return 0
	}
	return int32(min(done*100/expected, 100))
}

// pick chooses the buildings a community lists: all of them, or at most
// BuildingsPerCommunity with those under way first (most residents still
// to find first), then those with missed residents, then the rest by name.
func pick(jobs []*sweepv1alpha1.CollectionJob, all bool) (shown, hidden []*sweepv1alpha1.CollectionJob) {
	sorted := append([]*sweepv1alpha1.CollectionJob(nil), jobs...)
	if all || len(sorted) <= BuildingsPerCommunity {
		sort.Slice(sorted, func(a, b int) bool { return sorted[a].Spec.Building < sorted[b].Spec.Building })
		return sorted, nil
	}
	rank := func(j *sweepv1alpha1.CollectionJob) int {
		switch ph := round.EffectivePhase(j); {
		case ph == sweepv1alpha1.JobActive || ph == sweepv1alpha1.JobWaiting:
			return 0
		case j.Status.Phase.Finished() && round.JobResidents(j, "").Missed > 0:
			return 1
		case ph == sweepv1alpha1.JobQueued:
			return 2
		}
		return 3
	}
	sort.Slice(sorted, func(a, b int) bool {
		ra, rb := rank(sorted[a]), rank(sorted[b])
		if ra != rb {
			return ra < rb
		}
		oa, ob := round.JobResidents(sorted[a], "").NotSampled(), round.JobResidents(sorted[b], "").NotSampled()
		if oa != ob {
			return oa > ob
		}
		return sorted[a].Spec.Building < sorted[b].Spec.Building
	})
	return sorted[:BuildingsPerCommunity], sorted[BuildingsPerCommunity:]
}

func hiddenSummary(hidden []*sweepv1alpha1.CollectionJob) string {
	n := map[sweepv1alpha1.JobPhase]int{}
	for _, j := range hidden {
		n[round.EffectivePhase(j)]++
	}
	var parts []string
	for _, ph := range []sweepv1alpha1.JobPhase{sweepv1alpha1.JobActive, sweepv1alpha1.JobWaiting, sweepv1alpha1.JobQueued,
		sweepv1alpha1.JobCompleted, sweepv1alpha1.JobExpired, sweepv1alpha1.JobFailed} {
		if n[ph] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[ph], strings.ToLower(string(ph))))
		}
	}
	return fmt.Sprintf("%d more: %s (--all lists them)", len(hidden), strings.Join(parts, ", "))
}

// shortDuration is a duration as people say it: 2h5m, 40s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (p painter) bar(pct int32, width int) string {
	pct = max(0, min(pct, 100))
	full := int(pct) * width / 100
	if !p {
		return "[" + strings.Repeat("#", full) + strings.Repeat(".", width-full) + "]"
	}
	color := ansiYellow
	if pct == 100 {
		color = ansiGreen
	}
	return "[" + p.paint(color, strings.Repeat("█", full)) + strings.Repeat("·", width-full) + "]"
}

// table aligns cells whose text may carry colour codes: widths come from
// the text people see, not from its bytes.
type table struct {
	p    painter
	rows [][]cell
}

type cell struct {
	s, color string
}

func (t *table) add(cells ...cell) { t.rows = append(t.rows, cells) }

// visible is the width of the text without its colour codes.
func (c cell) visible() int {
	n, esc := 0, false
	for _, r := range c.s {
		switch {
		case r == '\033':
			esc = true
		case esc:
			esc = r != 'm'
		default:
			n++
		}
	}
	return n
}

func (t *table) write(w io.Writer) {
	var widths []int
	for _, r := range t.rows {
		if len(r) == 1 {
			continue // a note spanning the row
		}
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], c.visible())
		}
	}
	for _, r := range t.rows {
		var b strings.Builder
		for i, c := range r {
			b.WriteString(t.p.paint(c.color, c.s))
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-c.visible()+2))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}
