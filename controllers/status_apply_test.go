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

package controllers

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testobjects"
)

func TestDropEmptyObjectsPure(t *testing.T) {
	fields := map[string]any{
		"phase": "Running",
		"residents": map[string]any{
			"missed":         int64(0),
			"missedByReason": map[string]any{},
		},
		"pools":      map[string]any{"nested": map[string]any{"empty": map[string]any{}}},
		"conditions": []any{map[string]any{"type": "Ready", "extra": map[string]any{}}, map[string]any{}},
	}
	dropEmptyObjects(fields)
	want := map[string]any{
		"phase":      "Running",
		"residents":  map[string]any{"missed": int64(0)},
		"conditions": []any{map[string]any{"type": "Ready"}, map[string]any{}},
	}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("after dropEmptyObjects (-want +got):\n%s", diff)
	}
}

// TestStatusApplyClearsMissedReasonsBackToZero writes a round's status with
// missed residents by reason, then with nobody missed, as when the round's
// jobs are deleted (its namespace going away) or recreated. The second
// write must land and clear the reasons: sent as an empty object, the API
// server stored it as null and refused every later status write of the
// round.
func TestStatusApplyClearsMissedReasonsBackToZero(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	now := time.Now()
	tr := testobjects.Round(ns, "night").Start(now).Deadline(now.Add(time.Hour)).Teams(2).Drill().Obj()
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	var st sweepv1alpha1.TestingRoundStatus
	st.Residents.Missed = 3
	st.Residents.MissedByReason.NotHome = 3
	if _, err := applyStatus(ctx, k8s, "TestingRound", tr, &st, RoundFieldOwner, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := applyStatus(ctx, k8s, "TestingRound", tr, &sweepv1alpha1.TestingRoundStatus{}, RoundFieldOwner, ""); err != nil {
		t.Fatalf("status with nobody missed: %v", err)
	}
	got := &sweepv1alpha1.TestingRound{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(tr), got); err != nil {
		t.Fatal(err)
	}
	if got.Status.Residents.Missed != 0 || got.Status.Residents.MissedByReason != (sweepv1alpha1.MissedReasonTotals{}) {
		t.Errorf("stored residents %+v, want nobody missed", got.Status.Residents)
	}
}
