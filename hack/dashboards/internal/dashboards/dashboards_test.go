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
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// checkedIn is where `make dashboards` writes the JSON.
var checkedIn = filepath.Join("..", "..", "..", "..", "config", "grafana")

func TestCheckedInJSONIsGenerated(t *testing.T) {
	for name, build := range Files {
		d, err := build()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := JSON(d)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(checkedIn, name))
		if err != nil {
			t.Fatalf("%v: run `make dashboards` and commit config/grafana/", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("config/grafana/%s differs from what hack/dashboards builds: run `make dashboards` and commit the result", name)
		}
	}
}

// load reads a checked-in dashboard into the SDK's types, which are
// generated from Grafana's schema: panels and queries by their plugin type
// (RegisterDefaultPlugins), then the SDK checks the schema's constraints.
// A value of the wrong type fails here; a field the schema does not know is
// dropped, which TestDashboardsFitGrafanasSchema sees in the round trip.
//
// The SDK's strict decoder (UnmarshalJSONStrict) cannot be used in v0.0.22:
// each panel's decoder returns an empty, non-nil error list, on which the
// dashboard's decoder gives up on the panel and leaves it empty.
func load(t *testing.T, name string) (*dashboard.Dashboard, []byte) {
	t.Helper()
	plugins.RegisterDefaultPlugins()
	raw, err := os.ReadFile(filepath.Join(checkedIn, name))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard.Dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s does not fit Grafana's dashboard schema: %v", name, err)
	}
	if err := schemaError(d.Validate()); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &d, raw
}

// schemaError is err, or nil for the empty list of errors the SDK (v0.0.22)
// returns as a non-nil error when there is none.
func schemaError(err error) error {
	if errs, ok := err.(cog.BuildErrors); ok && len(errs) == 0 {
		return nil
	}
	return err
}

func TestDashboardsFitGrafanasSchema(t *testing.T) {
	for name := range Files {
		t.Run(name, func(t *testing.T) {
			d, raw := load(t, name)
			// Nothing is lost in the round trip through the types.
			again, err := JSON(*d)
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			if err := json.Unmarshal(raw, &a); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(again, &b); err != nil {
				t.Fatal(err)
			}
			if !jsonEqual(a, b) {
				t.Errorf("%s changes when read into the SDK's types and written again: a field or value the schema does not know", name)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// variableRef matches a template variable in a query: $name or ${name}.
var variableRef = regexp.MustCompile(`\$\{?(\w+)\}?`)

func TestEveryPanelQueriesPrometheusWithKnownVariables(t *testing.T) {
	// Grafana's own variables that may appear in queries.
	builtin := map[string]bool{"__rate_interval": true, "__interval": true, "__range": true}
	for name := range Files {
		t.Run(name, func(t *testing.T) {
			d, _ := load(t, name)
			if d.Uid == nil || !slices.Contains(UIDs, *d.Uid) {
				t.Errorf("uid %v is not one of the stable uids", d.Uid)
			}
			vars := map[string]bool{}
			for _, v := range d.Templating.List {
				vars[v.Name] = true
			}
			ids := map[uint32]bool{}
			panels := 0
			for _, p := range d.Panels {
				if p.RowPanel != nil {
					if ids[p.RowPanel.Id] {
						t.Errorf("row %q: id %d used twice", *p.RowPanel.Title, p.RowPanel.Id)
					}
					ids[p.RowPanel.Id] = true
					continue
				}
				panels++
				title := *p.Panel.Title
				if p.Panel.Id == nil || ids[*p.Panel.Id] {
					t.Errorf("panel %q: no id, or one used twice", title)
				} else {
					ids[*p.Panel.Id] = true
				}
				if p.Panel.Description == nil || *p.Panel.Description == "" {
					t.Errorf("panel %q has no description", title)
				}
				if len(p.Panel.Targets) == 0 {
					t.Errorf("panel %q has no query", title)
				}
				for _, target := range p.Panel.Targets {
					q, ok := target.(*prometheus.Dataquery)
					if !ok {
						t.Errorf("panel %q: query %T is not a Prometheus query", title, target)
						continue
					}
					if strings.TrimSpace(q.Expr) == "" {
						t.Errorf("panel %q: empty query", title)
					}
					for _, m := range variableRef.FindAllStringSubmatch(q.Expr, -1) {
						if !vars[m[1]] && !builtin[m[1]] {
							t.Errorf("panel %q: query uses $%s, which the dashboard does not define", title, m[1])
						}
					}
				}
			}
			if panels < 6 {
				t.Errorf("only %d panels", panels)
			}
		})
	}
}

// Every query of the City dashboard shows each district's round today, as
// LatestRound picks it, and keeps the district: a query that forgot either
// would add up rounds of different days, or districts.
func TestCityQueriesPickEachDistrictsRoundToday(t *testing.T) {
	d, _ := load(t, "sweep-city.json")
	n := 0
	for _, p := range d.Panels {
		if p.Panel == nil {
			continue
		}
		for _, target := range p.Panel.Targets {
			q := target.(*prometheus.Dataquery)
			n++
			if !strings.Contains(q.Expr, "and on (namespace, round) "+LatestRound) {
				t.Errorf("panel %q: %s does not pick each district's round today", *p.Panel.Title, q.Expr)
			}
			if !strings.Contains(q.Expr, `namespace=~"$district"`) {
				t.Errorf("panel %q: %s ignores the district variable", *p.Panel.Title, q.Expr)
			}
			if strings.Contains(q.Expr, "sum(") || strings.Contains(q.Expr, "max(") {
				t.Errorf("panel %q: %s adds up districts", *p.Panel.Title, q.Expr)
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d queries", n)
	}
}
