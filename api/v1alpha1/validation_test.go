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

package v1alpha1_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// newNamespace gives each test its own namespace, so cases never see each
// other's objects.
func newNamespace(t *testing.T) string {
	t.Helper()
	apiServer(t)
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetGenerateName("validation-")
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.GetName()
}

// decode turns one YAML manifest into an unstructured object, so the test
// sends exactly what a person would write (wrong types and unknown enum
// values included) and the API server alone judges it.
func decode(t *testing.T, manifest, namespace string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096).Decode(&u.Object); err != nil {
		t.Fatalf("test manifest does not parse: %v\n%s", err, manifest)
	}
	u.SetNamespace(namespace)
	return u
}

const validRound = `
apiVersion: sweep.masstesting.io/v1alpha1
kind: TestingRound
metadata: {name: r}
spec:
  deadline: "2026-11-26T18:00:00Z"
  collector: {source: drill}
`

const validJob = `
apiVersion: sweep.masstesting.io/v1alpha1
kind: CollectionJob
metadata: {name: cj}
spec:
  round: r
  building: b1
  expected: 100
  homeVisit: 3
  deadline: "2026-11-26T18:00:00Z"
  collector: {source: drill}
`

// with returns a valid manifest with one field (a dotted path) set to value.
func with(t *testing.T, base string, path string, value any) string {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.NewYAMLOrJSONDecoder(strings.NewReader(base), 4096).Decode(&u.Object); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(u.Object, value, strings.Split(path, ".")...); err != nil {
		t.Fatalf("setting %s: %v", path, err)
	}
	b, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func households(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fmt.Sprintf("%d-%d", i%6+1, 101+i)
	}
	return out
}

