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
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const goodBody = `{"round":"r-1","building":"b-1","visit":2,"sampled":100,"homeVisited":7,"missedHouseholds":["2-1203","3-0401"]}`

// registry starts a test server whose handler is h, and counts requests;
// h learns which request (1-based) it is answering.
func registry(t *testing.T, h func(w http.ResponseWriter, r *http.Request, attempt int32)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, n.Add(1))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func httpAssignment(url string) Assignment {
	return Assignment{
		Namespace: "ns-1", Round: "r-1", Building: "b-1", Visit: 2, Expected: 120,
		Source: "http", HTTPURL: url, HTTPTimeout: time.Second,
	}
}

// fastSource retries quickly so the tests do not wait on backoff.
func fastSource(srv *httptest.Server, retries int) *HTTPSource {
	return &HTTPSource{Client: srv.Client(), Retries: retries, Backoff: time.Millisecond}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got none", parts)
	}
	t.Logf("error: %v", err)
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func TestHTTPSourceSuccess(t *testing.T) {
	for _, tc := range []struct {
		name, token, prefix, suffix string
	}{
		{name: "no token", prefix: ""},
		{name: "token", token: "s3cret", prefix: ""},
		{name: "base URL ends with slash", suffix: "/"},
		{name: "base URL with path prefix", prefix: "/registry", suffix: "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
				if r.Method != http.MethodGet {
					t.Errorf("method %s, want GET", r.Method)
				}
				if want := tc.prefix + "/v1/rounds/r-1/buildings/b-1/samples"; r.URL.Path != want {
					t.Errorf("path %q, want %q", r.URL.Path, want)
				}
				if q := r.URL.Query(); q.Get("namespace") != "ns-1" || q.Get("visit") != "2" || len(q) != 2 {
					t.Errorf("query %q, want namespace=ns-1&visit=2", r.URL.RawQuery)
				}
				if got := r.Header.Get("Accept"); got != "application/json" {
					t.Errorf("Accept %q, want application/json", got)
				}
				auth, has := r.Header["Authorization"]
				switch {
				case tc.token == "" && has:
					t.Errorf("Authorization %q sent without a token", auth)
				case tc.token != "" && r.Header.Get("Authorization") != "Bearer "+tc.token:
					t.Errorf("Authorization %q, want Bearer %s", r.Header.Get("Authorization"), tc.token)
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = fmt.Fprint(w, goodBody)
			})
			a := httpAssignment(srv.URL + tc.prefix + tc.suffix)
			a.HTTPToken = tc.token
			out, err := fastSource(srv, 4).Visit(context.Background(), a, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := Outcome{Sampled: 100, HomeVisited: 7, MissedHouseholds: []string{"2-1203", "3-0401"}}
			if !reflect.DeepEqual(out, want) {
				t.Errorf("outcome %+v, want %+v", out, want)
			}
			if n.Load() != 1 {
				t.Errorf("%d requests, want 1", n.Load())
			}
		})
	}
}

func TestHTTPSourceOptionalFieldsMayBeLeftOut(t *testing.T) {
	srv, _ := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		_, _ = fmt.Fprint(w, `{"sampled":0,"homeVisited":0,"comment":"unknown fields are ignored"}`)
	})
	out, err := fastSource(srv, 0).Visit(context.Background(), httpAssignment(srv.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, Outcome{}) {
		t.Errorf("outcome %+v, want zero", out)
	}
}

func TestHTTPSourceSlowServerTimesOutAndRetries(t *testing.T) {
	release := make(chan struct{})
	srv, n := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		// Never answers in time: waits until the client gives up.
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	a := httpAssignment(srv.URL)
	a.HTTPTimeout = 50 * time.Millisecond
	_, err := fastSource(srv, 2).Visit(context.Background(), a, nil)
	wantErr(t, err, "after 3 attempts", "within the 50ms timeout", "building b-1 visit 2")
	if n.Load() != 3 {
		t.Errorf("%d requests, want 3", n.Load())
	}
}

