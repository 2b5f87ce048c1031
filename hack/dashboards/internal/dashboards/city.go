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

package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/barchart"
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/table"
)

// city selects the districts the City dashboard's variable picks (every
// district by default).
const city = `namespace=~"$district"`

// LatestRound is, for each district, its round today: of the district's
// rounds that have started, the one that started last (the largest
// sweep_round_start_timestamp_seconds; topk picks one if two started in the
// same second). A district's daily round replaces yesterday's the moment it
// starts, a round still running past midnight stays until the next one
// starts, and a round that is created but not started yet (Pending) is not
// shown until it starts: it has no figures. It needs no round name and no
// date, which differ from district to district.
var LatestRound = fmt.Sprintf(`topk by (namespace) (1, max by (namespace, round) (sweep_round_start_timestamp_seconds{%s}))`, city)

// today keeps, of an expression by (namespace, round), the series of each
// district's round today (LatestRound).
func today(expr string) string {
	return fmt.Sprintf(`(%s) and on (namespace, round) %s`, expr, LatestRound)
}

// perRound is a round gauge by district and round. max, not sum: every
// replica of the manager serves the same round gauges.
func perRound(metric, selector string) string {
	if selector != "" {
		selector = ", " + selector
	}
	return fmt.Sprintf(`max by (namespace, round) (%s{%s%s})`, metric, city, selector)
}

// cityResidents is the rounds' residents in one state.
func cityResidents(state string) string {
	return perRound("sweep_round_residents", fmt.Sprintf(`state="%s"`, state))
}

// City's figures, by district and round, before today() picks each
// district's round.
var (
	cityProgress = fmt.Sprintf(`100 * (%[1]s - %[2]s) / %[1]s`, cityResidents("expected"), cityResidents("outstanding"))
	// As on the round overview: the ETA while the round runs, its end
	// time once it ended.
	cityETAMinusDeadline = fmt.Sprintf(`(%s or %s) - %s`,
		perRound("sweep_round_estimated_completion_timestamp_seconds", ""),
		perRound("sweep_round_completion_timestamp_seconds", ""),
		perRound("sweep_round_deadline_timestamp_seconds", ""))
	cityBuildingsDone = fmt.Sprintf(`sum by (namespace, round) (max by (namespace, round, phase) (sweep_round_buildings{%s, phase=~"Completed|Expired|Failed"}))`, city)
	// Pools not resolved: open, retesting or awaiting results. Only rounds
	// with a lab have the series.
	cityPoolsOpen = fmt.Sprintf(`sum by (namespace, round) (max by (namespace, round, phase) (sweep_positive_pools{%s, phase!="resolved"}))`, city)
	// No pool waits for a retest: the oldest-open gauge is absent, and the
	// age is 0 for a round with a lab.
	cityOldestPoolAge = fmt.Sprintf(`(time() - %s) or (0 * %s)`,
		perRound("sweep_positive_pool_oldest_open_result_timestamp_seconds", ""),
		perRound("sweep_round_retest_within_seconds", ""))
	cityToSeal      = perRound("sweep_households_to_seal", "")
	cityTubesUsed   = perRound("sweep_round_supplies", `item="tubes", kind="used"`)
	cityTubesNeeded = perRound("sweep_round_supplies", `item="tubes", kind="forecast"`)
	// The round, its phase and its source as labels, the value 1.
	cityRoundLabels = fmt.Sprintf(`max by (namespace, round, phase) (sweep_round_phase{%[1]s} == 1) * on (namespace, round) group_left (source) max by (namespace, round, source) (sweep_round_info{%[1]s})`, city)
)

// tableQuery is an instant query of a table panel: one row per series.
func tableQuery(ref, expr string) *prometheus.DataqueryBuilder {
	return now(ref, expr, "").Format(prometheus.PromQueryFormatTable)
}

// perDistrict is a bar gauge with one bar per district: its round today.
func perDistrict(title, description, unit string, t *dashboard.ThresholdsConfigBuilder, expr string) *bargauge.PanelBuilder {
	return bargauge.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Min(0).
		Height(8).Span(8).
		Thresholds(t).
		ReduceOptions(lastValue()).
		Orientation(common.VizOrientationHorizontal).
		DisplayMode(common.BarGaugeDisplayModeBasic).
		ValueMode(common.BarGaugeValueModeColor).
		NamePlacement(common.BarGaugeNamePlacementLeft).
		ShowUnfilled(true).
		WithTarget(now("A", today(expr), "{{namespace}} · {{round}}"))
}

