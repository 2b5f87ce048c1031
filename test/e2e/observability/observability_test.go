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

// Package observability proves the dashboards and alerts against the real
// thing: a real kube-apiserver and etcd (envtest, from bin/k8s), the real
// `sweep manager` binary running drill rounds in two districts with the
// local executor, and a real Prometheus (bin/prometheus, v0.316.0) scraping
// it every second and evaluating the alert rules. Every query of every
// dashboard panel must answer from that Prometheus, the city dashboard's
// for both districts and each district's round today only, and the figures
// it reports must equal the rounds' status.
package observability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/lab"
	"github.com/masstesting/sweep/internal/testharness"
	"github.com/masstesting/sweep/internal/testobjects"
)

// root is the repository, from this package's directory.
var root = filepath.Join("..", "..", "..")

// job is the scrape job's name: the one the alert rules select, as the
// ServiceMonitor of config/prometheus names it.
const job = "sweep-controller-manager-metrics-service"

const (
	ns        = "pingfang"
	roundName = "daily-1126"
	buildings = 36
)

// The second district of the city dashboard: its round today, and the
// round of the day before, which started earlier and still runs.
const (
	ns2           = "daoli"
	round2        = "daoli-1126"
	round2Earlier = "daoli-1125"
	buildings2    = 12
	// earlierBuildings are the earlier round's: one community of four.
	earlierBuildings = buildings2 / 4
)

// roundToday is each district's round today, as the city dashboard must
// pick it: the one that started last.
var roundToday = map[string]string{ns: roundName, ns2: round2}

// communities are four residential communities of the design brief, as
// label values.
var communities = []string{"bishuiwan", "kangqiao-huacheng", "ruiming", "shengli"}

