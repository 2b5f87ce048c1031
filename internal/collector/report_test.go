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

package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// apiServer stands in for the API server at addr: it answers the n-th
// request (from 1) with the status code answer(n), and a GET of the
// CollectionJob with getAnswer(n) when that is set. Any other request (a
// discovery request) is answered 500 and recorded in unexpected.
type apiServer struct {
	requests   atomic.Int32
	answer     func(n int32) int
	getAnswer  func(n int32) int
	mu         sync.Mutex
	unexpected []string
}

const (
	reportPath = "/apis/sweep.masstesting.io/v1alpha1/namespaces/ns-1/collectionjobs/cj-1/status"
	jobPath    = "/apis/sweep.masstesting.io/v1alpha1/namespaces/ns-1/collectionjobs/cj-1"
)

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	_, _ = io.Copy(io.Discard, r.Body)
	code := s.answer(n)
	switch {
	case r.Method == http.MethodPatch && r.URL.Path == reportPath:
	case r.Method == http.MethodGet && r.URL.Path == jobPath && s.getAnswer != nil:
		code = s.getAnswer(n)
	default:
		s.mu.Lock()
		s.unexpected = append(s.unexpected, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		code = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if code == http.StatusOK {
		_, _ = fmt.Fprint(w, `{"apiVersion":"sweep.masstesting.io/v1alpha1","kind":"CollectionJob","metadata":{"name":"cj-1","namespace":"ns-1"}}`)
		return
	}
	_, _ = fmt.Fprintf(w, `{"apiVersion":"v1","kind":"Status","status":"Failure","code":%d,"reason":%q,"message":"answered %d"}`,
		code, http.StatusText(code), code)
}

// serve runs h on a free local port until the test ends and returns its
// address.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(l) }()
	t.Cleanup(func() { _ = hs.Close() })
	return l.Addr().String()
}

// reporterTo returns a StatusReporter whose client talks to addr, and a
// counter of the connections it tried to open (refused ones included).
func reporterTo(t *testing.T, addr string) (StatusReporter, *atomic.Int32) {
	t.Helper()
	dials := &atomic.Int32{}
	cfg := &rest.Config{Host: "http://" + addr, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, address)
	}}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return StatusReporter{Client: c}, dials
}

var reportAssignment = Assignment{Namespace: "ns-1", Round: "r-1", Building: "b-1", CollectionJob: "cj-1", Visit: 1, Expected: 10}

// TestFinalReportSurvivesAnOutage: the API server refuses connections, then
// answers 503 while it starts, then takes the report. The final report gets
// through (it used to be retried for 0.3 s, and never on a
// refused connection).
func TestFinalReportSurvivesAnOutage(t *testing.T) {
	// A port nobody listens on: connections are refused until the server
	// starts on it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	rep, dials := reporterTo(t, addr)

	done := make(chan error, 1)
	go func() { done <- rep.Report(context.Background(), reportAssignment, Outcome{Sampled: 10}, true) }()

	await := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !cond() {
			select {
			case err := <-done:
				t.Fatalf("the report ended (%v) while waiting for %s", err, what)
			case <-time.After(10 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
		}
	}
	await("three refused connections", func() bool { return dials.Load() >= 3 })

	srv := &apiServer{answer: func(n int32) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	}}
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening on %s again: %v", addr, err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(l) }()
	defer func() { _ = hs.Close() }()

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the final report failed: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the final report was not written within a minute of the API server's return")
	}
	if n := srv.requests.Load(); n != 3 {
		t.Errorf("the API server got %d requests, want 3 (two 503s, then the report)", n)
	}
	if len(srv.unexpected) > 0 {
		t.Errorf("requests other than the report: %v (the collector asks no discovery)", srv.unexpected)
	}
}

// TestFinalReportRefusedWhileTheAPIServerWarmsUp: an API server that has
// just started refuses every request (403: its RBAC caches are not loaded
// yet; 401: nor its token caches), reads included, before it answers as
// usual. The refusals are no verdict on the report, which gets through.
func TestFinalReportRefusedWhileTheAPIServerWarmsUp(t *testing.T) {
	for _, code := range []int{http.StatusForbidden, http.StatusUnauthorized} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			warm := func(n int32) int {
				if n <= 4 {
					return code
				}
				return http.StatusOK
			}
			srv := &apiServer{answer: warm, getAnswer: warm}
			rep, _ := reporterTo(t, serve(t, srv))
			if err := rep.Report(context.Background(), reportAssignment, Outcome{Sampled: 10}, true); err != nil {
				t.Fatalf("the final report failed: %v", err)
			}
			if len(srv.unexpected) > 0 {
				t.Errorf("requests other than the report and its reads: %v", srv.unexpected)
			}
		})
	}
}

