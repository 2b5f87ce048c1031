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

package httpretry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRetryAfterIsCapped(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"3":                             3 * time.Second,
		"3600":                          MaxBackoff,
		"":                              0,
		"-1":                            0,
		"Wed, 21 Oct 2015 07:28:00 GMT": 0, // date form: the doubling wait applies
	} {
		if got := RetryAfter(v); got != want {
			t.Errorf("RetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if got := Backoff(0, i+1); got != w {
			t.Errorf("Backoff after attempt %d = %s, want %s", i+1, got, w)
		}
	}
	if got := Backoff(3*time.Second, 2); got != 6*time.Second {
		t.Errorf("Backoff(3s, 2) = %s, want 6s", got)
	}
}

// TestDo: how each kind of failure ends, and how many times try ran.
func TestDo(t *testing.T) {
	final := errors.New("refused for good")
	busy := &Error{Err: errors.New("busy"), After: time.Millisecond}
	for _, tc := range []struct {
		name      string
		answers   []error // try's answers in turn; the last repeats
		attempts  int
		wantTries int
		check     func(error) bool
	}{
		{"success at once", []error{nil}, 3, 1, func(err error) bool { return err == nil }},
		{"success after two busy", []error{busy, busy, nil}, 5, 3, func(err error) bool { return err == nil }},
		{"a final error is not retried", []error{final}, 5, 1, func(err error) bool { return err == final }},
		{"busy to the end", []error{busy}, 3, 3, func(err error) bool {
			var ex *Exhausted
			return errors.As(err, &ex) && ex.Attempts == 3 && ex.Err == busy
		}},
		{"zero attempts still tries once", []error{busy}, 0, 1, func(err error) bool {
			var ex *Exhausted
			return errors.As(err, &ex) && ex.Attempts == 1
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tries := 0
			err := Do(context.Background(), tc.attempts, time.Millisecond, func(context.Context) error {
				a := tc.answers[min(tries, len(tc.answers)-1)]
				tries++
				return a
			})
			if tries != tc.wantTries || !tc.check(err) {
				t.Errorf("tried %d times, ended with %v; want %d tries and the expected ending", tries, err, tc.wantTries)
			}
		})
	}
}

func TestDoStopsWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tries := 0
	err := Do(ctx, 5, time.Hour, func(context.Context) error {
		tries++
		cancel()
		return &Error{Err: errors.New("down")}
	})
	var st *Stopped
	if !errors.As(err, &st) || st.Attempts != 1 || !errors.Is(err, context.Canceled) || tries != 1 {
		t.Errorf("tried %d times, ended with %#v; want Stopped after 1 attempt, wrapping context.Canceled", tries, err)
	}
}

func TestExplain(t *testing.T) {
	last := &Error{Err: errors.New("answered 503 Service Unavailable")}
	cases := []struct {
		err  error
		want string
	}{
		{&Exhausted{Attempts: 5, Err: last}, "lab http://lab unavailable after 5 attempts: answered 503 Service Unavailable"},
		{&Stopped{Attempts: 2, Last: last, Err: context.DeadlineExceeded}, "lab http://lab poll for round r stopped after 2 attempts (last: answered 503 Service Unavailable): context deadline exceeded"},
		{errors.New("malformed page"), "malformed page"},
	}
	for _, c := range cases {
		got := Explain(c.err, "lab http://lab", "lab http://lab poll for round r")
		if got.Error() != c.want {
			t.Errorf("Explain(%v) = %q, want %q", c.err, got, c.want)
		}
		if !errors.Is(got, c.err) && !errors.Is(got, errors.Unwrap(c.err)) {
			t.Errorf("Explain(%v) does not wrap it", c.err)
		}
	}
}
