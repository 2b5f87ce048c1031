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

// Package dashboards builds Sweep's Grafana dashboards as code, with the
// Grafana Foundation SDK: "Sweep / Round overview" for the commanders of a
// district's testing round, "Sweep / City" for the city's command centre
// (every district's round today side by side) and "Sweep / Operator" for
// the ops team. The JSON under
// config/grafana/ is generated from these functions (`make dashboards`, see
// hack/dashboards) and a test fails when the two differ. It lives in the
// hack/dashboards module so that the SDK stays out of the sweep binary's
// module graph.
//
// The queries follow two rules. Round gauges are read with max(), not sum():
// every replica of the manager serves the same round gauges from its cache
// (a standby one too), so sum() would count a round twice when two are
// scraped. And where Prometheus has no series for "none happened" (no
// failed API request yet), the query says 0 rather than leaving the panel
// empty.
package dashboards

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/barchart"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Stable uids: links and provisioning refer to the dashboards by them.
const (
	RoundOverviewUID = "sweep-round-overview"
	CityUID          = "sweep-city"
	OperatorUID      = "sweep-operator"
)

// UIDs are the stable uids of all dashboards.
var UIDs = []string{RoundOverviewUID, CityUID, OperatorUID}

// Files are the generated dashboards by their file name under
// config/grafana/.
var Files = map[string]func() (dashboard.Dashboard, error){
	"sweep-round-overview.json": RoundOverview,
	"sweep-city.json":           City,
	"sweep-operator.json":       Operator,
}

// JSON is a dashboard as it is checked in: indented, with a final newline.
func JSON(d dashboard.Dashboard) ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// round selects the round the dashboard's variables pick.
const round = `namespace="$namespace", round="$round"`

// datasource is the Prometheus the dashboard's datasource variable picks.
func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
}

func datasourceVariable() *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus")
}

// queryVariable is a variable filled from Prometheus label values.
func queryVariable(name, label, query string) *dashboard.QueryVariableBuilder {
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
		Definition(query).
		Datasource(datasource()).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc)
}

// query is a range query drawn over time, labelled by legend.
func query(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Datasource(datasource()).Expr(expr).LegendFormat(legend)
}

// now is an instant query: the value at the end of the time range.
func now(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return query(ref, expr, legend).Instant()
}

// thresholds colours values from base up: steps are value, colour pairs.
func thresholds(base string, steps ...any) *dashboard.ThresholdsConfigBuilder {
	t := []dashboard.Threshold{{Color: base}}
	for i := 0; i+1 < len(steps); i += 2 {
		t = append(t, dashboard.Threshold{Value: cog.ToPtr(steps[i].(float64)), Color: steps[i+1].(string)})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(t)
}

func lastValue() *common.ReduceDataOptionsBuilder {
	return common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false)
}

// bigNumber is a stat panel showing the latest value of its queries.
func bigNumber(title, description, unit string, t *dashboard.ThresholdsConfigBuilder, targets ...cog.Builder[variants.Dataquery]) *stat.PanelBuilder {
	p := stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Height(5).Span(4).
		ReduceOptions(lastValue()).
		Orientation(common.VizOrientationAuto).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeValue).
		TextMode(common.BigValueTextModeAuto).
		Thresholds(t)
	for _, q := range targets {
		p = p.WithTarget(q)
	}
	return p
}

// overTime is a time series panel.
func overTime(title, description, unit string, targets ...cog.Builder[variants.Dataquery]) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource()).
		Unit(unit).
		Min(0).
		Height(9).Span(12).
		FillOpacity(10).
		Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom))
	for _, q := range targets {
		p = p.WithTarget(q)
	}
	return p
}

// residents is the round's residents in one state.
func residents(state string) string {
	return fmt.Sprintf(`max(sweep_round_residents{%s, state="%s"})`, round, state)
}

// district selects the district the dashboard's variable picks: the lab's
// histograms carry no round.
const district = `namespace="$namespace"`

// quantileOverRange is a quantile of a district's histogram over the
// dashboard's time range: positive pools are a few a night, too few for a
// rate over minutes.
func quantileOverRange(q, histogram string) string {
	return fmt.Sprintf(`histogram_quantile(%s, sum by (le) (increase(%s_bucket{%s}[$__range])))`, q, histogram, district)
}

