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

package testharness

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Poll calls cond every interval, the first time at once, until it holds
// or timeout passes. An error from cond does not end the wait (the API
// server may answer later), unless it is marked with Stop; the last one is
// in the error returned.
func Poll(ctx context.Context, timeout, interval time.Duration, cond func(context.Context) (bool, error)) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		var stop stopError
		if errors.As(err, &stop) {
			return false, stop
		}
		if err != nil {
			last = err
			return false, nil
		}
		return ok, nil
	})
	var stop stopError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &stop):
		return stop.error
	case last != nil:
		return fmt.Errorf("timed out after %s (last error: %w)", timeout, last)
	default:
		return fmt.Errorf("timed out after %s", timeout)
	}
}

// Stop marks an error from a condition that ends the wait at once: what
// the condition saw cannot turn out right by waiting longer (a round that
// completed too early, an alert that fired when it must not).
func Stop(err error) error { return stopError{err} }

type stopError struct{ error }

func (e stopError) Unwrap() error { return e.error }

// StopOnError is cond for Poll and Await with every error marked Stop: for
// conditions whose errors are failed assertions, not answers to wait out.
func StopOnError(cond func() (bool, error)) func(context.Context) (bool, error) {
	return func(context.Context) (bool, error) {
		ok, err := cond()
		if err != nil {
			return false, Stop(err)
		}
		return ok, nil
	}
}

// Await waits for cond as Poll does and fails tb, saying what it waited
// for and the last error, when cond does not hold in time. Tests wait for
// a condition this way rather than sleeping a fixed time. cond runs on the
// caller's goroutine, so it may call tb.Fatal.
func Await(tb testing.TB, what string, timeout, interval time.Duration, cond func(context.Context) (bool, error)) {
	tb.Helper()
	if err := Poll(context.Background(), timeout, interval, cond); err != nil {
		tb.Fatalf("waiting for %s: %v", what, err)
	}
}