// TestInvalidManifestsAreRejectedNamingTheField sends invalid objects to the
// real API server and checks that each is rejected as Invalid with a message
// that names the offending field, and that nothing is stored.
func TestInvalidManifestsAreRejectedNamingTheField(t *testing.T) {
	apiServer(t)
	building := func(spec string) string {
		return "apiVersion: sweep.masstesting.io/v1alpha1\nkind: Building\nmetadata: {name: b}\nspec: " + spec
	}
	round := func(spec string) string {
		return "apiVersion: sweep.masstesting.io/v1alpha1\nkind: TestingRound\nmetadata: {name: r}\nspec: " + spec
	}
	// dl is a round's required fields but the one a case is about;
	// deadlineOnly leaves out the collector, for the cases about it.
	const deadlineOnly = `deadline: "2026-11-26T18:00:00Z"`
	const dl = deadlineOnly + `, collector: {source: drill}`
	schedule := func(template string) string {
		return "apiVersion: sweep.masstesting.io/v1alpha1\nkind: TestingSchedule\nmetadata: {name: s}\nspec: {schedule: \"0 6 * * *\", roundTemplate: {spec: " + template + "}}"
	}
	mopUpSchedule := func(policy string) string {
		return "apiVersion: sweep.masstesting.io/v1alpha1\nkind: TestingSchedule\nmetadata: {name: s}\nspec: {schedule: \"0 6 * * *\", roundTemplate: {spec: {duration: 12h, collector: {source: drill}}}, mopUp: " + policy + "}"
	}
	httpTimeout := func(v string) string {
		return `collector: {source: http, http: {url: "https://registry.example", timeout: "` + v + `"}}`
	}
	cases := []struct {
		name     string
		manifest string
		field    string // the field the error must name
		message  string // a fragment of the human message, when the schema has one
	}{
		// Building.
		{"negative residents", building(`{residents: -1}`), "spec.residents", ""},
		{"negative households", building(`{residents: 10, households: -2}`), "spec.households", ""},
		{"negative exempt", building(`{residents: 10, exempt: -1}`), "spec.exempt", ""},
		{"negative homeVisit", building(`{residents: 10, homeVisit: -1}`), "spec.homeVisit", ""},
		{"exempt above residents", building(`{residents: 10, exempt: 11}`), "spec.exempt", "exempt must not exceed residents"},
		{"homeVisit above residents minus exempt", building(`{residents: 10, exempt: 4, homeVisit: 7}`), "spec.homeVisit", "homeVisit must not exceed residents minus exempt"},
		{"unknown control level", building(`{residents: 10, controlLevel: Lockdown}`), "spec.controlLevel", "Unsupported value"},
		{"residents missing", building(`{households: 3}`), "spec.residents", "Required value"},
		{"residents not a number", building(`{residents: many}`), "spec.residents", ""},
		{"negative units", building(`{residents: 10, units: -1}`), "spec.units", ""},
		{"too many floors", building(`{residents: 10, floors: 301}`), "spec.floors", ""},
		{"address too long", building(`{residents: 10, address: "` + strings.Repeat("x", 257) + `"}`), "spec.address", "Too long"},

		// TestingRound.
		{"deadline missing", round(`{teams: 5, collector: {source: drill}}`), "spec.deadline", "Required value"},
		// No silent drill: a round that names no source is refused.
		{"collector missing", round(`{` + deadlineOnly + `}`), "spec.collector", "Required value"},
		{"source missing", round(`{` + deadlineOnly + `, collector: {http: {url: "https://registry.example"}}}`), "spec.collector.source", "Required value"},
		{"deadline before start", round(`{start: "2026-11-26T18:00:00Z", deadline: "2026-11-26T06:00:00Z", collector: {source: drill}}`), "spec.deadline", "deadline must be after start"},
		{"deadline equal to start", round(`{start: "2026-11-26T18:00:00Z", deadline: "2026-11-26T18:00:00Z", collector: {source: drill}}`), "spec.deadline", "deadline must be after start"},
		{"deadline not a time", round(`{deadline: tomorrow, collector: {source: drill}}`), "spec.deadline", ""},
		{"pool size 7", round(`{` + dl + `, poolSize: 7}`), "spec.poolSize", "Unsupported value"},
		{"zero teams", round(`{` + dl + `, teams: 0}`), "spec.teams", ""},
		{"too many teams", round(`{` + dl + `, teams: 10001}`), "spec.teams", ""},
		{"visits.max 0", round(`{` + dl + `, visits: {max: 0}}`), "spec.visits.max", ""},
		{"visits.max 11", round(`{` + dl + `, visits: {max: 11}}`), "spec.visits.max", ""},
		{"interval of 10s", round(`{` + dl + `, visits: {interval: 10s}}`), "spec.visits.interval", "interval must be at least 1m"},
		{"interval not a duration", round(`{` + dl + `, visits: {interval: soon}}`), "spec.visits.interval", ""},
		{"interval with a space", round(`{` + dl + `, visits: {interval: "1 h"}}`), "spec.visits.interval", ""},
		{"http timeout not a duration", round(`{` + dl + `, ` + httpTimeout("soon") + `}`), "spec.collector.http.timeout", "should match"},
		{"http timeout negative", round(`{` + dl + `, ` + httpTimeout("-5s") + `}`), "spec.collector.http.timeout", "should match"},
		{"http timeout of 0s", round(`{` + dl + `, ` + httpTimeout("0s") + `}`), "spec.collector.http.timeout", "timeout must be from 1s to 10m"},
		{"http timeout of 1h", round(`{` + dl + `, ` + httpTimeout("1h") + `}`), "spec.collector.http.timeout", "timeout must be from 1s to 10m"},
		{"http timeout a number", round(`{` + dl + `, collector: {source: http, http: {url: "https://registry.example", timeout: 30}}}`), "spec.collector.http.timeout", ""},
		{"unknown order", round(`{` + dl + `, order: Random}`), "spec.order", "Unsupported value"},
		{"selector with an unknown operator", round(`{` + dl + `, buildingSelector: {matchExpressions: [{key: community, operator: Like, values: [a]}]}}`), "spec.buildingSelector", "operator must be one of"},
		{"selector In without values", round(`{` + dl + `, buildingSelector: {matchExpressions: [{key: community, operator: In}]}}`), "spec.buildingSelector", "values must be non-empty for In"},
		{"selector Exists with values", round(`{` + dl + `, buildingSelector: {matchExpressions: [{key: community, operator: Exists, values: [a]}]}}`), "spec.buildingSelector", "empty for Exists"},
		{"collector source that does not exist", round(`{` + deadlineOnly + `, collector: {source: fax}}`), "spec.collector.source", "Unsupported value"},
		{"http source without settings", round(`{` + deadlineOnly + `, collector: {source: http}}`), "spec.collector.http", "http settings are required"},
		{"http source with an ftp url", round(`{` + deadlineOnly + `, collector: {source: http, http: {url: "ftp://registry.example"}}}`), "spec.collector.http.url", "url must start with http"},
		{"csv source without settings", round(`{` + deadlineOnly + `, collector: {source: csv}}`), "spec.collector.csv", "csv settings are required"},
		{"drill absent above 100 percent", round(`{` + deadlineOnly + `, collector: {source: drill, drill: {absentPercent: 101}}}`), "spec.collector.drill.absentPercent", ""},
		{"negative ttl", round(`{` + dl + `, ttlSecondsAfterFinished: -1}`), "spec.ttlSecondsAfterFinished", ""},
		{"mop-up with a building selector", round(`{` + dl + `, mopUpOf: earlier, buildingSelector: {matchLabels: {community: xinjiang}}}`), "spec.buildingSelector", "leave buildingSelector out when mopUpOf is set"},
		{"mop-up of a name that is no round's", round(`{` + dl + `, mopUpOf: "Earlier Round"}`), "spec.mopUpOf", "should match"},

		// TestingSchedule round template: every duration.
		{"schedule without duration", schedule(`{teams: 2, collector: {source: drill}}`), "spec.roundTemplate.spec.duration", "Required value"},
		{"schedule duration in words", schedule(`{duration: "12 hours", collector: {source: drill}}`), "spec.roundTemplate.spec.duration", "should match"},
		{"schedule duration of 30s", schedule(`{duration: 30s, collector: {source: drill}}`), "spec.roundTemplate.spec.duration", "duration must be from 1m to 168h"},
		{"schedule duration of 200h", schedule(`{duration: 200h, collector: {source: drill}}`), "spec.roundTemplate.spec.duration", "duration must be from 1m to 168h"},
		{"schedule interval not a duration", schedule(`{duration: 12h, visits: {interval: later}, collector: {source: drill}}`), "spec.roundTemplate.spec.visits.interval", ""},
		{"schedule http timeout not a duration", schedule(`{duration: 12h, ` + httpTimeout("30 s") + `}`), "spec.roundTemplate.spec.collector.http.timeout", "should match"},
		{"schedule mop-up without after", mopUpSchedule(`{duration: 4h}`), "spec.mopUp.after", "Required value"},
		{"schedule mop-up after 4 days", mopUpSchedule(`{after: 96h}`), "spec.mopUp.after", "after must be at most 72h"},
		{"schedule mop-up of 30s", mopUpSchedule(`{after: 2h, duration: 30s}`), "spec.mopUp.duration", "duration must be from 1m to 168h"},
		{"schedule of 6 mop-ups", mopUpSchedule(`{after: 2h, rounds: 6}`), "spec.mopUp.rounds", ""},

		// CollectionJob spec.
		{"job interval not a duration", with(t, validJob, "spec.visits", map[string]any{"interval": "1 hour"}), "spec.visits.interval", ""},
		{"job http timeout not a duration", with(t, validJob, "spec.collector", map[string]any{"source": "http",
			"http": map[string]any{"url": "https://registry.example", "timeout": "whenever"}}), "spec.collector.http.timeout", "should match"},
		{"job without round", with(t, validJob, "spec.round", ""), "spec.round", ""},
		{"job with negative expected", with(t, validJob, "spec.expected", int64(-5)), "spec.expected", ""},
		{"job with homeVisit above expected", with(t, validJob, "spec.homeVisit", int64(101)), "spec.homeVisit", "homeVisit must not exceed expected"},
		{"job with pool size 3", with(t, validJob, "spec.poolSize", int64(3)), "spec.poolSize", "Unsupported value"},
		{"job both retest and mop-up", with(t, with(t, validJob, "spec.retest", map[string]any{"pool": "p", "tube": "T1", "households": []any{"1-101"}}),
			"spec.mopUp", map[string]any{"round": "r0", "job": "r0-b1"}), "spec.mopUp", "a job is a positive pool's retest or a mop-up, not both"},
		{"retest without its pool size", with(t, validJob, "spec.retest", map[string]any{"pool": "p", "tube": "T1", "households": []any{"1-101"}}),
			"spec.retest", "a retest carries its pool's deadline and poolSize"},
		{"job mop-up of 501 households", with(t, validJob, "spec.mopUp", map[string]any{"round": "r0", "job": "r0-b1", "households": households(501)}), "spec.mopUp.households", "must have at most 500 items"},
	}
	ctx := context.Background()
	ns := newNamespace(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := decode(t, tc.manifest, ns)
			err := k8sClient.Create(ctx, obj)
			assertInvalid(t, err, tc.field, tc.message)
			// Nothing was stored.
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(obj.GroupVersionKind())
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), got); !apierrors.IsNotFound(err) {
				t.Errorf("rejected object was stored (get: %v)", err)
			}
		})
	}
	t.Logf("%d invalid manifests rejected on create", len(cases))
}

