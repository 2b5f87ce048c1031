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
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

func TestTruncateConditionMessage(t *testing.T) {
	const limit = sweepv1alpha1.MaxConditionMessageLength
	cases := []struct {
		name string
		msg  string
		want string // "" to check only length and suffix
	}{
		{name: "empty", msg: "", want: ""},
		{name: "short", msg: "visit 1: r-b1-v1-r0 failed: BackoffLimitExceeded", want: "visit 1: r-b1-v1-r0 failed: BackoffLimitExceeded"},
		{name: "at the limit", msg: strings.Repeat("x", limit), want: strings.Repeat("x", limit)},
		{name: "one over", msg: strings.Repeat("x", limit+1), want: strings.Repeat("x", limit-4) + " ..."},
		{name: "far over", msg: strings.Repeat("x", 10*limit), want: strings.Repeat("x", limit-4) + " ..."},
		// A three-byte character across the cut is dropped whole, never
		// split into invalid UTF-8.
		{name: "multibyte across the cut", msg: strings.Repeat("x", limit-6) + strings.Repeat("楼", 10), want: strings.Repeat("x", limit-6) + " ..."},
		{name: "multibyte ending at the cut", msg: strings.Repeat("x", limit-7) + strings.Repeat("楼", 10), want: strings.Repeat("x", limit-7) + "楼 ..."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := sweepv1alpha1.TruncateConditionMessage(c.msg)
			if got != c.want {
				t.Errorf("got %d bytes ending %q, want %d bytes ending %q", len(got), tail(got), len(c.want), tail(c.want))
			}
			if len(got) > limit || !utf8.ValidString(got) {
				t.Errorf("got %d bytes (valid UTF-8: %t), want at most %d valid", len(got), utf8.ValidString(got), limit)
			}
		})
	}
}

func tail(s string) string {
	return s[max(len(s)-12, 0):]
}

// TestSetConditionFitsTheAPIServer writes a round's condition whose message
// embeds an error far longer than the API server keeps: set with
// SetCondition the status write is accepted, and the same message set
// as it is is rejected, so the limit is the server's own.
func TestSetConditionFitsTheAPIServer(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	var r sweepv1alpha1.TestingRound
	u := decode(t, validRound, ns)
	if err := k8sClient.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(u), &r); err != nil {
		t.Fatal(err)
	}
	long := "collector: " + strings.Repeat("connection refused; ", 3000)
	c := metav1.Condition{Type: sweepv1alpha1.ConditionProgressing, Status: metav1.ConditionFalse,
		Reason: sweepv1alpha1.ReasonWaitingForStart, Message: long, LastTransitionTime: metav1.Time{Time: time.Now()}}

	raw := r.DeepCopy()
	raw.Status.Conditions = []metav1.Condition{c}
	if err := k8sClient.Status().Update(ctx, raw); err == nil {
		t.Fatalf("a %d-byte condition message was accepted: the limit is not the server's", len(long))
	}

	if !sweepv1alpha1.SetCondition(&r.Status.Conditions, c) {
		t.Fatal("SetCondition reported no change")
	}
	if err := k8sClient.Status().Update(ctx, &r); err != nil {
		t.Fatalf("truncated message rejected: %v", err)
	}
	if got := r.Status.Conditions[0].Message; !strings.HasSuffix(got, " ...") || len(got) != sweepv1alpha1.MaxConditionMessageLength {
		t.Errorf("stored message is %d bytes ending %q", len(got), tail(got))
	}
}