func TestHTTPSourceRetries5xxThenSucceeds(t *testing.T) {
	srv, n := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		switch attempt {
		case 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case 2:
			http.Error(w, "oops", http.StatusInternalServerError)
		default:
			_, _ = fmt.Fprint(w, goodBody)
		}
	})
	out, err := fastSource(srv, 4).Visit(context.Background(), httpAssignment(srv.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Sampled != 100 {
		t.Errorf("sampled %d, want 100", out.Sampled)
	}
	if n.Load() != 3 {
		t.Errorf("%d requests, want 3", n.Load())
	}
}

func TestHTTPSourcePersistent5xxGivesUpAfterRetries(t *testing.T) {
	srv, n := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		http.Error(w, "upstream down", http.StatusBadGateway)
	})
	_, err := fastSource(srv, 3).Visit(context.Background(), httpAssignment(srv.URL), nil)
	wantErr(t, err, "after 4 attempts", "502 Bad Gateway", "building b-1 visit 2", "upstream down")
	if n.Load() != 4 {
		t.Errorf("%d requests, want Retries+1 = 4", n.Load())
	}
}

func TestHTTPSourceUnreachableIsRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	_, err := (&HTTPSource{Retries: 1, Backoff: time.Millisecond}).Visit(context.Background(), httpAssignment(url), nil)
	wantErr(t, err, "after 2 attempts", "could not reach the sample registry")
}

func TestHTTPSource4xxIsNotRetried(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			srv, n := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
				// A careless server echoing the credentials must not leak
				// them into the error.
				http.Error(w, "no such building; you sent "+r.Header.Get("Authorization")+"\n"+strings.Repeat("x", 500), code)
			})
			a := httpAssignment(srv.URL)
			a.HTTPToken = "s3cret"
			_, err := fastSource(srv, 4).Visit(context.Background(), a, nil)
			wantErr(t, err, fmt.Sprintf("sample registry answered %d %s for building b-1 visit 2: no such building", code, http.StatusText(code)))
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q contains the token", err)
			}
			if strings.Contains(err.Error(), strings.Repeat("x", 200)) {
				t.Errorf("error %q quotes more than 200 bytes of the body", err)
			}
			if n.Load() != 1 {
				t.Errorf("%d requests, want 1", n.Load())
			}
		})
	}
}

func TestHTTPSourceErrorNeverShowsTheToken(t *testing.T) {
	// The echoed token straddles the 200-byte cut of the quoted body.
	srv, _ := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = fmt.Fprint(w, strings.Repeat("x", 197)+r.Header.Get("Authorization")[len("Bearer "):])
	})
	a := httpAssignment(srv.URL)
	a.HTTPToken = "s3cret-token"
	_, err := fastSource(srv, 0).Visit(context.Background(), a, nil)
	wantErr(t, err, "403 Forbidden")
	if strings.Contains(err.Error(), "s3c") {
		t.Errorf("error %q shows part of the token", err)
	}
}

