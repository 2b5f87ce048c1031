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
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Editing a running round: the fields the operator follows may change
// (docs/rounds.md, "Editing a running round"); the ones fixed into every
// building's job at expansion are refused with a message that says why.
func TestRoundEditsFollowedOrRefused(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	cases := []struct {
		name    string
		path    string
		value   any
		field   string // "" when the edit is accepted
		message string
	}{
		{"pool size", "spec.poolSize", int64(5), "spec.poolSize", "poolSize cannot change once the round exists"},
		{"spare share of supplies", "spec.supplies.sparePercent", int64(30), "spec.supplies", "supplies cannot change once the round exists"},
		{"deadline later", "spec.deadline", "2026-11-26T22:00:00Z", "", ""},
		{"deadline earlier", "spec.deadline", "2026-11-26T12:00:00Z", "", ""},
		{"suspend", "spec.suspend", true, "", ""},
		{"teams", "spec.teams", int64(40), "", ""},
		{"registry URL", "spec.collector", map[string]any{"source": "http", "http": map[string]any{"url": "https://registry.example/v2"}}, "", ""},
		{"re-knocks", "spec.visits.max", int64(5), "", ""},
		{"selector", "spec.buildingSelector", map[string]any{"matchLabels": map[string]any{"street": "baoguo"}}, "", ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := decode(t, validRound, ns)
			obj.SetName(fmt.Sprintf("edit-%d", i))
			if err := k8sClient.Create(ctx, obj); err != nil {
				t.Fatalf("creating a valid round: %v", err)
			}
			if err := unstructured.SetNestedField(obj.Object, tc.value, strings.Split(tc.path, ".")...); err != nil {
				t.Fatal(err)
			}
			err := k8sClient.Update(ctx, obj)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("edit refused: %v", err)
				}
				return
			}
			assertInvalid(t, err, tc.field, tc.message)
		})
	}
}
