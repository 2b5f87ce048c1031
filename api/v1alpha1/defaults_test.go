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
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// TestVisitIntervalDefaultInCRDs reads the generated CRDs: every
// visits.interval default (rounds, their jobs, schedules' round templates)
// is DefaultVisitInterval, the default the collection controller and the
// metrics apply to an interval left unset.
func TestVisitIntervalDefaultInCRDs(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	found := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd map[string]any
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walkSchema(crd, filepath.Base(f), func(path string, visits map[string]any) {
			props, _ := visits["properties"].(map[string]any)
			interval, ok := props["interval"].(map[string]any)
			if !ok {
				return
			}
			found++
			text, _ := interval["default"].(string)
			if d, err := time.ParseDuration(text); err != nil || d != sweepv1alpha1.DefaultVisitInterval {
				t.Errorf("%s: visits.interval defaults to %q, DefaultVisitInterval is %s", path, text, sweepv1alpha1.DefaultVisitInterval)
			}
		})
	}
	if found < 3 {
		t.Errorf("found %d visits.interval fields in the CRDs, want at least 3 (round, job, schedule)", found)
	}
}

// walkSchema calls fn with every schema under v held in a property named
// visits.
func walkSchema(v any, path string, fn func(string, map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		for k, c := range v {
			if m, ok := c.(map[string]any); ok && k == "visits" && m["type"] == "object" {
				fn(path+"."+k, m)
			}
			walkSchema(c, path+"."+k, fn)
		}
	case []any:
		for _, c := range v {
			walkSchema(c, path, fn)
		}
	}
}