// cityColumns are the columns of the districts table after its first query
// (round, phase, source): query ref, column, unit, expression.
var cityColumns = []struct{ ref, name, unit, expr string }{
	{"B", "progress", "percent", cityProgress},
	{"C", "sampled", "none", cityResidents("sampled")},
	{"D", "missed", "none", cityResidents("missed")},
	{"E", "outstanding", "none", cityResidents("outstanding")},
	{"F", "buildings done", "none", cityBuildingsDone},
	{"G", "ETA − deadline", "s", cityETAMinusDeadline},
	{"H", "pools open", "none", cityPoolsOpen},
	{"I", "oldest open pool", "s", cityOldestPoolAge},
	{"J", "to seal", "none", cityToSeal},
	{"K", "tubes used", "none", cityTubesUsed},
	{"L", "tubes forecast", "none", cityTubesNeeded},
}

// districtsTable is the city at a glance: one row per district with its
// round today and every figure of the panels below.
func districtsTable() *table.PanelBuilder {
	p := table.NewPanelBuilder().
		Title("Districts today").
		Description("One row per district (namespace) with its round today: the round of the district that started last. Phase and source (drill rounds are simulated), progress, residents sampled, missed and outstanding, buildings finished, ETA minus deadline (below zero: early), positive pools not resolved and how long the oldest not retested has waited, households to seal, and tubes used against forecast (spares included).").
		Datasource(datasource()).
		Height(9).Span(24).
		WithTarget(tableQuery("A", today(cityRoundLabels)))
	rename := map[string]any{"namespace": "district"}
	order := map[string]any{"namespace": 0, "round": 1, "phase": 2, "source": 3}
	for i, c := range cityColumns {
		p = p.WithTarget(tableQuery(c.ref, today(c.expr)))
		rename["Value #"+c.ref] = c.name
		order["Value #"+c.ref] = 4 + i
		if c.unit != "none" {
			p = p.OverrideByName(c.name, []dashboard.DynamicConfigValue{{Id: "unit", Value: c.unit}})
		}
	}
	// Each query is a table of (namespace, round, value); merge joins them
	// on district and round, then the columns get names.
	return p.
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]any{"Time": true, "Value #A": true},
			"renameByName":  rename,
			"indexByName":   order,
		}}).
		OverrideByName("source", []dashboard.DynamicConfigValue{{Id: "mappings", Value: []map[string]any{{
			"type": "value", "options": map[string]any{"drill": map[string]any{"color": "orange", "text": "drill (simulated)"}},
		}}}}).
		OverrideByName("ETA − deadline", []dashboard.DynamicConfigValue{
			{Id: "thresholds", Value: map[string]any{"mode": "absolute", "steps": []map[string]any{{"color": "green", "value": nil}, {"color": "red", "value": 1}}}},
			{Id: "custom.cellOptions", Value: map[string]any{"type": "color-text"}},
		}).
		OverrideByName("missed", []dashboard.DynamicConfigValue{
			{Id: "thresholds", Value: map[string]any{"mode": "absolute", "steps": []map[string]any{{"color": "green", "value": nil}, {"color": "red", "value": 1}}}},
			{Id: "custom.cellOptions", Value: map[string]any{"type": "color-text"}},
		}).
		SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("district")})
}

// missedByReason is a bar per district, stacked by the reason given for
// its missed residents.
func missedByReason() *barchart.PanelBuilder {
	expr := today(fmt.Sprintf(`max by (namespace, round, reason) (sweep_round_missed_residents{%s})`, city))
	return barchart.NewPanelBuilder().
		Title("Missed by reason").
		Description("Each district's missed residents in its round today, by the reason their household gave: not-home, refused, away, in-hospital, moved-out, vacant, unreachable; unknown when the source gave none. Not home and refused need another knock or a phone call; moved out and vacant need the roster updated.").
		Datasource(datasource()).
		Height(9).Span(12).
		Unit("none").
		WithTarget(tableQuery("A", expr)).
		// Rows (district, reason, value) become one row per district
		// with a column per reason.
		WithTransformation(dashboard.DataTransformerConfig{Id: "groupingToMatrix", Options: map[string]any{
			"columnField": "reason", "rowField": "namespace", "valueField": "Value",
		}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"renameByName": map[string]any{`namespace\reason`: "district"},
		}}).
		XField("district").
		Orientation(common.VizOrientationHorizontal).
		Stacking(common.StackingModeNormal).
		ShowValue(common.VisibilityModeAuto).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom))
}