func TestHTTPSourceMalformedBodiesAreRejected(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"not JSON", `<html>gateway</html>`, []string{"malformed body", "not a JSON object (not JSON, looks like an HTML or XML page, 20 bytes)"}},
		{"JSON list", `[1,2]`, []string{"malformed body", "not a JSON object (JSON, a list, 5 bytes)"}},
		{"missing sampled", `{"homeVisited":1}`, []string{"malformed body", `field "sampled": is missing`}},
		{"null sampled", `{"sampled":null,"homeVisited":1}`, []string{`field "sampled": is missing`}},
		{"missing homeVisited", `{"sampled":1}`, []string{`field "homeVisited": is missing`}},
		{"sampled is a string", `{"sampled":"12","homeVisited":1}`, []string{`field "sampled": is a string, want a whole number`}},
		{"sampled is a fraction", `{"sampled":1.5,"homeVisited":1}`, []string{`field "sampled": is not a whole number`}},
		{"negative sampled", `{"sampled":-3,"homeVisited":0}`, []string{`field "sampled": is negative`}},
		{"negative homeVisited", `{"sampled":3,"homeVisited":-1}`, []string{`field "homeVisited": is negative`}},
		{"huge sampled", `{"sampled":99999999999,"homeVisited":0}`, []string{`field "sampled": is too large`}},
		{"visit is a boolean", `{"sampled":3,"homeVisited":0,"visit":true}`, []string{`field "visit": is a boolean`}},
		{"homeVisited more than sampled", `{"sampled":10,"homeVisited":11}`, []string{"does not add up", "homeVisited 11 is more than sampled 10"}},
		{"wrong building", `{"building":"b-9","sampled":1,"homeVisited":0}`, []string{`field "building": answer is for building "b-9", not "b-1"`}},
		{"wrong round", `{"round":"r-0","sampled":1,"homeVisited":0}`, []string{`field "round": answer is for round "r-0", not "r-1"`}},
		{"building is a number", `{"building":7,"sampled":1,"homeVisited":0}`, []string{`field "building": is a number, want a string`}},
		{"missedHouseholds not a list", `{"sampled":1,"homeVisited":0,"missedHouseholds":"2-1203"}`, []string{`field "missedHouseholds": is a string, want a list of strings`}},
		{"missedHouseholds item not a string", `{"sampled":1,"homeVisited":0,"missedHouseholds":["2-1203",7]}`, []string{`field "missedHouseholds": item 2 is a number`}},
		{"missedHouseholds bad id", `{"sampled":1,"homeVisited":0,"missedHouseholds":["2 单元 1203"]}`, []string{`item 1 is not a unit-room id`}},
		{"body over 1 MiB", `{"sampled":1,"homeVisited":0,"pad":"` + strings.Repeat("x", 1<<20) + `"}`, []string{"larger than 1 MiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
				_, _ = fmt.Fprint(w, tc.body)
			})
			_, err := fastSource(srv, 4).Visit(context.Background(), httpAssignment(srv.URL), nil)
			wantErr(t, err, append(tc.want, "building b-1 visit 2")...)
			if n.Load() != 1 {
				t.Errorf("%d requests, want 1: a bad answer is not retried", n.Load())
			}
		})
	}
}

func TestHTTPSource429HonoursRetryAfter(t *testing.T) {
	srv, n := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		if attempt == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		_, _ = fmt.Fprint(w, goodBody)
	})
	start := time.Now()
	// Backoff alone would retry after 1ms; Retry-After asks for a second.
	out, err := fastSource(srv, 4).Visit(context.Background(), httpAssignment(srv.URL), nil)
	if err != nil {
		t.Fatal(err)
	}
	if out.Sampled != 100 {
		t.Errorf("sampled %d, want 100", out.Sampled)
	}
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2", n.Load())
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("retried after %s, want about the 1s of Retry-After", waited)
	}
}

func TestNewHTTPSourceDefaults(t *testing.T) {
	s := NewHTTPSource()
	if s.Retries != 4 || s.Backoff != 500*time.Millisecond {
		t.Errorf("defaults %d retries, %s backoff; want 4 and 500ms", s.Retries, s.Backoff)
	}
}

func TestHTTPSourceStopsWhenContextIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, n := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		cancel() // the visit is called off while the registry is down
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	// An hour of backoff: only cancellation can end this quickly.
	s := &HTTPSource{Client: srv.Client(), Retries: 4, Backoff: time.Hour}
	_, err := s.Visit(ctx, httpAssignment(srv.URL), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
}

func TestHTTPSourceRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"ftp://registry", "registry.example", "https://registry/?x=1", "ftp://user:pa55@registry"} {
		_, err := NewHTTPSource().Visit(context.Background(), httpAssignment(u), nil)
		wantErr(t, err, "is not an http:// or https:// base URL")
		if strings.Contains(err.Error(), "pa55") {
			t.Errorf("error %q shows the URL's password", err)
		}
	}
	_, err := NewHTTPSource().Visit(context.Background(), httpAssignment("http://user:pa55@reg istry:x/"), nil)
	wantErr(t, err, "sample registry URL cannot be parsed")
	if strings.Contains(err.Error(), "pa55") {
		t.Errorf("error %q shows the URL's password", err)
	}
}