// TestInvalidUpdatesAreRejectedAndLoseNothing checks updates of stored
// objects, status reports included: the update is rejected naming the field
// and the stored object is unchanged.
func TestInvalidUpdatesAreRejectedAndLoseNothing(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	cases := []struct {
		name    string
		status  bool
		path    string
		value   any
		field   string
		message string
	}{
		{"round of a job changed", false, "spec.round", "other", "spec.round", "round is immutable"},
		{"building of a job changed", false, "spec.building", "b2", "spec.building", "building is immutable"},
		{"501 missed households", true, "status.missedHouseholds", households(501), "status.missedHouseholds", "must have at most 500 items"},
		{"negative sampled", true, "status.sampled", int64(-1), "status.sampled", ""},
		{"unknown phase", true, "status.phase", "Done", "status.phase", "Unsupported value"},
		{"report for visit 0", true, "status.report", map[string]any{"visit": int64(0), "sampled": int64(1), "missed": int64(0), "time": "2026-11-26T08:00:00Z"}, "status.report.visit", ""},
		{"report with negative missed", true, "status.report", map[string]any{"visit": int64(1), "sampled": int64(1), "missed": int64(-3), "time": "2026-11-26T08:00:00Z"}, "status.report.missed", ""},
		{"household id that is a path", true, "status.missedHouseholds", []any{"2-1203", "../../etc/passwd"}, "status.missedHouseholds[1]", ""},
		{"household id too long", true, "status.missedHouseholds", []any{strings.Repeat("9", 33)}, "status.missedHouseholds[0]", "Too long"},
		// Missed reasons are a fixed list: free text, which
		// may name a resident, is never stored.
		{"household reason not in the list", true, "status.missedHouseholdReasons",
			[]any{map[string]any{"household": "2-1203", "reason": "moved to her daughter's"}}, "status.missedHouseholdReasons[0].reason", "Unsupported value"},
		{"report's household reason not in the list", true, "status.report", map[string]any{"visit": int64(1), "sampled": int64(1), "missed": int64(2),
			"time": "2026-11-26T08:00:00Z", "missedHouseholds": []any{"2-1203"}, "missedHouseholdReasons": []any{map[string]any{"household": "2-1203", "reason": "Not-Home"}}},
			"status.report.missedHouseholdReasons[0].reason", "Unsupported value"},
		{"negative count by reason", true, "status.notSampledByReason", map[string]any{"notHome": int64(-1)}, "status.notSampledByReason.notHome", ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := decode(t, validJob, ns)
			obj.SetName(fmt.Sprintf("cj-%d", i))
			if err := k8sClient.Create(ctx, obj); err != nil {
				t.Fatalf("creating a valid job: %v", err)
			}
			// A first, valid report that must survive the bad update.
			if err := unstructured.SetNestedField(obj.Object, int64(42), "status", "sampled"); err != nil {
				t.Fatal(err)
			}
			if err := k8sClient.Status().Update(ctx, obj); err != nil {
				t.Fatalf("valid status update: %v", err)
			}
			stored := obj.DeepCopy()
			if err := unstructured.SetNestedField(obj.Object, tc.value, strings.Split(tc.path, ".")...); err != nil {
				t.Fatal(err)
			}
			var err error
			if tc.status {
				err = k8sClient.Status().Update(ctx, obj)
			} else {
				err = k8sClient.Update(ctx, obj)
			}
			assertInvalid(t, err, tc.field, tc.message)
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(obj.GroupVersionKind())
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
				t.Fatal(err)
			}
			if got.GetResourceVersion() != stored.GetResourceVersion() {
				t.Errorf("object changed after a rejected update: resourceVersion %s -> %s", stored.GetResourceVersion(), got.GetResourceVersion())
			}
			if s, _, _ := unstructured.NestedInt64(got.Object, "status", "sampled"); s != 42 {
				t.Errorf("earlier status lost: status.sampled = %d, want 42", s)
			}
		})
	}
	t.Logf("%d invalid updates rejected", len(cases))
}