// TestFinalReportPermanentErrorsAreNotRetried: a refusal that stays true
// (forbidden, gone, invalid) from an API server that lets the
// CollectionJob be read ends the report at once. A job that is gone is
// read too: it is not found.
func TestFinalReportPermanentErrorsAreNotRetried(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			read := http.StatusOK
			if code == http.StatusNotFound {
				read = code
			}
			srv := &apiServer{answer: func(int32) int { return code }, getAnswer: func(int32) int { return read }}
			rep, _ := reporterTo(t, serve(t, srv))
			err := rep.Report(context.Background(), reportAssignment, Outcome{Sampled: 10}, true)
			wantErr(t, err, "reporting visit 1 of ns-1/cj-1", fmt.Sprintf("answered %d", code))
			if n := srv.requests.Load(); n != 2 {
				t.Errorf("%d requests, want 2 (the refused report and one read): a permanent error is not retried", n)
			}
			if len(srv.unexpected) > 0 {
				t.Errorf("requests other than the report and its read: %v", srv.unexpected)
			}
		})
	}
}

// TestFinalReportGivesUpAtItsBound: an API server that never comes back
// ends the report after FinalTimeout, with the last error.
func TestFinalReportGivesUpAtItsBound(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	rep, dials := reporterTo(t, addr)
	rep.FinalTimeout = 500 * time.Millisecond
	start := time.Now()
	err = rep.Report(context.Background(), reportAssignment, Outcome{Sampled: 10}, true)
	wantErr(t, err, "reporting visit 1 of ns-1/cj-1: gave up after", "connection refused")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("gave up after %s, want about the 500ms bound", took)
	}
	if dials.Load() < 2 {
		t.Errorf("%d connections tried, want retries", dials.Load())
	}
}

// lostAnswerServer stands in for an API server that writes the first final
// report but whose answer is lost (504), then refuses the next try (403: the
// operator finished the visit on the written report). A GET answers with
// the report it stored, or with stored when set.
type lostAnswerServer struct {
	patches atomic.Int32
	report  atomic.Value // json of the first report written
	stored  string       // when set, the report a GET answers instead
}

func (s *lostAnswerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	fail := func(code int) {
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, `{"apiVersion":"v1","kind":"Status","status":"Failure","code":%d,"reason":%q,"message":"answered %d"}`,
			code, http.StatusText(code), code)
	}
	if r.Method == http.MethodGet {
		report, _ := s.report.Load().(string)
		if s.stored != "" {
			report = s.stored
		}
		_, _ = fmt.Fprintf(w, `{"apiVersion":"sweep.masstesting.io/v1alpha1","kind":"CollectionJob","metadata":{"name":"cj-1","namespace":"ns-1"},"status":{"report":%s}}`, report)
		return
	}
	if s.patches.Add(1) == 1 {
		var applied struct {
			Status struct {
				Report json.RawMessage `json:"report"`
			} `json:"status"`
		}
		if err := json.Unmarshal(body, &applied); err != nil {
			fail(http.StatusBadRequest)
			return
		}
		s.report.Store(string(applied.Status.Report))
		fail(http.StatusGatewayTimeout)
		return
	}
	fail(http.StatusForbidden)
}

// TestFinalReportWrittenButItsAnswerLost: the first try of a final report
// is written but its answer lost, and the next try is refused because the
// operator already finished the visit on it. The report is in, so the
// visit did not fail; a refusal with another report stored stays an error.
func TestFinalReportWrittenButItsAnswerLost(t *testing.T) {
	for _, tc := range []struct {
		name, stored string
		wantErr      bool
	}{
		{name: "its own report stored"},
		{name: "another visit's report stored", stored: `{"visit":2,"final":true,"time":"2026-11-27T02:05:00Z"}`, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &lostAnswerServer{stored: tc.stored}
			rep, _ := reporterTo(t, serve(t, srv))
			err := rep.Report(context.Background(), reportAssignment, Outcome{Sampled: 7, MissedHouseholds: []string{"2-1203"}}, true)
			if tc.wantErr {
				wantErr(t, err, "reporting visit 1 of ns-1/cj-1", "answered 403")
			} else if err != nil {
				t.Fatalf("the final report failed although it was written: %v", err)
			}
			if n := srv.patches.Load(); n != 2 {
				t.Errorf("%d applies, want 2 (the lost answer, then the refusal)", n)
			}
		})
	}
}