// A retest visit asks for the pooled tube's retest only (&retest=), and
// the knock list keeps only the tube's households (docs/collector-api.md,
// "Retests").
func TestHTTPSourceRetest(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       Outcome
		errParts   []string
	}{
		{name: "answer for the tube",
			body: `{"round":"r-1","building":"b-1","retest":"P-0042","visit":1,"sampled":3,"homeVisited":0,"missedHouseholds":["2-1204"]}`,
			want: Outcome{Sampled: 3, MissedHouseholds: []string{"2-1204"}}},
		{name: "retest not echoed",
			body: `{"sampled":5,"homeVisited":0}`,
			want: Outcome{Sampled: 5}},
		{name: "households outside the tube are left off the knock list, counts kept",
			body: `{"sampled":2,"homeVisited":0,"missedHouseholds":["9-0901","2-1203","1-0101","3-0401"]}`,
			want: Outcome{Sampled: 2, MissedHouseholds: []string{"2-1203", "3-0401"}}},
		{name: "only households outside the tube",
			body: `{"sampled":4,"homeVisited":0,"missedHouseholds":["9-0901"]}`,
			want: Outcome{Sampled: 4}},
		{name: "another tube",
			body:     `{"retest":"P-0043","sampled":5,"homeVisited":0}`,
			errParts: []string{"malformed body", `field "retest": answer is for another tube, not "P-0042"`}},
		{name: "not an id is still malformed",
			body:     `{"sampled":1,"homeVisited":0,"missedHouseholds":["ZHANG Canary-Wei"]}`,
			errParts: []string{"malformed body", `"missedHouseholds": item 1 is not a unit-room id`}},
		{name: "retest not a string",
			body:     `{"retest":13800138000,"sampled":1,"homeVisited":0}`,
			errParts: []string{"malformed body", `field "retest": is a number, want a string`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
				q := r.URL.Query()
				if q.Get("retest") != "P-0042" || q.Get("namespace") != "ns-1" || q.Get("visit") != "1" || len(q) != 3 {
					t.Errorf("query %q, want namespace=ns-1&retest=P-0042&visit=1", r.URL.RawQuery)
				}
				if want := "/v1/rounds/r-1/buildings/b-1/samples"; r.URL.Path != want {
					t.Errorf("path %q, want %q", r.URL.Path, want)
				}
				_, _ = fmt.Fprint(w, tc.body)
			})
			a := httpAssignment(srv.URL)
			a.Visit, a.Expected, a.PoolSize = 1, 5, 1
			a.Retest, a.RetestHouseholds = "P-0042", []string{"2-1203", "2-1204", "3-0401"}
			out, err := fastSource(srv, 0).Visit(context.Background(), a, nil)
			if tc.errParts != nil {
				wantErr(t, err, tc.errParts...)
				checkError(t, err, []byte(tc.body), "malformed body")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(out, tc.want) {
				t.Errorf("outcome %+v, want %+v", out, tc.want)
			}
			checkOutcome(t, out, a)
		})
	}
}

// A sweep visit sends no retest parameter, and refuses an answer about a
// retest: counting one tube's retest as the building's sweep would be wrong.
func TestHTTPSourceSweepRefusesARetestAnswer(t *testing.T) {
	srv, _ := registry(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		if _, has := r.URL.Query()["retest"]; has {
			t.Errorf("a sweep visit asked %q", r.URL.RawQuery)
		}
		_, _ = fmt.Fprint(w, `{"retest":"P-0042","sampled":5,"homeVisited":0}`)
	})
	_, err := fastSource(srv, 0).Visit(context.Background(), httpAssignment(srv.URL), nil)
	wantErr(t, err, `field "retest": answer is for a retest, not the sweep asked for`)
}