// RoundOverview is the commanders' dashboard: one round of one district at
// a glance.
func RoundOverview() (dashboard.Dashboard, error) {
	progress := fmt.Sprintf(`100 * (%s - %s) / %s`, residents("expected"), residents("outstanding"), residents("expected"))
	finished := fmt.Sprintf(`sum(max by (phase) (sweep_round_buildings{%s, phase=~"Completed|Expired|Failed"}))`, round)
	total := fmt.Sprintf(`sum(max by (phase) (sweep_round_buildings{%s}))`, round)
	// While the round runs there is an ETA; once it ended, its completion
	// time stands in, so the panel then says how early or late it finished.
	eta := fmt.Sprintf(`(max(sweep_round_estimated_completion_timestamp_seconds{%[1]s}) or max(sweep_round_completion_timestamp_seconds{%[1]s}))`, round)
	deadline := fmt.Sprintf(`max(sweep_round_deadline_timestamp_seconds{%s})`, round)
	// Per building, a resident not sampled is outstanding while the building
	// is under way and missed once it finished; the chart shows both as
	// "not sampled" so that it has the same two bars all round long.
	byCommunity := func(states string) string {
		return fmt.Sprintf(`sum by (community) (max by (community, building, state) (sweep_building_residents{%s, state=~"%s"}))`, round, states)
	}
	// The ETA and the deadline themselves are shown as dates, in a neutral
	// colour: only their difference is judged.
	asDate := []dashboard.DynamicConfigValue{
		{Id: "unit", Value: "dateTimeAsLocal"},
		{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": "text"}},
	}

	return numbered(dashboard.NewDashboardBuilder("Sweep / Round overview").
		Uid(RoundOverviewUID).
		Description("One testing round of one district: how far it is, whether it finishes before the deadline, where residents are missed, its positive pools and households to seal, and the tubes it uses. Explained panel by panel in docs/dashboards.md.").
		Tags([]string{"sweep"}).
		Refresh("30s").
		Time("now-12h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Readonly().
		WithVariable(datasourceVariable()).
		WithVariable(queryVariable("namespace", "District", "label_values(sweep_round_phase, namespace)")).
		WithVariable(queryVariable("round", "Round", `label_values(sweep_round_phase{namespace="$namespace"}, round)`)).
		WithRow(dashboard.NewRowBuilder("Now")).
		// A drill's numbers look like a real round's; this banner across
		// the top says which one the commander is reading.
		WithPanel(bigNumber("Source of results",
			"Where this round's numbers come from: http or csv, the district's sampling records; or drill, simulated for an exercise: nobody was sampled and the missed households are invented, so act on none of them.",
			"none", thresholds("green"),
			now("A", fmt.Sprintf(`max by (source) (sweep_round_info{%s})`, round), "{{source}}")).
			Height(3).Span(24).
			TextMode(common.BigValueTextModeName).
			ColorMode(common.BigValueColorModeBackground).
			OverrideByName("drill", []dashboard.DynamicConfigValue{{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": "orange"}}})).
		WithPanel(bigNumber("Progress",
			"Residents sampled or settled as missed, as a share of the residents expected. The same figure as PROGRESS in `kubectl get rounds`.",
			"percent", thresholds("blue"),
			now("A", progress, "progress")).Min(0).Max(100).Decimals(1)).
		WithPanel(bigNumber("Sampled", "Residents sampled so far, home visits included.", "none", thresholds("green"),
			now("A", residents("sampled"), "sampled"))).
		WithPanel(bigNumber("Missed",
			"Residents of buildings that finished without sampling them (漏检): their health codes turn yellow until they test. Red from the first one.",
			"none", thresholds("green", 1.0, "red"),
			now("A", residents("missed"), "missed"))).
		WithPanel(bigNumber("Outstanding", "Residents of buildings still under way or queued who are not sampled yet: the work left.", "none", thresholds("blue"),
			now("A", residents("outstanding"), "outstanding"))).
		WithPanel(bigNumber("Buildings done", "Buildings finished (completed, expired or failed) of all buildings in the round.", "none", thresholds("blue"),
			now("A", finished, "done"), now("B", total, "total")).
			TextMode(common.BigValueTextModeValueAndName)).
		WithPanel(bigNumber("ETA against deadline",
			"ETA minus deadline: below zero the round finishes that long before its deadline at the pace so far (green); above zero, after it (red). Once the round ended, its end time stands in for the ETA. Also shows the ETA and the deadline.",
			"s", thresholds("green", 1.0, "red"),
			now("A", eta+" - "+deadline, "ETA − deadline"),
			now("B", eta+" * 1000", "ETA"),
			now("C", deadline+" * 1000", "deadline")).
			TextMode(common.BigValueTextModeValueAndName).
			OverrideByQuery("B", asDate).
			OverrideByQuery("C", asDate)).
		WithRow(dashboard.NewRowBuilder("Over time")).
		WithPanel(overTime("Residents sampled over time",
			"Residents sampled, and missed, against the residents expected: the sampled line should reach the expected line before the deadline.",
			"none",
			query("A", residents("sampled"), "sampled"),
			query("B", residents("missed"), "missed"),
			query("C", residents("expected"), "expected"))).
		WithPanel(overTime("Buildings by phase",
			"Buildings queued for a team, with a team (Active), waiting for a re-knock (Waiting), and finished (Completed, Expired, Failed), stacked.",
			"none",
			query("A", fmt.Sprintf(`max by (phase) (sweep_round_buildings{%s})`, round), "{{phase}}")).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
			FillOpacity(40)).
		WithRow(dashboard.NewRowBuilder("Positive pools")).
		WithPanel(overTime("Positive pools by phase",
			"Pooled tubes that tested positive (混管阳性) and where their follow-up stands: open (no team yet), retesting (a team is retesting the households one by one), awaiting results (single tubes at the lab), resolved. Stacked, so the total is the round's positive pools. Empty for a round without a lab.",
			"none",
			query("A", fmt.Sprintf(`max by (phase) (sweep_positive_pools{%s})`, round), "{{phase}}")).
			Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
			FillOpacity(40).
			Decimals(0)).
		WithPanel(overTime("Oldest open pool against retest limit",
			"How long the round's oldest positive pool not retested yet (open or retesting) has waited since its pooled result, against the round's retestWithin. 0 while no pool waits. Above the limit, the SweepPositivePoolNotRetested alert fires.",
			"s",
			// No pool waits: the gauge is absent, and the age is 0 for a
			// round with a lab.
			query("A", fmt.Sprintf(`(time() - max(sweep_positive_pool_oldest_open_result_timestamp_seconds{%[1]s})) or (0 * max(sweep_round_retest_within_seconds{%[1]s}))`, round), "oldest open pool"),
			query("B", fmt.Sprintf(`max(sweep_round_retest_within_seconds{%s})`, round), "retest within")).
			OverrideByName("retest within", []dashboard.DynamicConfigValue{
				{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": "red"}},
				{Id: "custom.fillOpacity", Value: 0},
				{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
			})).
		WithPanel(bigNumber("Households to seal",
			"Households (unit-room ids) whose own single tube was positive, over the round's resolved pools: the households to seal. Red from the first one. Their list is in `kubectl get positivepools`.",
			"none", thresholds("green", 1.0, "red"),
			now("A", fmt.Sprintf(`max(sweep_households_to_seal{%s})`, round), "to seal")).Span(8)).
		WithPanel(bigNumber("Time to retest",
			"From a positive pooled result to the end of its single-tube retest, median and 90th percentile over the time range shown, for every round of the district.",
			"s", thresholds("blue"),
			now("A", quantileOverRange("0.5", "sweep_positive_pool_retest_seconds"), "median"),
			now("B", quantileOverRange("0.9", "sweep_positive_pool_retest_seconds"), "90th percentile")).
			TextMode(common.BigValueTextModeValueAndName).Span(8)).
		WithPanel(bigNumber("Lab turnaround",
			"From swab to lab result of each tube, pooled or single, median and 90th percentile over the time range shown, for every round of the district.",
			"s", thresholds("blue"),
			now("A", quantileOverRange("0.5", "sweep_lab_turnaround_seconds"), "median"),
			now("B", quantileOverRange("0.9", "sweep_lab_turnaround_seconds"), "90th percentile")).
			TextMode(common.BigValueTextModeValueAndName).Span(8)).
		WithRow(dashboard.NewRowBuilder("Communities and supplies")).
		WithPanel(barchart.NewPanelBuilder().
			Title("Residents by community").
			Description("Residents sampled and not sampled in each community (the buildings' sweep.masstesting.io/community label): send teams to the longest red bars. Needs the manager's --metrics-per-building flag.").
			Datasource(datasource()).
			Height(9).Span(12).
			Unit("none").
			WithTarget(now("A", byCommunity("sampled"), "sampled").Format(prometheus.PromQueryFormatTable)).
			WithTarget(now("B", byCommunity("outstanding|missed"), "not sampled").Format(prometheus.PromQueryFormatTable)).
			// Each query is a table (community, value); join them on
			// community, then name the value columns.
			WithTransformation(dashboard.DataTransformerConfig{Id: "joinByField", Options: map[string]any{"byField": "community", "mode": "outer"}}).
			WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
				"excludeByName": map[string]any{"Time": true, "Time 1": true, "Time 2": true},
				"renameByName":  map[string]any{"Value #A": "sampled", "Value #B": "not sampled"},
			}}).
			XField("community").
			Orientation(common.VizOrientationHorizontal).
			Stacking(common.StackingModeNormal).
			ShowValue(common.VisibilityModeAuto).
			Legend(common.NewVizLegendOptionsBuilder().ShowLegend(true).DisplayMode(common.LegendDisplayModeList).Placement(common.LegendPlacementBottom)).
			OverrideByName("not sampled", []dashboard.DynamicConfigValue{{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": "red"}}}).
			OverrideByName("sampled", []dashboard.DynamicConfigValue{{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": "green"}}})).
		WithPanel(overTime("Tubes used against forecast",
			"Sample tubes filled so far against the forecast for the whole round (one tube per pool of swabs, building by building). Order supplies before used meets forecast.",
			"none",
			query("A", fmt.Sprintf(`max(sweep_round_tubes{%s, kind="used"})`, round), "used"),
			query("B", fmt.Sprintf(`max(sweep_round_tubes{%s, kind="forecast"})`, round), "forecast"))).
		Build())
}

// job selects the scrape job(s) of the operator the dashboard's variable
// picks.
const job = `job=~"$job"`

// Operator is the ops team's dashboard: the operator's own health.
func Operator() (dashboard.Dashboard, error) {
	rate := func(expr string) string { return fmt.Sprintf(expr, job, "$__rate_interval") }
	latency := func(q string) string {
		return fmt.Sprintf(`histogram_quantile(%s, sum by (controller, le) (rate(controller_runtime_reconcile_time_seconds_bucket{%s}[$__rate_interval])))`, q, job)
	}
	return numbered(dashboard.NewDashboardBuilder("Sweep / Operator").
		Uid(OperatorUID).
		Description("The Sweep operator's own health: is it up, does it keep up with its work, and does the API server answer it. Explained panel by panel in docs/dashboards.md.").
		Tags([]string{"sweep"}).
		Refresh("30s").
		Time("now-3h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Readonly().
		WithVariable(datasourceVariable()).
		WithVariable(queryVariable("job", "Scrape job", "label_values(controller_runtime_reconcile_total, job)").
			Multi(true).IncludeAll(true).AllValue(".+")).
		WithRow(dashboard.NewRowBuilder("Controllers")).
		WithPanel(bigNumber("Operator up", "Manager replicas Prometheus scrapes successfully. 0 means no one reconciles rounds: see the SweepOperatorDown runbook.",
			"none", thresholds("red", 1.0, "green"),
			now("A", fmt.Sprintf(`sum(up{%s})`, job), "up")).Height(9)).
		WithPanel(overTime("Reconciles per second", "Reconciles by controller (testinground, collectionjob) and result.", "reqps",
			query("A", rate(`sum by (controller, result) (rate(controller_runtime_reconcile_total{%s}[%s]))`), "{{controller}} {{result}}")).Span(10)).
		WithPanel(overTime("Reconcile errors per second", "Reconciles that returned an error, by controller. A steady rate means a round or building cannot be processed: see the SweepReconcileErrors runbook.", "reqps",
			query("A", rate(`sum by (controller) (rate(controller_runtime_reconcile_errors_total{%s}[%s]))`), "{{controller}}")).Span(10)).
		WithPanel(overTime("Reconcile latency", "Time one reconcile takes, median and 99th percentile, by controller.", "s",
			query("A", latency("0.5"), "{{controller}} p50"),
			query("B", latency("0.99"), "{{controller}} p99"))).
		WithPanel(overTime("Work queue depth", "Objects waiting for a reconcile, by controller. A queue that only grows means the operator falls behind.", "none",
			query("A", fmt.Sprintf(`sum by (controller) (workqueue_depth{%s})`, job), "{{controller}}"))).
		WithRow(dashboard.NewRowBuilder("Visits and the API server")).
		WithPanel(overTime("Visits by result", "Visits that ended per minute: complete (everyone sampled), missed (residents not home, a re-knock follows if the policy allows), failed (the collector failed).", "none",
			query("A", rate(`60 * sum by (result) (rate(sweep_visits_total{%s}[%s]))`), "{{result}}")).Span(8)).
		WithPanel(overTime("API requests per second", "The operator's requests to the Kubernetes API server, by method and status code.", "reqps",
			query("A", rate(`sum by (method, code) (rate(rest_client_requests_total{%s}[%s]))`), "{{method}} {{code}}")).Span(8)).
		WithPanel(overTime("API request errors", "Share of the operator's API requests that did not succeed (status not 2xx). Conflicts (409) are normal in small numbers; 429 and 5xx mean the API server is overloaded.", "percentunit",
			// No series exists for a status that never happened: with no
			// failed request yet the share is 0, not missing.
			query("A", rate(`(sum(rate(rest_client_requests_total{%[1]s, code!~"2.."}[%[2]s])) or vector(0)) / sum(rate(rest_client_requests_total{%[1]s}[%[2]s]))`), "errors")).Span(8)).
		Build())
}

// numbered gives every panel and row an id, 1, 2, ... in order: Grafana
// keys a panel's links and state by it, and the builders leave it unset.
func numbered(d dashboard.Dashboard, err error) (dashboard.Dashboard, error) {
	if err != nil {
		return d, err
	}
	for i := range d.Panels {
		id := uint32(i + 1)
		switch p := d.Panels[i]; {
		case p.Panel != nil:
			p.Panel.Id = &id
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
	return d, nil
}
