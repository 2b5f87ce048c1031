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
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/masstesting/sweep/internal/collector"
)

func TestFreeAddrIsFreePure(t *testing.T) {
	addr := FreeAddr(t)
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("FreeAddr = %q, want a loopback address with a port", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the free address cannot be listened on: %v", err)
	}
	l.Close()
}

// exposition is a scrape as the manager serves it, cut short.
const exposition = `# HELP sweep_round_residents Residents of a round by state.
# TYPE sweep_round_residents gauge
sweep_round_residents{namespace="d1",round="r",state="sampled"} 90
sweep_round_residents{namespace="d1",round="r",state="missed"} 10
# HELP controller_runtime_reconcile_panics_total Panics.
# TYPE controller_runtime_reconcile_panics_total counter
controller_runtime_reconcile_panics_total{controller="panicky"} 2
# HELP go_goroutines Goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
# HELP sweep_building_duration_seconds Durations.
# TYPE sweep_building_duration_seconds histogram
sweep_building_duration_seconds_bucket{namespace="d1",le="1"} 1
sweep_building_duration_seconds_bucket{namespace="d1",le="+Inf"} 3
sweep_building_duration_seconds_sum{namespace="d1"} 7.5
sweep_building_duration_seconds_count{namespace="d1"} 3
`

func TestMetricsAccessorsPure(t *testing.T) {
	m, err := ParseMetrics(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
		ok     bool
	}{
		{"sweep_round_residents", []string{"state=missed", "round=r", "namespace=d1"}, 10, true},
		{"sweep_round_residents", []string{"namespace=d1", "round=r", "state=sampled"}, 90, true},
		{"sweep_round_residents", []string{"state=missed"}, 0, false}, // labels must match exactly
		{"controller_runtime_reconcile_panics_total", []string{"controller=panicky"}, 2, true},
		{"sweep_building_duration_seconds", []string{"namespace=d1"}, 3, true},
		{"sweep_absent", nil, 0, false},
	} {
		if got, ok := m.Value(c.name, c.labels...); got != c.want || ok != c.ok {
			t.Errorf("Value(%s, %v) = %v, %v; want %v, %v", c.name, c.labels, got, ok, c.want, c.ok)
		}
	}
	if v, ok := m.First("go_goroutines"); v != 42 || !ok {
		t.Errorf("First(go_goroutines) = %v, %v", v, ok)
	}
	flat := m.Flat()
	for key, want := range map[string]float64{
		SeriesKey("sweep_round_residents", "state=missed", "namespace=d1", "round=r"): 10,
		"sweep_round_residents{namespace=d1,round=r,state=missed}":                    10,
		"sweep_building_duration_seconds_count{namespace=d1}":                         3,
		"sweep_building_duration_seconds_sum{namespace=d1}":                           7.5,
		"go_goroutines{}": 42,
	} {
		if got, ok := flat[key]; !ok || got != want {
			t.Errorf("Flat()[%s] = %v (present %v), want %v", key, got, ok, want)
		}
	}
	if got := Label(m["controller_runtime_reconcile_panics_total"].Metric[0], "controller"); got != "panicky" {
		t.Errorf("Label = %q", got)
	}
}

// fakeTB records a Fatalf and ends the goroutine as testing.T does.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls body with f on a goroutine of its own, as testing runs a test.
func (f *fakeTB) run(body func(testing.TB)) {
	done := make(chan struct{})
	go func() { defer close(done); body(f) }()
	<-done
}

func TestAwaitPure(t *testing.T) {
	t.Run("holds", func(t *testing.T) {
		calls := 0
		f := &fakeTB{}
		f.run(func(tb testing.TB) {
			Await(tb, "the third call", time.Minute, time.Millisecond, func(context.Context) (bool, error) {
				calls++
				return calls == 3, nil
			})
		})
		if f.failed != "" || calls != 3 {
			t.Errorf("Await failed %q after %d calls; want it to return after 3", f.failed, calls)
		}
	})
	t.Run("times out", func(t *testing.T) {
		f := &fakeTB{}
		returned := false
		f.run(func(tb testing.TB) {
			Await(tb, "the impossible", 50*time.Millisecond, time.Millisecond, func(context.Context) (bool, error) {
				return false, errors.New("not yet: 404")
			})
			returned = true
		})
		if returned {
			t.Error("Await returned although the condition never held")
		}
		for _, want := range []string{"waiting for the impossible", "timed out after 50ms", "not yet: 404"} {
			if !strings.Contains(f.failed, want) {
				t.Errorf("Await's failure %q does not say %q", f.failed, want)
			}
		}
	})
	t.Run("a Stop error ends the wait", func(t *testing.T) {
		calls := 0
		f := &fakeTB{}
		f.run(func(tb testing.TB) {
			Await(tb, "the alert to stay silent", time.Minute, time.Millisecond, func(context.Context) (bool, error) {
				calls++
				return false, Stop(errors.New("SweepOperatorDown is firing"))
			})
		})
		if calls != 1 || !strings.Contains(f.failed, "waiting for the alert to stay silent: SweepOperatorDown is firing") {
			t.Errorf("after %d calls Await failed with %q; want one call and the condition's error", calls, f.failed)
		}
	})
	t.Run("an error does not end the wait", func(t *testing.T) {
		calls := 0
		err := Poll(context.Background(), time.Minute, time.Millisecond, func(context.Context) (bool, error) {
			calls++
			if calls == 1 {
				return false, errors.New("the API server is starting")
			}
			return true, nil
		})
		if err != nil || calls != 2 {
			t.Errorf("Poll = %v after %d calls, want nil after 2", err, calls)
		}
	})
}

func TestDrillTruthPure(t *testing.T) {
	a := collector.Assignment{Round: "r", Building: "b-1", Expected: 120, Households: 40, Units: 2, Floors: 10,
		Source: "drill", DrillSeed: 7, DrillAbsentPercent: 30, DrillStillAbsentPercent: 50}
	one, err := DrillTruth(a, 1)
	if err != nil {
		t.Fatal(err)
	}
	if one.Visit != 1 || one.Missed == 0 || one.Sampled+one.Missed != 120 {
		t.Fatalf("one visit: %+v; want visit 1 with some of 120 missed (30%% absent)", one)
	}
	for _, maxVisits := range []int32{2, 5, 50} {
		r, err := DrillTruth(a, maxVisits)
		if err != nil {
			t.Fatal(err)
		}
		// Every visit but the last leaves someone missed; the last is the
		// one that missed nobody or the last allowed.
		if r.Visit > maxVisits || (r.Visit < maxVisits && r.Missed != 0) || r.Sampled < one.Sampled {
			t.Errorf("at most %d visits: %+v", maxVisits, r)
		}
		if r.Visit > 1 {
			o, err := collector.DrillSource{}.Visit(context.Background(), withVisit(a, r.Visit-1), nil)
			if err != nil {
				t.Fatal(err)
			}
			if o.Sampled == a.Expected {
				t.Errorf("at most %d visits: ended at visit %d, but visit %d missed nobody", maxVisits, r.Visit, r.Visit-1)
			}
		}
	}
}

func withVisit(a collector.Assignment, v int32) collector.Assignment {
	a.Visit = v
	return a
}
