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
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collection"
	"github.com/masstesting/sweep/internal/testharness"
	"github.com/masstesting/sweep/internal/testobjects"
)

// badRegistry is a sample-registration system (the http source's API) that
// misbehaves differently for each building:
//   - b-hang accepts the connection and never answers;
//   - b-500 answers 500 Internal Server Error;
//   - b-garbage answers 200 with a body that is not JSON;
//   - b-huge answers 200 with a 50 MB body;
//   - b-ok answers properly (everyone sampled).
//
// It records when each request came and when it ended, and how much of the
// 50 MB body it managed to write before the client hung up.
type badRegistry struct {
	stop chan struct{}

	mu   sync.Mutex
	reqs map[string][]registryRequest
	// hugeWritten is, per request for b-huge, the bytes written before a
	// write failed (the client closed the connection), or the whole body.
	hugeWritten []int64
	hugeDone    []bool
}

type registryRequest struct {
	arrived, ended time.Time
	// clientGone says the client gave up on a request that was never
	// answered.
	clientGone bool
}

const hugeBody = 50 << 20

func (g *badRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// /v1/rounds/{round}/buildings/{building}/samples
	parts := strings.Split(r.URL.Path, "/")
	if len(parts) != 7 || parts[4] != "buildings" {
		http.NotFound(w, r)
		return
	}
	building := parts[5]
	rec := registryRequest{arrived: time.Now()}
	defer func() {
		rec.ended = time.Now()
		g.mu.Lock()
		g.reqs[building] = append(g.reqs[building], rec)
		g.mu.Unlock()
	}()
	switch building {
	case "b-hang":
		select {
		case <-r.Context().Done():
			rec.clientGone = true
		case <-g.stop:
		}
	case "b-500":
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, "upstream database unavailable")
	case "b-garbage":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, "\x00\x1f}{ not json at all ]]")
	case "b-huge":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(hugeBody))
		chunk := []byte(`{"sampled":1,"homeVisited":0,"pad":"` + strings.Repeat("x", 64<<10-36))
		var written int64
		done := true
		for written < hugeBody {
			n, err := w.Write(chunk[:min(int64(len(chunk)), hugeBody-written)])
			written += int64(n)
			if err != nil {
				done = false
				break
			}
			chunk = []byte(strings.Repeat("x", 64<<10))
		}
		g.mu.Lock()
		g.hugeWritten = append(g.hugeWritten, written)
		g.hugeDone = append(g.hugeDone, done)
		g.mu.Unlock()
	default:
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"sampled":10,"homeVisited":0}`)
	}
}

func (g *badRegistry) requests(building string) []registryRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]registryRequest(nil), g.reqs[building]...)
}

// The http source's defined behaviour (internal/collector/httpsource.go,
// docs/collector-api.md): each request is bounded by the round's timeout;
// a network error, timeout or 5xx is tried 4 more times after 0.5 s, 1 s,
// 2 s and 4 s; a 200 that cannot be used is not retried. The collection
// controller then retries the failed visit twice (collection.MaxAttempts),
// 10 s and 20 s later on the round clock.
var (
	httpAttemptsPerVisit = 5
	httpBackoffs         = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}
)

// TestHTTPSourceFailuresThroughARound runs a round with the local executor
// whose http source points at a registry that hangs, answers 500s,
// answers garbage and answers 50 MB, and checks that none of them holds
// up or harms the round:
// the visit fails in bounded time (the request timeout and the retries as
// defined, never forever), the body read is bounded (the server could not
// write the 50 MB: the client stopped reading and hung up), the retries
// are those defined, and the building ends Failed with a condition and a
// Warning event that say what went wrong. A building whose registry answers
// properly completes in the same round.
func TestHTTPSourceFailuresThroughARound(t *testing.T) {
	const timeout = time.Second
	reg := &badRegistry{stop: make(chan struct{}), reqs: map[string][]registryRequest{}}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	defer close(reg.stop)

	ns := newNamespace(t)
	ctx := context.Background()
	buildings := []string{"b-hang", "b-500", "b-garbage", "b-huge", "b-ok"}
	for _, name := range buildings {
		b := testobjects.Building(ns, name).WithLabels(street).Residents(10).Households(4).Obj()
		if err := k8s.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	clk := clocktesting.NewFakeClock(time.Now())
	startManagerWith(t, ns, clk, nil, func(mgr ctrl.Manager) Executor { return NewLocalExecutor(mgr.GetClient(), 8, 0) })
	tr := newRound(ns, "registry", clk.Now(), int32(len(buildings)), street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	tr.Spec.Collector.Source = sweepv1alpha1.SourceHTTP
	tr.Spec.Collector.HTTP = &sweepv1alpha1.HTTPSource{URL: srv.URL, Timeout: &sweepv1alpha1.Duration{Duration: timeout}}
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, ns, "registry")

	// Bounded time: the slowest building, b-hang, needs per attempt 5
	// requests of one timeout each and the 7.5 s of backoff between them;
	// three attempts, and a few seconds of slack per attempt for a loaded
	// machine. A source without a timeout never gets there.
	var backoff time.Duration
	for _, b := range httpBackoffs {
		backoff += b
	}
	perAttempt := time.Duration(httpAttemptsPerVisit)*timeout + backoff
	budget := collection.MaxAttempts * (perAttempt + 5*time.Second)
	start := time.Now()
	err := testharness.Poll(ctx, budget, 50*time.Millisecond, func(context.Context) (bool, error) {
		done := 0
		for _, j := range listJobs(t, ns) {
			if j.Status.Phase.Finished() {
				done++
			}
		}
		if done == len(buildings) {
			return true, nil
		}
		// The retries wait 10 s and 20 s on the round clock.
		advanceToNextVisits(t, ns, clk)
		return false, nil
	})
	if err != nil {
		t.Fatalf("the buildings did not all finish within %s (%d attempts of at most %s each, plus slack): a visit waits too long or forever on the registry",
			budget, collection.MaxAttempts, perAttempt)
	}
	t.Logf("every building finished in %s (budget %s)", time.Since(start).Round(time.Millisecond), budget)

	// Each failure says what went wrong, in the Failed condition and the
	// Warning event.
	for building, says := range map[string][]string{
		"b-hang":    {"did not answer for building b-hang visit 1 within the 1s timeout", "after 5 attempts"},
		"b-500":     {"answered 500 Internal Server Error for building b-500 visit 1: upstream database unavailable", "after 5 attempts"},
		"b-garbage": {"malformed body for building b-garbage visit 1: not a JSON object (not JSON"},
		"b-huge":    {"malformed body for building b-huge visit 1: larger than 1 MiB"},
	} {
		name := jobName(t, ns, "registry", building)
		cj := getJob(t, ns, name)
		c := meta.FindStatusCondition(cj.Status.Conditions, sweepv1alpha1.ConditionFailed)
		if cj.Status.Phase != sweepv1alpha1.JobFailed || c == nil || c.Reason != sweepv1alpha1.ReasonVisitFailed || cj.Status.FailedAttempts != collection.MaxAttempts {
			t.Errorf("%s: phase %s after %d failed attempts, Failed condition %+v; want Failed with reason %s after %d attempts",
				building, cj.Status.Phase, cj.Status.FailedAttempts, c, sweepv1alpha1.ReasonVisitFailed, collection.MaxAttempts)
			continue
		}
		for _, s := range append(says, "Gave up after 3 attempts of visit 1") {
			if !strings.Contains(c.Message, s) {
				t.Errorf("%s: the Failed condition does not say %q: %s", building, s, c.Message)
			}
		}
		if cj.Status.Sampled != 0 || cj.Status.Missed != 10 {
			t.Errorf("%s: a failed building counted residents: %+v", building, cj.Status)
		}
		await(t, "the Failed event of "+building, func() (bool, error) {
			return strings.Contains(jobEvents(t, ns, name)["Failed"], says[0]), nil
		})
	}
	if ok := getJob(t, ns, jobName(t, ns, "registry", "b-ok")); ok.Status.Phase != sweepv1alpha1.JobCompleted || ok.Status.Sampled != 10 {
		t.Errorf("b-ok: %+v", ok.Status)
	}

	// Retries as defined: 5 requests per attempt for the retryable
	// failures, one for a 200 that cannot be used; 3 attempts each.
	for building, want := range map[string]int{"b-hang": 15, "b-500": 15, "b-garbage": 3, "b-huge": 3, "b-ok": 1} {
		if got := len(reg.requests(building)); got != want {
			t.Errorf("%s: the registry got %d requests, want %d", building, got, want)
		}
	}
	// Each hanging request was given up by the client after the timeout,
	// and the next came after the defined backoff.
	const slack = 1500 * time.Millisecond
	hang := reg.requests("b-hang")
	for i, r := range hang {
		if held := r.ended.Sub(r.arrived); !r.clientGone || held < timeout-50*time.Millisecond || held > timeout+slack {
			t.Errorf("b-hang request %d: held %s, client gone %t; want the client to give up after the %s timeout", i+1, held, r.clientGone, timeout)
		}
		if k := i % httpAttemptsPerVisit; k > 0 {
			if gap := r.arrived.Sub(hang[i-1].ended); gap < httpBackoffs[k-1]-50*time.Millisecond || gap > httpBackoffs[k-1]+slack {
				t.Errorf("b-hang request %d came %s after the previous one gave up; want the %s backoff", i+1, gap, httpBackoffs[k-1])
			}
		}
	}
	fails := reg.requests("b-500")
	for i := range fails {
		if k := i % httpAttemptsPerVisit; k > 0 {
			if gap := fails[i].arrived.Sub(fails[i-1].ended); gap < httpBackoffs[k-1]-50*time.Millisecond || gap > httpBackoffs[k-1]+slack {
				t.Errorf("b-500 request %d came %s after the previous answer; want the %s backoff", i+1, gap, httpBackoffs[k-1])
			}
		}
	}
	// Bounded memory, seen from the server: the client reads at most
	// 1 MiB + 1 byte and hangs up, so the server's writes fail long before
	// 50 MB. What it wrote beyond 1 MiB sits in the kernel's socket buffers
	// (a few MiB on loopback).
	reg.mu.Lock()
	written, completed := reg.hugeWritten, reg.hugeDone
	reg.mu.Unlock()
	for i := range written {
		if completed[i] || written[i] > 16<<20 {
			t.Errorf("b-huge request %d: the server wrote %d bytes of the 50 MB body (all of it: %t); the client must stop reading after 1 MiB", i+1, written[i], completed[i])
		}
	}
	t.Logf("b-huge: the server wrote %v bytes of %d before the client hung up", written, hugeBody)
}

// TestHTTPSourceRealRegistryThroughARound is
// TestCSVSourceRealRegistryThroughARound with the http source: the registry
// answers each building's totals over its whole register.
func TestHTTPSourceRealRegistryThroughARound(t *testing.T) {
	answers := map[string]string{}
	for _, b := range rosterBuildings {
		var sampled, home int
		var missed []string
		for _, r := range b.rows {
			var hh string
			var n, s, h int
			if _, err := fmt.Sscanf(strings.ReplaceAll(r, ",", " "), "%s %d %d %d", &hh, &n, &s, &h); err != nil {
				t.Fatal(err)
			}
			sampled, home = sampled+s, home+h
			if s < n {
				missed = append(missed, `"`+hh+`"`)
			}
		}
		answers[b.name] = fmt.Sprintf(`{"building":%q,"sampled":%d,"homeVisited":%d,"missedHouseholds":[%s]}`,
			b.name, sampled, home, strings.Join(missed, ","))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/") // /v1/rounds/{round}/buildings/{building}/samples
		body, ok := answers[parts[len(parts)-2]]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	defer srv.Close()

	ns := newNamespace(t)
	createRosterBuildings(t, ns)
	clk := clocktesting.NewFakeClock(time.Now())
	startManagerWith(t, ns, clk, nil, func(mgr ctrl.Manager) Executor { return NewLocalExecutor(mgr.GetClient(), 8, 0) })
	tr := newRound(ns, "registry", clk.Now(), 3, street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	tr.Spec.Collector.Source = sweepv1alpha1.SourceHTTP
	tr.Spec.Collector.HTTP = &sweepv1alpha1.HTTPSource{URL: srv.URL}
	if err := k8s.Create(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, ns, "registry")
	await(t, "round Completed", func() (bool, error) {
		if getRound(t, ns, "registry").Status.Phase == sweepv1alpha1.RoundCompleted {
			return true, nil
		}
		advanceToNextVisits(t, ns, clk)
		return false, nil
	})
	checkRosterRound(t, ns, "registry")
}

// TestHTTPSourceErrorReachesTheJobWithTheJobExecutor: with visit Jobs, the
// registry's 503 message reaches the CollectionJob's Failed condition
// through the collector pod's termination message (only the
// Job's BackoffLimitExceeded did).
func TestHTTPSourceErrorReachesTheJobWithTheJobExecutor(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "registry closed for maintenance until 06:00")
	}))
	defer srv.Close()

	ns := newNamespace(t)
	b := testobjects.Building(ns, "b-503").WithLabels(street).Residents(10).Households(4).Obj()
	if err := k8s.Create(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	startFakeKubelet(t, ns, func(*batchv1.Job) kubeletAction { return runCollector })
	clk := clocktesting.NewFakeClock(time.Now())
	startManagerWith(t, ns, clk, nil, jobExecutor)
	tr := newRound(ns, "registry", clk.Now(), 1, street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	tr.Spec.Collector.Source = sweepv1alpha1.SourceHTTP
	tr.Spec.Collector.HTTP = &sweepv1alpha1.HTTPSource{URL: srv.URL, Timeout: &sweepv1alpha1.Duration{Duration: time.Second}}
	if err := k8s.Create(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, ns, "registry")
	name := jobName(t, ns, "registry", "b-503")
	await(t, "b-503 Failed", func() (bool, error) {
		if getJob(t, ns, name).Status.Phase == sweepv1alpha1.JobFailed {
			return true, nil
		}
		advanceToNextVisits(t, ns, clk)
		return false, nil
	})
	c := meta.FindStatusCondition(getJob(t, ns, name).Status.Conditions, sweepv1alpha1.ConditionFailed)
	want := "answered 503 Service Unavailable for building b-503 visit 1: registry closed for maintenance until 06:00"
	if c == nil || !strings.Contains(c.Message, "BackoffLimitExceeded") || !strings.Contains(c.Message, want) {
		t.Errorf("Failed condition %+v; want the Job's reason and the collector's %q", c, want)
	}
	await(t, "the Failed event", func() (bool, error) {
		return strings.Contains(jobEvents(t, ns, name)["Failed"], want), nil
	})
}

// TestHTTPSourceMissedReasonsThroughARound: a registry's missedReasons
// reach the CollectionJobs, the round and the metric, fitted to the
// roster; a building answered the old way, without them, counts unknown.
func TestHTTPSourceMissedReasonsThroughARound(t *testing.T) {
	answers := map[string]string{}
	for _, b := range reasonBuildings {
		var sampled, home int
		var missed, reasons []string
		for _, r := range b.rows {
			f := strings.Split(r, ",")
			var n, s, h int
			if _, err := fmt.Sscanf(f[1]+" "+f[2]+" "+f[3], "%d %d %d", &n, &s, &h); err != nil {
				t.Fatal(err)
			}
			sampled, home = sampled+s, home+h
			if s < n {
				missed = append(missed, `"`+f[0]+`"`)
				if f[4] != "" {
					reasons = append(reasons, fmt.Sprintf(`{"household":%q,"residents":%d,"reason":%q}`, f[0], n-s, f[4]))
				}
			}
		}
		answer := fmt.Sprintf(`{"building":%q,"sampled":%d,"homeVisited":%d,"missedHouseholds":[%s]`, b.name, sampled, home, strings.Join(missed, ","))
		if len(reasons) > 0 {
			answer += `,"missedReasons":[` + strings.Join(reasons, ",") + `]`
		}
		answers[b.name] = answer + "}"
	}
	if strings.Contains(answers["r-none"], "missedReasons") {
		t.Fatal("r-none must be answered the old way, without missedReasons")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(r.URL.Path, "/") // /v1/rounds/{round}/buildings/{building}/samples
		body, ok := answers[parts[len(parts)-2]]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, body)
	}))
	defer srv.Close()

	ns := newNamespace(t)
	createReasonBuildings(t, ns)
	addr, tune, exec := serveRoundMetrics(t, func(mgr ctrl.Manager) Executor { return NewLocalExecutor(mgr.GetClient(), 8, 0) })
	clk := clocktesting.NewFakeClock(time.Now())
	startManagerWith(t, ns, clk, tune, exec)
	tr := newRound(ns, "registry", clk.Now(), 3, street)
	tr.Spec.Visits = sweepv1alpha1.VisitPolicy{Max: 1}
	tr.Spec.Collector.Source = sweepv1alpha1.SourceHTTP
	tr.Spec.Collector.HTTP = &sweepv1alpha1.HTTPSource{URL: srv.URL}
	if err := k8s.Create(context.Background(), tr); err != nil {
		t.Fatal(err)
	}
	dumpOnFailure(t, ns, "registry")
	await(t, "round Completed", func() (bool, error) {
		if getRound(t, ns, "registry").Status.Phase == sweepv1alpha1.RoundCompleted {
			return true, nil
		}
		advanceToNextVisits(t, ns, clk)
		return false, nil
	})
	checkReasonRound(t, ns, "registry", addr)
}