func TestDashboardsAndAlertsAgainstARealPrometheus(t *testing.T) {
	promBin := os.Getenv("SWEEP_PROMETHEUS")
	if promBin == "" {
		promBin = filepath.Join(root, "bin", "prometheus")
	}
	if _, err := os.Stat(promBin); err != nil {
		if os.Getenv("SWEEP_REQUIRE_PROMETHEUS") == "" {
			t.Skipf("%s is missing (build it with `make prometheus`; `make test` does, and sets SWEEP_REQUIRE_PROMETHEUS so that this test cannot skip there)", promBin)
		}
		t.Fatalf("SWEEP_REQUIRE_PROMETHEUS is set but %s is missing: %v", promBin, err)
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run this test with `make test`, which builds the control plane into bin/k8s")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	testStart := time.Now()

	// The control plane.
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = sweepv1alpha1.AddToScheme(scheme)
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}

	// The operator: the real binary, metrics on plain HTTP on loopback (as
	// `make demo` serves them), per-building series on, drill visits of a
	// few seconds (a 120-resident building takes 1h at 117 an hour; 0.002
	// makes that 7s).
	sweepBin := filepath.Join(dir, "sweep")
	build := exec.CommandContext(ctx, "go", "build", "-o", sweepBin, "./cmd/sweep")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/sweep: %v\n%s", err, out)
	}
	metricsAddr := testharness.FreeAddr(t)
	start(t, dir, "manager", []string{"KUBECONFIG=" + kubeconfig}, sweepBin, "manager",
		"--executor=local", "--drill-time-scale=0.002", "--metrics-per-building",
		"--metrics-bind-address="+metricsAddr, "--metrics-secure=false", "--health-probe-bind-address=0")
	await(t, "the manager's metrics endpoint", 2*time.Minute, func() (bool, error) {
		_, err := testharness.Scrape("http://"+metricsAddr+"/metrics", testharness.ScrapeOptions{})
		return err == nil, nil
	})

	// Prometheus: scrapes the manager every second and evaluates the alert
	// rules as shipped. It has no --web.listen-address=:0, so the port is
	// picked free first.
	rules, err := filepath.Abs(filepath.Join(root, "config", "prometheus", "rules", "sweep.rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	promConfig := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(promConfig, fmt.Appendf(nil, `global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
- %q
scrape_configs:
- job_name: %s
  # As the ServiceMonitor of config/prometheus scrapes: the target carries
  # the operator's own namespace, which must not replace the district in
  # the round metrics' namespace label.
  honor_labels: true
  static_configs:
  - targets: [%q]
    labels:
      namespace: sweep-system
      pod: sweep-controller-manager-7d9f8-abcde
`, rules, job, metricsAddr), 0o600); err != nil {
		t.Fatal(err)
	}
	promAddr := testharness.FreeAddr(t)
	start(t, dir, "prometheus", nil, promBin, "--config.file="+promConfig, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	await(t, "Prometheus ready", 2*time.Minute, func() (bool, error) {
		resp, err := http.Get("http://" + promAddr + "/-/ready")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	pc, err := api.NewClient(api.Config{Address: "http://" + promAddr})
	if err != nil {
		t.Fatal(err)
	}
	prom := promv1.NewAPI(pc)

	// A district: 36 buildings in four communities, every seventh sealed.
	// And a second district for the city dashboard, with a round of the
	// day before that is still running when its round today starts.
	createDistrict(ctx, t, k8s, ns, buildings)
	createDistrict(ctx, t, k8s, ns2, buildings2)
	startSecondDistrict(ctx, t, k8s)
	// The drill lab, so that the positive-pool panels have pools: results a
	// second after each building, polled every 10s (the least allowed), and
	// a seed that marks exactly two pooled tubes of the first buildings
	// positive.
	tr := testobjects.Round(ns, roundName).Deadline(time.Now().Add(12*time.Hour)).Teams(12).Visits(1, 0).
		Collector(sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill,
			Drill: &sweepv1alpha1.DrillSource{Seed: 11, AbsentPercent: ptr.To[int32](10)}}).
		Lab(&sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceDrill, PollInterval: sweepv1alpha1.NewDuration(10 * time.Second),
			Drill: &sweepv1alpha1.LabDrill{Seed: labSeed(t, roundName, labPermille), PositivePermille: ptr.To(labPermille),
				Turnaround: sweepv1alpha1.NewDuration(time.Second)}}).Obj()
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}

	panels, variables := panelQueries(t)
	progressQuery, missedQuery := panels.find(t, "Progress"), panels.find(t, "Missed")
	round := func() *sweepv1alpha1.TestingRound {
		var r sweepv1alpha1.TestingRound
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns, Name: roundName}, &r); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	// matches says whether Prometheus reports the round's status: progress
	// and missed as the dashboard's panels compute them, read between two
	// reads of the status that agree, so that all three describe the same
	// moment.
	matches := func(phase sweepv1alpha1.RoundPhase) (bool, string) {
		before := round().Status
		progress, perr := scalar(ctx, prom, progressQuery)
		missed, merr := scalar(ctx, prom, missedQuery)
		after := round().Status
		if perr != nil || merr != nil {
			return false, fmt.Sprintf("query: %v %v", perr, merr)
		}
		same := before.Phase == after.Phase && before.ProgressPercent == after.ProgressPercent && before.Residents.Missed == after.Residents.Missed
		ok := same && after.Phase == phase &&
			int32(math.Floor(progress)) == after.ProgressPercent && int64(missed) == after.Residents.Missed
		return ok, fmt.Sprintf("status %s progress %d%% missed %d; Prometheus progress %.2f%% missed %v",
			after.Phase, after.ProgressPercent, after.Residents.Missed, progress, missed)
	}

	// While the round runs.
	var last string
	await(t, "Prometheus to report the running round's progress and missed as its status does", 3*time.Minute, func() (bool, error) {
		r := round()
		if r.Status.Phase == sweepv1alpha1.RoundCompleted {
			return false, fmt.Errorf("the round completed before Prometheus and its status were seen to agree part-way; last: %s", last)
		}
		// Part-way, and after the first buildings finished with residents
		// missed, so that both figures are under way.
		if r.Status.Residents.Missed == 0 || r.Status.ProgressPercent == 100 {
			return false, nil
		}
		ok, seen := matches(sweepv1alpha1.RoundRunning)
		last = seen
		if !ok {
			return false, nil
		}
		// Buildings are under way, so the gauge behind SweepBuildingStalled
		// is there: no older than the round, and not in the future, since
		// this drill has no re-knocks to be due later.
		oldest, err := scalar(ctx, prom, `sweep_round_oldest_building_progress_timestamp_seconds{namespace="$namespace", round="$round"}`)
		if err != nil {
			last += "; " + err.Error()
			return false, nil
		}
		if st := round().Status; st.StartTime == nil || oldest < float64(st.StartTime.Unix()) || oldest > float64(time.Now().Unix()) {
			return false, fmt.Errorf("oldest building progress %v is not between the round's start %v and now", oldest, st.StartTime)
		}
		return true, nil
	})
	t.Logf("part-way: %s", last)

	// At the end.
	await(t, "the round Completed", 5*time.Minute, func() (bool, error) {
		return round().Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})
	await(t, "Prometheus to report the completed round's progress and missed as its status does", time.Minute, func() (bool, error) {
		ok, seen := matches(sweepv1alpha1.RoundCompleted)
		last = seen
		return ok, nil
	})
	t.Logf("completed: %s", last)

	// The positive pools: found, retested and resolved (late results are
	// the normal case, so this may come after the round completed), and
	// Prometheus has seen each pool's time to retest.
	districtSel := fmt.Sprintf(`namespace=%q`, ns)
	await(t, "the round's positive pools resolved, as Prometheus reports", 3*time.Minute, func() (bool, error) {
		pc := round().Status.PositivePools
		if pc == nil || pc.Resolved == 0 || pc.Open+pc.Retesting+pc.AwaitingResults > 0 {
			last = fmt.Sprintf("status %+v", pc)
			return false, nil
		}
		resolved, err1 := scalar(ctx, prom, `max(sweep_positive_pools{namespace="$namespace", round="$round", phase="resolved"})`)
		retested, err2 := scalar(ctx, prom, fmt.Sprintf(`sum(sweep_positive_pool_retest_seconds_count{%s})`, districtSel))
		turnaround, err3 := scalar(ctx, prom, fmt.Sprintf(`sum(sweep_lab_turnaround_seconds_count{%s})`, districtSel))
		last = fmt.Sprintf("status %+v; Prometheus resolved %v retested %v turnaround samples %v (%v %v %v)", pc, resolved, retested, turnaround, err1, err2, err3)
		return err1 == nil && err2 == nil && err3 == nil &&
			int32(resolved) == pc.Resolved && int32(retested) == pc.Resolved && turnaround > 0, nil
	})
	t.Logf("pools: %s", last)
	if pc := round().Status.PositivePools; pc.Resolved != 2 {
		t.Errorf("the lab seed should make two positive pools: %+v", pc)
	}
	if st := round().Status; st.Residents.Missed == 0 || st.ProgressPercent != 100 {
		t.Errorf("the drill should leave residents missed and the round at 100%%: %+v", st.Residents)
	}

	// The second district's round today has ended too, so that its
	// figures stand still while the panels are read.
	await(t, "the second district's round today Completed", 3*time.Minute, func() (bool, error) {
		var r sweepv1alpha1.TestingRound
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns2, Name: round2}, &r); err != nil {
			return false, err
		}
		return r.Status.Phase == sweepv1alpha1.RoundCompleted, nil
	})

	// Every query of every panel of the dashboards answers, with the
	// variables a commander or ops would pick: this district, this round,
	// this scrape job, and on the city dashboard all districts (its
	// default). $__rate_interval and $__range are Grafana's; 1m spans the
	// round, and 1h the whole test, as a dashboard's range would.
	vars := strings.NewReplacer("$namespace", ns, "$round", roundName, "$job", job, "$district", ".+", "$__rate_interval", "1m", "$__range", "1h")
	now := time.Now()
	cityPanels := 0
	for _, p := range panels {
		expr := vars.Replace(p.expr)
		v, warnings, _, err := prom.Query(ctx, expr, now)
		switch {
		case err != nil:
			t.Errorf("%s / %s: %s: %v", p.dashboard, p.panel, expr, err)
		case len(warnings) > 0:
			t.Errorf("%s / %s: %s: warnings %v", p.dashboard, p.panel, expr, warnings)
		default:
			if problem := noData(v); problem != "" {
				t.Errorf("%s / %s: %s: %s", p.dashboard, p.panel, expr, problem)
			}
			if p.dashboard == "Sweep / City" {
				cityPanels++
				if problem := eachDistrictsRoundToday(v); problem != "" {
					t.Errorf("%s / %s: %s: %s", p.dashboard, p.panel, expr, problem)
				}
			}
		}
	}
	if cityPanels < 10 {
		t.Errorf("only %d queries of the city dashboard were checked", cityPanels)
	}
	t.Logf("%d panel queries of %d dashboards answered, %d of them for both districts", len(panels), len(dashboardFiles), cityPanels)
	// The city dashboard's figures are each district's round today's own:
	// progress as its status says (the earlier round in the second
	// district has its own, different, buildings).
	for district, name := range roundToday {
		var r sweepv1alpha1.TestingRound
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: district, Name: name}, &r); err != nil {
			t.Fatal(err)
		}
		v, _, _, err := prom.Query(ctx, vars.Replace(panels.findIn(t, "Sweep / City", "Missed")), now)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range v.(model.Vector) {
			if string(s.Metric["namespace"]) == district {
				found = true
				if int64(s.Value) != r.Status.Residents.Missed {
					t.Errorf("city dashboard: %s missed %v, its round today %s has %d", district, s.Value, name, r.Status.Residents.Missed)
				}
			}
		}
		if !found {
			t.Errorf("city dashboard: no missed figure for %s", district)
		}
	}

	// The variables' own queries, label_values(selector, label), through the
	// same API Grafana uses for them.
	for _, v := range variables {
		values, _, _, err := prom.LabelValues(ctx, v.label, []string{vars.Replace(v.selector)}, now.Add(-time.Hour), now)
		if err != nil {
			t.Errorf("variable %s: %v", v.name, err)
			continue
		}
		wants := map[string][]string{"namespace": {ns}, "round": {roundName}, "job": {job}, "district": {ns, ns2}}[v.name]
		if len(wants) == 0 {
			t.Errorf("variable %s: the test does not know what it should offer", v.name)
		}
		for _, want := range wants {
			found := false
			for _, x := range values {
				found = found || string(x) == want
			}
			if !found {
				t.Errorf("variable %s (label_values(%s, %s)) offers %v, not %q", v.name, v.selector, v.label, values, want)
			}
		}
	}
	t.Logf("%d variable queries answered", len(variables))

	// The alert rules load and evaluate without error against the real
	// series (a rule that fails, for instance on many-to-many matching,
	// reports its health here, not in promtool's unit tests).
	await(t, "every alert rule evaluated", time.Minute, func() (bool, error) {
		res, err := prom.Rules(ctx, nil)
		if err != nil {
			return false, err
		}
		n := 0
		for _, g := range res.Groups {
			for _, r := range g.Rules {
				a, ok := r.(promv1.AlertingRule)
				if !ok {
					continue
				}
				if a.LastEvaluation.IsZero() {
					return false, nil
				}
				if a.Health != promv1.RuleHealthGood {
					return false, fmt.Errorf("rule %s: health %s: %s", a.Name, a.Health, a.LastError)
				}
				// Of the alerts, only this one's state is certain here.
				if a.Name == "SweepOperatorDown" && a.State != "inactive" {
					return false, fmt.Errorf("SweepOperatorDown is %s while the operator runs", a.State)
				}
				n++
			}
		}
		return n >= 9, nil
	})

	// SweepPositivePoolNotRetested joins two gauges on (namespace, round):
	// its comparison turned round (retested within the limit, as every
	// pool here is) must match the round while a pool was open, or the
	// alert could never fire.
	notRetested := `(time() - max by (namespace, round) (sweep_positive_pool_oldest_open_result_timestamp_seconds))
	  < on (namespace, round) max by (namespace, round) (sweep_round_retest_within_seconds)`
	m, _, _, err := prom.QueryRange(ctx, notRetested, promv1.Range{Start: testStart, End: time.Now(), Step: time.Second})
	if err != nil {
		t.Fatalf("%s: %v", notRetested, err)
	}
	matched := false
	if mat, ok := m.(model.Matrix); ok {
		for _, s := range mat {
			matched = matched || (string(s.Metric["namespace"]) == ns && string(s.Metric["round"]) == roundName && len(s.Values) > 0)
		}
	}
	if !matched {
		t.Errorf("the comparison of SweepPositivePoolNotRetested never matched the round while its pools were open: %s gave %v", notRetested, m)
	}
}

// createDistrict creates a district's namespace and n buildings in four
// communities, every seventh sealed.
func createDistrict(ctx context.Context, t *testing.T, k8s client.Client, district string, n int) {
	t.Helper()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: district}}); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		level := sweepv1alpha1.ControlLevelPrecaution
		if i%7 == 3 {
			level = sweepv1alpha1.ControlLevelSealed
		}
		b := testobjects.Building(district, fmt.Sprintf("b-%02d", i)).Label(sweepv1alpha1.LabelStreet, "baoguo").
			Label(sweepv1alpha1.LabelCommunity, communities[i%len(communities)]).Residents(int32(90 + i%40)).
			Exempt(int32(i % 3)).HomeVisit(int32(i % 4)).Households(40).Level(level).Obj()
		if err := k8s.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

// startSecondDistrict starts the second district's earlier round over a
// few of its buildings (no lab) and, once it has started, its round today
// over all of them, with a drill lab that finds no positive pool: the
// city dashboard's pool panels then show zeros for it, not nothing. The
// second round starts a second later at least, so it is the latest.
func startSecondDistrict(ctx context.Context, t *testing.T, k8s client.Client) {
	t.Helper()
	drillRound := func(name string, selector *metav1.LabelSelector) *sweepv1alpha1.TestingRound {
		tr := testobjects.Round(ns2, name).Deadline(time.Now().Add(12*time.Hour)).Teams(12).Visits(1, 0).
			Collector(sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill,
				Drill: &sweepv1alpha1.DrillSource{Seed: 7, AbsentPercent: ptr.To[int32](15)}}).Obj()
		tr.Spec.BuildingSelector = selector
		return tr
	}
	// One community's buildings: every fourth.
	earlier := drillRound(round2Earlier, &metav1.LabelSelector{MatchLabels: map[string]string{sweepv1alpha1.LabelCommunity: communities[0]}})
	if err := k8s.Create(ctx, earlier); err != nil {
		t.Fatal(err)
	}
	var started time.Time
	await(t, "the second district's earlier round to start", time.Minute, func() (bool, error) {
		var r sweepv1alpha1.TestingRound
		if err := k8s.Get(ctx, types.NamespacedName{Namespace: ns2, Name: round2Earlier}, &r); err != nil {
			return false, err
		}
		if r.Status.StartTime == nil || r.Status.Buildings.Total == 0 {
			return false, nil
		}
		if r.Status.Buildings.Total != earlierBuildings {
			return false, fmt.Errorf("the earlier round has %d buildings, want %d", r.Status.Buildings.Total, earlierBuildings)
		}
		started = r.Status.StartTime.Time
		return true, nil
	})
	// Start times are whole seconds: the round today starts in a later one.
	await(t, "a second after the earlier round's start", 5*time.Second, func() (bool, error) {
		return time.Now().Unix() > started.Unix(), nil
	})
	today := drillRound(round2, nil)
	today.Spec.Lab = &sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceDrill, PollInterval: sweepv1alpha1.NewDuration(10 * time.Second),
		Drill: &sweepv1alpha1.LabDrill{PositivePermille: ptr.To[int32](0), Turnaround: sweepv1alpha1.NewDuration(time.Second)}}
	if err := k8s.Create(ctx, today); err != nil {
		t.Fatal(err)
	}
}

// labPermille is the drill lab's share of positive pooled tubes, per
// thousand.
const labPermille int32 = 10

// labSeed finds a drill lab seed that marks exactly two pooled tubes
// positive, both among the first five tubes of b-00 to b-02: every
// building fills at least that many, and those are swept first, so the
// pools are found while buildings still queue. lab.Drill is pure; a
// tube's positivity depends on the seed, round, building and tube only.
func labSeed(t *testing.T, round string, permille int32) int64 {
	t.Helper()
	done := metav1.Now()
	jobs := func(tubes int32, names int) []*sweepv1alpha1.CollectionJob {
		var out []*sweepv1alpha1.CollectionJob
		for i := range names {
			out = append(out, testobjects.Job("", "").Building(fmt.Sprintf("b-%02d", i)).Expected(130).Households(40).
				PoolSize(10).Phase(sweepv1alpha1.JobCompleted).Sampled(130).Tubes(tubes).Completed(done.Time).Obj())
		}
		return out
	}
	// At most 129 residents a building, 10 swabs a tube: 13 tubes.
	all, first := jobs(13, buildings), jobs(5, 3)
	positives := func(seed int64, js []*sweepv1alpha1.CollectionJob) int {
		tr := testobjects.Round("", round).Lab(&sweepv1alpha1.LabSpec{
			Drill: &sweepv1alpha1.LabDrill{Seed: seed, PositivePermille: &permille, Turnaround: sweepv1alpha1.NewDuration(time.Second)}}).Obj()
		n := 0
		for _, r := range lab.Drill(tr, js, done.Add(time.Hour)) {
			if r.Positive {
				n++
			}
		}
		return n
	}
	for seed := int64(1); seed < 1_000_000; seed++ {
		if positives(seed, first) == 2 && positives(seed, all) == 2 {
			return seed
		}
	}
	t.Fatal("no drill lab seed gives two positive tubes")
	return 0
}

// dashboardFiles are the generated dashboards the test reads.
var dashboardFiles = []string{"sweep-round-overview.json", "sweep-city.json", "sweep-operator.json"}

type panelQuery struct{ dashboard, panel, expr string }

type variable struct{ name, selector, label string }

type queries []panelQuery

// panelQueries reads every panel's queries, and the query variables, from
// the checked-in JSON (what Grafana imports), not from the Go that builds
// it.
func panelQueries(t *testing.T) (out queries, variables []variable) {
	t.Helper()
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Type    string `json:"type"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query string `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	for _, f := range dashboardFiles {
		raw, err := os.ReadFile(filepath.Join(root, "config", "grafana", f))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		d.Panels, d.Templating.List = nil, nil
		if err := dec.Decode(&d); err != nil {
			t.Fatal(err)
		}
		for _, p := range d.Panels {
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s / %s has no query", d.Title, p.Title)
			}
			for _, q := range p.Targets {
				out = append(out, panelQuery{d.Title, p.Title, q.Expr})
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			// label_values(<selector>, <label>)
			q := strings.TrimSuffix(strings.TrimPrefix(v.Query, "label_values("), ")")
			i := strings.LastIndex(q, ",")
			if i < 0 {
				t.Fatalf("variable %s: %q is not label_values(selector, label)", v.Name, v.Query)
			}
			variables = append(variables, variable{v.Name, strings.TrimSpace(q[:i]), strings.TrimSpace(q[i+1:])})
		}
	}
	return out, variables
}

func (q queries) find(t *testing.T, panel string) string {
	t.Helper()
	for _, p := range q {
		if p.panel == panel {
			return p.expr
		}
	}
	t.Fatalf("no panel %q", panel)
	return ""
}

func (q queries) findIn(t *testing.T, dashboard, panel string) string {
	t.Helper()
	for _, p := range q {
		if p.dashboard == dashboard && p.panel == panel {
			return p.expr
		}
	}
	t.Fatalf("no panel %q in %s", panel, dashboard)
	return ""
}

// eachDistrictsRoundToday says what is wrong with a city dashboard query's
// answer: nothing (""), a district without a series, or a series of
// another round than the district's round today.
func eachDistrictsRoundToday(v model.Value) string {
	var metrics []model.Metric
	switch v := v.(type) {
	case model.Vector:
		for _, s := range v {
			metrics = append(metrics, s.Metric)
		}
	case model.Matrix:
		for _, s := range v {
			metrics = append(metrics, s.Metric)
		}
	default:
		return fmt.Sprintf("a %s, not series by district", v.Type())
	}
	seen := map[string]bool{}
	for _, m := range metrics {
		district := string(m["namespace"])
		want, known := roundToday[district]
		if !known {
			return fmt.Sprintf("a series of district %q: %v", district, m)
		}
		if r, has := m["round"]; has && string(r) != want {
			return fmt.Sprintf("district %s shows round %s, not its round today %s", district, r, want)
		}
		seen[district] = true
	}
	for district := range roundToday {
		if !seen[district] {
			return fmt.Sprintf("no series for district %s", district)
		}
	}
	return ""
}

// noData says what is wrong with a query's answer for a panel: nothing
// (""), no series, or only values that are not numbers.
func noData(v model.Value) string {
	var values []model.SampleValue
	switch v := v.(type) {
	case model.Vector:
		for _, s := range v {
			values = append(values, s.Value)
		}
	case *model.Scalar:
		values = append(values, v.Value)
	case model.Matrix:
		for _, s := range v {
			for _, p := range s.Values {
				values = append(values, p.Value)
			}
		}
	}
	if len(values) == 0 {
		return "no data"
	}
	for _, x := range values {
		if !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) {
			return ""
		}
	}
	return fmt.Sprintf("no number, only %v", values)
}

// scalar is the one value a query answers for the selected round.
func scalar(ctx context.Context, prom promv1.API, expr string) (float64, error) {
	expr = strings.NewReplacer("$namespace", ns, "$round", roundName).Replace(expr)
	v, _, _, err := prom.Query(ctx, expr, time.Now())
	if err != nil {
		return 0, err
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 1 {
		return 0, fmt.Errorf("%s: want one series, got %v", expr, v)
	}
	return float64(vec[0].Value), nil
}

// start runs a process until the test ends; its output goes to a file
// whose tail is logged when the test fails.
func start(t *testing.T, dir, name string, env []string, bin string, args ...string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s's log (tail):\n%s", name, b)
		}
	})
}

// await is testharness.Await polling every 100ms; an error from cond is a
// failed assertion and ends the wait at once.
func await(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	testharness.Await(t, what, timeout, 100*time.Millisecond, testharness.StopOnError(cond))
}