func assertInvalid(t *testing.T, err error, field, message string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want it rejected naming %s", field)
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("rejected as %v, want Invalid naming %s", apierrors.ReasonForError(err), field)
	}
	t.Logf("rejected: %v", err)
	if !strings.Contains(err.Error(), field) {
		t.Errorf("error does not name %s: %v", field, err)
	}
	if message != "" && !strings.Contains(err.Error(), message) {
		t.Errorf("error does not say %q: %v", message, err)
	}
}

// TestSamplesAndEdgeCasesAreAcceptedWithDefaults creates every sample under
// config/samples and a set of valid edge cases, and checks the defaults the
// schema applies.
func TestSamplesAndEdgeCasesAreAcceptedWithDefaults(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)

	files, err := filepath.Glob(filepath.Join("..", "..", "config", "samples", "sweep_*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples found under config/samples (%v)", err)
	}
	for _, f := range files {
		// Each file in a namespace of its own: samples may share names.
		ns := newNamespace(t)
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewYAMLOrJSONDecoder(strings.NewReader(string(data)), 4096)
		n := 0
		for {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				break
			}
			if len(u.Object) == 0 {
				continue
			}
			u.SetNamespace(ns)
			if err := k8sClient.Create(ctx, u); err != nil {
				t.Errorf("%s: sample %s/%s rejected: %v", f, u.GetKind(), u.GetName(), err)
			}
			n++
		}
		if n == 0 {
			t.Errorf("%s holds no objects", f)
		}
	}

	// A round with nothing but a deadline and its source gets every default.
	r := decode(t, validRound, ns)
	r.SetName("defaults")
	if err := k8sClient.Create(ctx, r); err != nil {
		t.Fatalf("minimal round rejected: %v", err)
	}
	var round sweepv1alpha1.TestingRound
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "defaults"}, &round); err != nil {
		t.Fatal(err)
	}
	s := round.Spec
	if s.Teams != 10 || s.Order != sweepv1alpha1.OrderSealedFirst || s.PoolSize != 10 ||
		s.Visits.Max != 3 || s.Visits.Interval.String() != "1h0m0s" ||
		s.Collector.Source != sweepv1alpha1.SourceDrill || s.Suspend || s.BuildingSelector != nil {
		t.Errorf("defaults not applied as documented: %+v", s)
	}

	var b sweepv1alpha1.Building
	bu := decode(t, "apiVersion: sweep.masstesting.io/v1alpha1\nkind: Building\nmetadata: {name: empty}\nspec: {residents: 0}", ns)
	if err := k8sClient.Create(ctx, bu); err != nil {
		t.Fatalf("empty building rejected: %v", err)
	}
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "empty"}, &b); err != nil {
		t.Fatal(err)
	}
	if b.Spec.ControlLevel != sweepv1alpha1.ControlLevelPrecaution {
		t.Errorf("controlLevel default = %q, want Precaution", b.Spec.ControlLevel)
	}

	edge := []string{
		"apiVersion: sweep.masstesting.io/v1alpha1\nkind: Building\nmetadata: {name: all-exempt}\nspec: {residents: 12, exempt: 12, homeVisit: 0}",
		"apiVersion: sweep.masstesting.io/v1alpha1\nkind: Building\nmetadata: {name: all-home}\nspec: {residents: 12, exempt: 2, homeVisit: 10, controlLevel: Sealed, units: 1000, floors: 300}",
		with(t, validRound, "spec.visits", map[string]any{"max": int64(10), "interval": "1m"}),
		with(t, validRound, "spec.teams", int64(10000)),
		with(t, validRound, "spec.poolSize", int64(1)),
		with(t, validRound, "spec.poolSize", int64(20)),
		with(t, validRound, "spec.buildingSelector", map[string]any{
			"matchLabels": map[string]any{"sweep.masstesting.io/street": "baoguo"},
			"matchExpressions": []any{
				map[string]any{"key": "level", "operator": "NotIn", "values": []any{"Precaution"}},
				map[string]any{"key": "community", "operator": "Exists"},
			}}),
		with(t, validRound, "spec.collector", map[string]any{"source": "http", "http": map[string]any{"url": "https://samples.example/api"}}),
		with(t, validRound, "spec.collector", map[string]any{"source": "csv", "csv": map[string]any{"configMapName": "export"}}),
		with(t, validRound, "spec.start", "2026-11-26T17:59:59Z"),
		with(t, validJob, "spec.homeVisit", int64(100)),
		with(t, validJob, "spec.homeVisit", int64(0)), // omitted: zero home visits
		// A building's job as a round creates it: the round's deadline and
		// collector are read from the round, not copied.
		"apiVersion: sweep.masstesting.io/v1alpha1\nkind: CollectionJob\nmetadata: {name: of-round}\nspec: {round: r, building: b1, expected: 100}",
		with(t, with(t, validJob, "spec.retest", map[string]any{"pool": "p", "tube": "T1", "households": []any{"1-101"}}), "spec.poolSize", int64(1)),
	}
	for i, m := range edge {
		u := decode(t, m, ns)
		u.SetName(fmt.Sprintf("edge-%d", i))
		if err := k8sClient.Create(ctx, u); err != nil {
			t.Errorf("valid edge case %d (%s) rejected: %v", i, u.GetKind(), err)
		}
	}

	// The job with the most missed households the schema allows is kept.
	j := decode(t, validJob, ns)
	j.SetName("max-households")
	if err := k8sClient.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(j.Object, households(sweepv1alpha1.MaxMissedHouseholds), "status", "missedHouseholds")
	if err := k8sClient.Status().Update(ctx, j); err != nil {
		t.Errorf("500 missed households rejected: %v", err)
	}
	var cj sweepv1alpha1.CollectionJob
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(j), &cj); err != nil {
		t.Fatal(err)
	}
	if cj.Spec.ControlLevel != sweepv1alpha1.ControlLevelPrecaution {
		t.Errorf("job defaults not applied: %+v", cj.Spec)
	}
	// What a job reads from its round is not defaulted into it either.
	if cj.Spec.PoolSize != 0 || cj.Spec.Visits != (sweepv1alpha1.VisitPolicy{}) {
		t.Errorf("poolSize %d and visits %+v stored in a job, want neither: the round's apply", cj.Spec.PoolSize, cj.Spec.Visits)
	}
	if len(cj.Status.MissedHouseholds) != 500 {
		t.Errorf("stored %d missed households, want 500", len(cj.Status.MissedHouseholds))
	}
}
