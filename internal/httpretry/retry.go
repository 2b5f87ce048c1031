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

// Package httpretry is the one retry policy for the services outside the
// cluster that Sweep calls over HTTP: the district's sample registry (the
// collector's http source) and the city's lab (the lab's http source). A
// failure that may pass (no connection, a timeout, 408, 429, 5xx) is tried
// again after a doubling wait, or after the server's Retry-After, both
// capped so that a confused server cannot park a visit or a poll for hours.
package httpretry

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultBackoff is the wait before the first retry when none is set.
	DefaultBackoff = 500 * time.Millisecond
	// MaxBackoff caps both the doubling wait and a server's Retry-After.
	MaxBackoff = 10 * time.Second
)

// Error is a failure worth trying again; After is the server's
// Retry-After, if it sent one (0: the doubling wait applies).
type Error struct {
	Err   error
	After time.Duration
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Backoff is the wait after failed attempt (1-based): base (0 means
// DefaultBackoff), doubled on each further attempt, at most MaxBackoff.
func Backoff(base time.Duration, attempt int) time.Duration {
	if base <= 0 {
		base = DefaultBackoff
	}
	d := base
	for i := 1; i < attempt && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// RetryAfter reads a Retry-After header in seconds, capped by MaxBackoff.
// The HTTP-date form is not used by the registries and labs we know of and
// falls back to the doubling wait (0 here).
func RetryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 {
		return 0
	}
	if n >= int(MaxBackoff/time.Second) {
		return MaxBackoff
	}
	return time.Duration(n) * time.Second
}

// Exhausted is Do's error when every attempt failed with an Error; Err is
// the last one.
type Exhausted struct {
	Attempts int
	Err      error
}

func (e *Exhausted) Error() string { return e.Err.Error() }
func (e *Exhausted) Unwrap() error { return e.Err }

// Stopped is Do's error when ctx ended while it waited to try again; Last
// is the failure before the wait.
type Stopped struct {
	Attempts int
	Last     error
	Err      error // ctx.Err()
}

func (e *Stopped) Error() string { return e.Err.Error() }
func (e *Stopped) Unwrap() error { return e.Err }

// Explain says in words what Do's error means for people: service (for
// example "sample registry") unavailable after so many attempts, or
// request (what was asked of it) stopped while waiting to try again, with
// the last failure. Other errors are returned as they are.
func Explain(err error, service, request string) error {
	var exhausted *Exhausted
	var stopped *Stopped
	switch {
	case errors.As(err, &exhausted):
		return fmt.Errorf("%s unavailable after %d attempts: %w", service, exhausted.Attempts, exhausted.Err)
	case errors.As(err, &stopped):
		return fmt.Errorf("%s stopped after %d attempts (last: %v): %w", request, stopped.Attempts, stopped.Last, stopped.Err)
	}
	return err
}

// Do calls try up to attempts times (at least once) until it returns nil
// or an error that is not an *Error, which Do returns as it is. When every
// attempt failed with an *Error it returns *Exhausted, and when ctx ends
// during a wait *Stopped, so that the caller can say which in its words.
func Do(ctx context.Context, attempts int, base time.Duration, try func(context.Context) error) error {
	attempts = max(attempts, 1)
	for attempt := 1; ; attempt++ {
		err := try(ctx)
		if err == nil {
			return nil
		}
		var retry *Error
		if !errors.As(err, &retry) {
			return err
		}
		if attempt == attempts {
			return &Exhausted{Attempts: attempts, Err: err}
		}
		wait := Backoff(base, attempt)
		if retry.After > 0 {
			wait = min(retry.After, MaxBackoff)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return &Stopped{Attempts: attempt, Last: err, Err: ctx.Err()}
		case <-timer.C:
		}
	}
}