// City is the city command centre's dashboard (指挥部): every district's
// round today side by side.
func City() (dashboard.Dashboard, error) {
	return numbered(dashboard.NewDashboardBuilder("Sweep / City").
		Uid(CityUID).
		Description("Every district (namespace) and its round today side by side: progress, missed by reason, ETA against deadline, open positive pools and their age, households to seal, and tubes used against forecast. A district's round today is the one that started last. Explained panel by panel in docs/dashboards.md.").
		Tags([]string{"sweep"}).
		Refresh("1m").
		Time("now-24h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Readonly().
		WithVariable(datasourceVariable()).
		WithVariable(queryVariable("district", "Districts", "label_values(sweep_round_phase, namespace)").
			Multi(true).IncludeAll(true).AllValue(".+").
			Current(dashboard.VariableOption{Text: dashboard.StringOrArrayOfString{String: cog.ToPtr("All")}, Value: dashboard.StringOrArrayOfString{String: cog.ToPtr("$__all")}})).
		WithRow(dashboard.NewRowBuilder("Today, district by district")).
		WithPanel(districtsTable()).
		WithPanel(perDistrict("Progress",
			"Residents sampled or settled as missed, as a share of the residents expected, in each district's round today. The same figure as PROGRESS in `kubectl get round`.",
			"percent", thresholds("blue"), cityProgress).Max(100).Decimals(1)).
		WithPanel(perDistrict("ETA against deadline",
			"ETA minus deadline of each district's round today: below zero it finishes that long before its deadline at the pace so far (green); above zero, after it (red). Once a round ended, its end time stands in for the ETA. Empty for a round until its first building reports.",
			"s", thresholds("green", 1.0, "red"), cityETAMinusDeadline).Min(-43200)).
		WithPanel(perDistrict("Missed",
			"Residents of finished buildings not sampled (漏检) in each district's round today; red from the first one. The reasons are in the next panel, the households in `sweep missed`.",
			"none", thresholds("green", 1.0, "red"), cityResidents("missed"))).
		WithPanel(missedByReason()).
		WithPanel(perDistrict("Tubes used of forecast",
			"Sample tubes filled so far as a share of the tubes forecast for each district's round today, spares included (sweep_round_supplies). Orange from 80%, red from 100%: order supplies before a district runs out.",
			"percent", thresholds("green", 80.0, "orange", 100.0, "red"), fmt.Sprintf(`100 * %s / %s`, cityTubesUsed, cityTubesNeeded)).Span(12)).
		WithRow(dashboard.NewRowBuilder("Positive pools")).
		WithPanel(perDistrict("Positive pools open",
			"Positive pools of each district's round today that are not resolved yet: open (no team yet), retesting, or awaiting single-tube results. Only rounds with a lab have pools.",
			"none", thresholds("green", 1.0, "orange"), cityPoolsOpen).Decimals(0)).
		WithPanel(perDistrict("Oldest open pool",
			"How long the oldest positive pool not retested yet (open or retesting) of each district's round today has waited since its pooled result; 0 while none waits. Orange from 2h, red from 4h (the default retestWithin); the SweepPositivePoolNotRetested alert uses each round's own retestWithin.",
			"s", thresholds("green", 7200.0, "orange", 14400.0, "red"), cityOldestPoolAge)).
		WithPanel(perDistrict("Households to seal",
			"Households (unit-room ids) whose own single tube was positive, over the resolved pools of each district's round today. Red from the first one. Their list is in `kubectl get positivepools -n <district>`.",
			"none", thresholds("green", 1.0, "red"), cityToSeal).Decimals(0)).
		WithRow(dashboard.NewRowBuilder("Over time")).
		WithPanel(overTime("Progress over time",
			"Each district's progress in its round today, over the time range: a line that flattens before 100% means a district's teams stopped. When a district's next round starts, its line continues with the new round.",
			"percent",
			query("A", fmt.Sprintf(`max by (namespace) (%s)`, today(cityProgress)), "{{namespace}}")).Max(100)).
		WithPanel(overTime("Missed over time",
			"Each district's missed residents in its round today, over the time range.",
			"none",
			query("A", fmt.Sprintf(`max by (namespace) (%s)`, today(cityResidents("missed"))), "{{namespace}}"))).
		Build())
}
