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

package lab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

var (
	swabAt   = time.Date(2026, 11, 26, 13, 40, 0, 0, time.UTC)
	resultAt = time.Date(2026, 11, 26, 18, 5, 0, 0, time.UTC)
	q        = Query{Namespace: "ns-1", Round: "r-1"}
)

// goodResults are one page: a negative and a positive pooled tube and a
// single tube of the positive one's retest.
var goodResults = []TubeResult{
	{Tube: "P-0001", Building: "b-1", Kind: Pooled, Positive: false, SwabTime: &swabAt, ResultTime: resultAt, Swabs: 10},
	{Tube: "P-0002", Building: "b-1", Kind: Pooled, Positive: true, SwabTime: &swabAt, ResultTime: resultAt, Swabs: 10,
		Households: []string{"2-1203", "2-1204", "3-0401"}},
	{Tube: "S-0001", Building: "b-1", Kind: Single, Positive: true, ResultTime: resultAt, Pool: "P-0002", Household: "2-1203"},
}

const goodPage = `{"results":[
 {"tube":"P-0001","building":"b-1","kind":"pooled","positive":false,"swabTime":"2026-11-26T21:40:00+08:00","resultTime":"2026-11-27T02:05:00+08:00","swabs":10},
 {"tube":"P-0002","building":"b-1","kind":"pooled","positive":true,"swabTime":"2026-11-26T13:40:00Z","resultTime":"2026-11-26T18:05:00Z","swabs":10,"households":["2-1203","2-1204","3-0401"]},
 {"tube":"S-0001","building":"b-1","kind":"single","positive":true,"resultTime":"2026-11-26T18:05:00Z","pool":"P-0002","household":"2-1203","comment":"unknown fields are ignored"}
],"next":"c-3","more":false,"lab":"unknown fields are ignored"}`

// labServer starts a test lab whose handler is h, and counts requests; h
// learns which request (1-based) it is answering.
func labServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, attempt int32)) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r, n.Add(1))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// fastSource retries quickly so that the tests do not wait on backoff.
func fastSource(url string, retries int) *HTTPSource {
	return &HTTPSource{URL: url, Timeout: time.Second, Retries: retries, Backoff: time.Millisecond}
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

// tokenFile writes token to a file, the way a Secret key is mounted.
func tokenFile(t *testing.T, token string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHTTPSourceReadsAPage(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, suffix, cursor string
	}{
		{name: "first page"},
		{name: "after a cursor", cursor: "c-0/x=="},
		{name: "base URL ends with slash", suffix: "/"},
		{name: "base URL with path prefix", prefix: "/lis", suffix: "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
				if r.Method != http.MethodGet {
					t.Errorf("method %s, want GET", r.Method)
				}
				if want := tc.prefix + "/v1/rounds/r-1/results"; r.URL.Path != want {
					t.Errorf("path %q, want %q", r.URL.Path, want)
				}
				wantQ := "limit=1000&namespace=ns-1"
				if tc.cursor != "" {
					wantQ = "after=" + strings.ReplaceAll(strings.ReplaceAll(tc.cursor, "/", "%2F"), "=", "%3D") + "&" + wantQ
				}
				if r.URL.RawQuery != wantQ {
					t.Errorf("query %q, want %q", r.URL.RawQuery, wantQ)
				}
				if got := r.Header.Get("Accept"); got != "application/json" {
					t.Errorf("Accept %q, want application/json", got)
				}
				if auth, has := r.Header["Authorization"]; has {
					t.Errorf("Authorization %q sent without a token", auth)
				}
				w.Header().Set("Content-Type", "application/json")
				_, _ = fmt.Fprint(w, goodPage)
			})
			page, err := fastSource(srv.URL+tc.prefix+tc.suffix, 4).Results(context.Background(), q, tc.cursor)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Results) != 3 || page.Next != "c-3" || page.More {
				t.Fatalf("page %+v, want 3 results, next c-3, no more", page)
			}
			for i, r := range page.Results {
				w := goodResults[i]
				if r.Tube != w.Tube || r.Kind != w.Kind || r.Positive != w.Positive || !r.ResultTime.Equal(w.ResultTime) ||
					r.Swabs != w.Swabs || !reflect.DeepEqual(r.Households, w.Households) || r.Pool != w.Pool || r.Household != w.Household {
					t.Errorf("result %d is %+v, want %+v", i+1, r, w)
				}
			}
			if d, ok := page.Results[0].Turnaround(); !ok || d != 4*time.Hour+25*time.Minute {
				t.Errorf("turnaround %s, %t; want 4h25m", d, ok)
			}
			if n.Load() != 1 {
				t.Errorf("%d requests, want 1", n.Load())
			}
		})
	}
}

// TestHTTPSourcePagesWithTheCursor reads a stream of 5 results in pages of
// 2, as the controller does: ask from the stored cursor while More.
func TestHTTPSourcePagesWithTheCursor(t *testing.T) {
	var stream []string
	for i := range 5 {
		stream = append(stream, fmt.Sprintf(`{"tube":"P-%d","building":"b-1","kind":"pooled","positive":false,"resultTime":"2026-11-26T18:05:00Z"}`, i))
	}
	var asked []string
	srv, _ := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		after := r.URL.Query().Get("after")
		asked = append(asked, after)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		start := 0
		if after != "" {
			start, _ = strconv.Atoi(strings.TrimPrefix(after, "c"))
		}
		end := min(start+limit, len(stream))
		next := ""
		if end > start {
			next = fmt.Sprintf(`,"next":"c%d"`, end)
		}
		_, _ = fmt.Fprintf(w, `{"results":[%s]%s,"more":%t}`, strings.Join(stream[start:end], ","), next, end < len(stream))
	})
	s := fastSource(srv.URL, 0)
	s.PageSize = 2
	var got []string
	cursor := ""
	for range 10 {
		page, err := s.Results(context.Background(), q, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Results {
			got = append(got, r.Tube)
		}
		cursor = page.Next
		if !page.More {
			break
		}
	}
	if want := []string{"P-0", "P-1", "P-2", "P-3", "P-4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("results %q, want %q", got, want)
	}
	if want := []string{"", "c2", "c4"}; !reflect.DeepEqual(asked, want) {
		t.Errorf("cursors asked %q, want %q", asked, want)
	}
	// The next poll finds nothing new and keeps the cursor.
	page, err := s.Results(context.Background(), q, cursor)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Results) != 0 || page.Next != "c5" || page.More {
		t.Errorf("poll at the end gave %+v, want no results and the cursor c5 kept", page)
	}
}

func TestHTTPSourceHangingLabTimesOutAndRetries(t *testing.T) {
	release := make(chan struct{})
	srv, n := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		// Never answers in time: waits until the client gives up.
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	s := fastSource(srv.URL, 2)
	s.Timeout = 50 * time.Millisecond
	_, err := s.Results(context.Background(), q, "")
	wantErr(t, err, "lab "+srv.URL+" unavailable after 3 attempts", "did not answer for round r-1 within the 50ms timeout")
	if n.Load() != 3 {
		t.Errorf("%d requests, want 3", n.Load())
	}
}

func TestHTTPSourceRetries5xxThenSucceeds(t *testing.T) {
	srv, n := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		switch attempt {
		case 1:
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case 2:
			http.Error(w, "oops", http.StatusInternalServerError)
		case 3:
			http.Error(w, "slow", http.StatusRequestTimeout)
		default:
			_, _ = fmt.Fprint(w, goodPage)
		}
	})
	page, err := fastSource(srv.URL, 4).Results(context.Background(), q, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Results) != 3 {
		t.Errorf("%d results, want 3", len(page.Results))
	}
	if n.Load() != 4 {
		t.Errorf("%d requests, want 4", n.Load())
	}
}

func TestHTTPSourcePersistent5xxGivesUpAfterRetries(t *testing.T) {
	srv, n := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		http.Error(w, "upstream down", http.StatusBadGateway)
	})
	_, err := fastSource(srv.URL, 3).Results(context.Background(), q, "")
	wantErr(t, err, "lab "+srv.URL+" unavailable after 4 attempts", "answered 502 Bad Gateway for round r-1: upstream down")
	if n.Load() != 4 {
		t.Errorf("%d requests, want Retries+1 = 4", n.Load())
	}
}

func TestHTTPSourceUnreachableIsRetried(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	_, err := fastSource(url, 1).Results(context.Background(), q, "")
	wantErr(t, err, "after 2 attempts", "could not reach lab "+url+" for round r-1")
}

func TestHTTPSource4xxIsNotRetried(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			srv, n := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
				// A careless lab echoing the credentials must not leak
				// them into the error.
				http.Error(w, "no such round; you sent "+r.Header.Get("Authorization")+"\n"+strings.Repeat("x", 500), code)
			})
			s := fastSource(srv.URL, 4)
			s.Options = HTTPOptions{TokenFile: tokenFile(t, "s3cret"), AllowedPrefixes: []string{srv.URL}}
			_, err := s.Results(context.Background(), q, "")
			wantErr(t, err, fmt.Sprintf("lab %s answered %d %s for round r-1: no such round; you sent Bearer [redacted]", srv.URL, code, http.StatusText(code)))
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
	srv, _ := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = fmt.Fprint(w, strings.Repeat("x", 197)+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	})
	s := fastSource(srv.URL, 0)
	s.Options = HTTPOptions{TokenFile: tokenFile(t, "s3cret-token"), AllowedPrefixes: []string{srv.URL + "/"}}
	_, err := s.Results(context.Background(), q, "")
	wantErr(t, err, "403 Forbidden")
	if strings.Contains(err.Error(), "s3c") {
		t.Errorf("error %q shows part of the token", err)
	}
}

// TestHTTPSourceTokenGoesOnlyUnderAllowedPrefixes: the round chooses the
// URL, the operator where its token may go.
func TestHTTPSourceTokenGoesOnlyUnderAllowedPrefixes(t *testing.T) {
	const token = "op-t0ken"
	var seen atomic.Value // the last Authorization header
	srv, n := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		seen.Store(r.Header.Get("Authorization"))
		_, _ = fmt.Fprint(w, goodPage)
	})
	file := tokenFile(t, token)
	for _, tc := range []struct {
		name     string
		url      string
		opts     HTTPOptions
		wantAuth string
		refused  []string
	}{
		{name: "under the prefix", url: srv.URL + "/lis/api", opts: HTTPOptions{TokenFile: file, AllowedPrefixes: []string{"https://other.example", srv.URL + "/lis/"}},
			wantAuth: "Bearer " + token},
		{name: "the prefix itself", url: srv.URL + "/lis", opts: HTTPOptions{TokenFile: file, AllowedPrefixes: []string{srv.URL + "/lis"}},
			wantAuth: "Bearer " + token},
		{name: "no token, no prefixes: any URL, no token", url: srv.URL, opts: HTTPOptions{}},
		{name: "prefixes without a token", url: srv.URL + "/lis", opts: HTTPOptions{AllowedPrefixes: []string{srv.URL + "/lis"}}},
		{name: "outside the prefix", url: srv.URL + "/elsewhere", opts: HTTPOptions{TokenFile: file, AllowedPrefixes: []string{srv.URL + "/lis"}},
			refused: []string{"lab URL " + srv.URL + "/elsewhere is refused: it is not under a lab URL prefix the operator allows (" + srv.URL + "/lis)", "--lab-url-prefix"}},
		{name: "a longer path is not under it", url: srv.URL + "/lis-evil", opts: HTTPOptions{TokenFile: file, AllowedPrefixes: []string{srv.URL + "/lis"}},
			refused: []string{"is refused: it is not under a lab URL prefix"}},
		{name: "climbing out with ..", url: srv.URL + "/lis/../admin", opts: HTTPOptions{TokenFile: file, AllowedPrefixes: []string{srv.URL + "/lis"}},
			refused: []string{`has a ".." path segment`}},
		{name: "climbing out with escaped ..", url: srv.URL + "/lis/%2e%2e/admin", opts: HTTPOptions{TokenFile: file, AllowedPrefixes: []string{srv.URL + "/lis"}},
			refused: []string{`has a ".." path segment`}},
		{name: "prefixes refuse URLs even without a token", url: srv.URL + "/elsewhere", opts: HTTPOptions{AllowedPrefixes: []string{srv.URL + "/lis"}},
			refused: []string{"is refused"}},
		{name: "a token without prefixes goes nowhere", url: srv.URL, opts: HTTPOptions{TokenFile: file},
			refused: []string{"the operator has a lab token but allows no lab URL prefix"}},
		{name: "user in the URL", url: strings.Replace(srv.URL, "://", "://user:pa55@", 1), opts: HTTPOptions{},
			refused: []string{"carries a user or password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := n.Load()
			seen.Store("")
			s := fastSource(tc.url, 0)
			s.Options = tc.opts
			_, err := s.Results(context.Background(), q, "")
			if tc.refused != nil {
				wantErr(t, err, tc.refused...)
				if n.Load() != before {
					t.Errorf("a refused URL was asked")
				}
				if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "pa55") {
					t.Errorf("error %q shows a secret", err)
				}
				if e := tc.opts.CheckURL(tc.url); e == nil || e.Error() != err.Error() {
					t.Errorf("CheckURL says %v, Results %v", e, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := seen.Load().(string); got != tc.wantAuth {
				t.Errorf("Authorization %q, want %q", got, tc.wantAuth)
			}
		})
	}
}

func TestHTTPOptionsPrefixMatching(t *testing.T) {
	o := HTTPOptions{AllowedPrefixes: []string{"https://LIS.harbin.example/api/", "http://10.0.0.7:8080"}}
	for u, want := range map[string]bool{
		"https://lis.harbin.example/api":            true,
		"https://lis.harbin.example:443/api/v2":     true,
		"https://lis.harbin.example/apiv2":          false,
		"https://lis.harbin.example":                false,
		"http://lis.harbin.example/api":             false, // scheme
		"https://lis.harbin.example.evil.com/api":   false,
		"https://evil.com/lis.harbin.example/api":   false,
		"https://lis.harbin.example@evil.com/api":   false, // a user, and another host
		"http://10.0.0.7:8080/x":                    true,
		"http://10.0.0.7/x":                         false, // port
		"https://lis.harbin.example/api/./../admin": false,
	} {
		if got := o.CheckURL(u) == nil; got != want {
			t.Errorf("CheckURL(%q) allows: %t, want %t (%v)", u, got, want, o.CheckURL(u))
		}
	}
}

func TestHTTPSourceRedirectOutsideThePrefixIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other, _ := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		elsewhere.Add(1)
		_, _ = fmt.Fprint(w, goodPage)
	})
	srv, _ := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/lis/v1/"):
			http.Redirect(w, r, "/outside"+r.URL.Path, http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/moved/v1/"):
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/inside/v1/"):
			http.Redirect(w, r, "/lis2"+strings.TrimPrefix(r.URL.RequestURI(), "/inside"), http.StatusFound)
		default:
			if r.Header.Get("Authorization") == "" {
				t.Errorf("redirect inside the prefixes lost the token")
			}
			_, _ = fmt.Fprint(w, goodPage)
		}
	})
	opts := HTTPOptions{TokenFile: tokenFile(t, "op-t0ken"), AllowedPrefixes: []string{srv.URL + "/lis", srv.URL + "/moved", srv.URL + "/inside", srv.URL + "/lis2"}}
	for _, path := range []string{"/lis", "/moved"} {
		s := fastSource(srv.URL+path, 2)
		s.Options = opts
		_, err := s.Results(context.Background(), q, "")
		wantErr(t, err, "redirected to a URL outside the lab URL prefixes the operator allows; not followed")
		if strings.Contains(err.Error(), "after") {
			t.Errorf("a refused redirect was retried: %v", err)
		}
	}
	if elsewhere.Load() != 0 {
		t.Errorf("the redirect outside the prefixes was followed")
	}
	s := fastSource(srv.URL+"/inside", 0)
	s.Options = opts
	if _, err := s.Results(context.Background(), q, ""); err != nil {
		t.Errorf("a redirect inside the prefixes: %v", err)
	}
}

func TestHTTPOptionsValidate(t *testing.T) {
	file := tokenFile(t, "op-t0ken")
	empty := tokenFile(t, "  ")
	for _, tc := range []struct {
		name string
		opts HTTPOptions
		want string
	}{
		{"nothing", HTTPOptions{}, ""},
		{"prefixes", HTTPOptions{AllowedPrefixes: []string{"https://lis.example/api"}}, ""},
		{"token and prefix", HTTPOptions{TokenFile: file, AllowedPrefixes: []string{"https://lis.example"}}, ""},
		{"token without prefix", HTTPOptions{TokenFile: file}, "--lab-token-file needs --lab-url-prefix"},
		{"bad prefix", HTTPOptions{AllowedPrefixes: []string{"lis.example"}}, "--lab-url-prefix: lab URL \"lis.example\" is not an http:// or https:// base URL"},
		{"prefix with a query", HTTPOptions{AllowedPrefixes: []string{"https://lis.example/?a=1"}}, "is not an http:// or https:// base URL without query"},
		{"missing token file", HTTPOptions{TokenFile: file + "-gone", AllowedPrefixes: []string{"https://lis.example"}}, "reading the lab token file"},
		{"empty token file", HTTPOptions{TokenFile: empty, AllowedPrefixes: []string{"https://lis.example"}}, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tc.want)
		})
	}
}

func TestHTTPSourceTokenFileIsReadOnEveryPoll(t *testing.T) {
	var auth atomic.Value
	srv, _ := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		auth.Store(r.Header.Get("Authorization"))
		_, _ = fmt.Fprint(w, goodPage)
	})
	file := tokenFile(t, "first")
	s := fastSource(srv.URL, 0)
	s.Options = HTTPOptions{TokenFile: file, AllowedPrefixes: []string{srv.URL}}
	for _, token := range []string{"first", "rotated"} {
		if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Results(context.Background(), q, ""); err != nil {
			t.Fatal(err)
		}
		if got := auth.Load(); got != "Bearer "+token {
			t.Errorf("Authorization %q, want Bearer %s", got, token)
		}
	}
	if err := os.WriteFile(file, []byte("two\nlines"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := s.Results(context.Background(), q, "")
	wantErr(t, err, "holds a character a bearer token cannot")
	if strings.Contains(err.Error(), "two") {
		t.Errorf("error %q shows the token file's content", err)
	}
}

func TestHTTPSourceRejectsMalformedPages(t *testing.T) {
	const ok = `"tube":"P-1","building":"b-1","kind":"pooled","resultTime":"2026-11-26T18:05:00Z"`
	const pos = `"tube":"P-1","building":"b-1","kind":"pooled","positive":true,"resultTime":"2026-11-26T18:05:00Z"`
	page := func(results ...string) string {
		return `{"results":[{` + strings.Join(results, "},{") + `}]}`
	}
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"not JSON", `<html>gateway</html>`, []string{"not a JSON object (not JSON, looks like an HTML or XML page, 20 bytes)"}},
		{"garbage", `{"results":[{"tube":`, []string{"not a JSON object (not JSON, 20 bytes)"}},
		{"JSON list", `[1,2]`, []string{"not a JSON object (JSON, a list, 5 bytes)"}},
		{"empty body", ``, []string{"not a JSON object (empty, 0 bytes)"}},
		{"missing results", `{"next":"c-1"}`, []string{`field "results": is missing`}},
		{"results is an object", `{"results":{}}`, []string{`field "results": is an object, want a list of results`}},
		{"result is a string", `{"results":["P-1"]}`, []string{`field "results": item 1 is a string, want an object`}},
		{"tube missing", page(`"building":"b-1","kind":"pooled","positive":false,"resultTime":"2026-11-26T18:05:00Z"`), []string{`item 1, field "tube": is missing`}},
		{"tube is a number", page(`"tube":7,"building":"b-1","kind":"pooled","positive":false`), []string{`item 1, field "tube": is a number, want a string`}},
		{"bad tube id", page(`"tube":"P 1","building":"b-1","kind":"pooled","positive":false,"resultTime":"2026-11-26T18:05:00Z"`), []string{`item 1, field "tube": is not a lab tube id`}},
		{"bad building", page(`"tube":"P-1","building":"B 1","kind":"pooled","positive":false,"resultTime":"2026-11-26T18:05:00Z"`), []string{`item 1 (tube P-1), field "building": is not a Building name`}},
		{"positive missing", page(ok), []string{`item 1 (tube P-1), field "positive": is missing`}},
		{"positive is a string", page(ok + `,"positive":"true"`), []string{`field "positive": is a string, want a boolean`}},
		{"kind unknown", page(`"tube":"P-1","building":"b-1","kind":"pool","positive":false,"resultTime":"2026-11-26T18:05:00Z"`), []string{`field "kind": is neither "pooled" nor "single"`}},
		{"resultTime missing", page(`"tube":"P-1","building":"b-1","kind":"pooled","positive":false`), []string{`field "resultTime": is missing`}},
		{"resultTime not RFC 3339", page(`"tube":"P-1","building":"b-1","kind":"pooled","positive":false,"resultTime":"2026-11-26 18:05"`), []string{`field "resultTime": is not an RFC 3339 time`}},
		{"swabTime after resultTime", page(ok + `,"positive":false,"swabTime":"2026-11-27T00:00:00Z"`), []string{`field "swabTime": is after resultTime`}},
		{"swabs is a string", page(pos + `,"swabs":"10","households":["1-0101"]`), []string{`field "swabs": is a string, want a whole number`}},
		{"swabs is a fraction", page(pos + `,"swabs":1.5,"households":["1-0101"]`), []string{`field "swabs": is not a whole number from 0 to 20`}},
		{"swabs too many", page(pos + `,"swabs":21,"households":["1-0101"]`), []string{`field "swabs": is not a whole number from 0 to 20`}},
		{"positive pool without swabs", page(pos + `,"households":["1-0101"]`), []string{`field "swabs": is 0 for a positive pooled tube, want 1 to 20`}},
		{"positive pool without households", page(pos + `,"swabs":5`), []string{`field "households": lists 0 households for a positive pooled tube of 5 swabs, want 1 to 5`}},
		{"more households than swabs", page(pos + `,"swabs":1,"households":["1-0101","1-0102"]`), []string{`lists 2 households for a positive pooled tube of 1 swabs, want 1 to 1`}},
		{"households is a string", page(pos + `,"swabs":5,"households":"1-0101"`), []string{`field "households": is a string, want a list of unit-room ids`}},
		{"household item a number", page(pos + `,"swabs":5,"households":["1-0101",7]`), []string{`field "households": item 2 is a number, want a string`}},
		{"bad household id", page(pos + `,"swabs":5,"households":["1-0101","2 单元 1203"]`), []string{`field "households": item 2 is not a unit-room id like "2-1203"`}},
		{"household repeated", page(pos + `,"swabs":5,"households":["1-0101","1-0101"]`), []string{`field "households": item 2 repeats item 1`}},
		{"single without pool", page(`"tube":"S-1","building":"b-1","kind":"single","positive":true,"resultTime":"2026-11-26T18:05:00Z","household":"1-0101"`), []string{`(tube S-1), field "pool": is not a lab tube id`}},
		{"single with a bad household", page(`"tube":"S-1","building":"b-1","kind":"single","positive":true,"resultTime":"2026-11-26T18:05:00Z","pool":"P-1","household":"1_0101"`), []string{`field "household": is not a unit-room id`}},
		{"the second result is bad", page(ok+`,"positive":false`, `"tube":"P-2"`), []string{`item 2 (tube P-2), field "building": is missing`}},
		{"more is a string", `{"results":[],"more":"yes"}`, []string{`field "more": is a string, want a boolean`}},
		{"next is a number", `{"results":[],"next":3}`, []string{`field "next": is a number, want a string`}},
		{"next with spaces", `{"results":[],"next":"a b"}`, []string{`field "next": is not a cursor`}},
		{"more without results", `{"results":[],"next":"c-9","more":true}`, []string{`field "more": is true for a page without results`}},
		{"more without next", `{"results":[{` + ok + `,"positive":false}],"more":true}`, []string{`field "next": is missing or the cursor asked with, while "more" is true`}},
		{"more results than the limit", `{"results":[` + strings.Repeat(`{},`, 1000) + `{}]}`, []string{`field "results": has 1001 results, more than the limit 1000 asked for`}},
		{"body over 4 MiB", `{"results":[],"pad":"` + strings.Repeat("x", 4<<20) + `"}`, []string{"larger than 4 MiB"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
				_, _ = fmt.Fprint(w, tc.body)
			})
			_, err := fastSource(srv.URL, 4).Results(context.Background(), q, "")
			wantErr(t, err, append(tc.want, "lab "+srv.URL+" sent a malformed page for round r-1: ")...)
			if n.Load() != 1 {
				t.Errorf("%d requests, want 1: a bad answer is not retried", n.Load())
			}
		})
	}
}

func TestHTTPSource429HonoursRetryAfter(t *testing.T) {
	srv, n := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		if attempt == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		_, _ = fmt.Fprint(w, goodPage)
	})
	start := time.Now()
	// Backoff alone would retry after 1ms; Retry-After asks for a second.
	page, err := fastSource(srv.URL, 4).Results(context.Background(), q, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Results) != 3 {
		t.Errorf("%d results, want 3", len(page.Results))
	}
	if n.Load() != 2 {
		t.Errorf("%d requests, want 2", n.Load())
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("retried after %s, want about the 1s of Retry-After", waited)
	}
}

func TestNewHTTPSourceDefaults(t *testing.T) {
	s := NewHTTPSource(&sweepv1alpha1.LabHTTP{URL: "https://lis.example", Timeout: sweepv1alpha1.NewDuration(7 * time.Second)}, HTTPOptions{})
	if s.URL != "https://lis.example" || s.Timeout != 7*time.Second || s.Retries != 4 || s.Backoff != 500*time.Millisecond {
		t.Errorf("source %+v", s)
	}
	if s := NewHTTPSource(&sweepv1alpha1.LabHTTP{URL: "https://lis.example"}, HTTPOptions{}); s.Timeout != 0 {
		t.Errorf("timeout %s without one in the spec, want 0 (30s)", s.Timeout)
	}
}

func TestHTTPSourceStopsWhenContextIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, n := labServer(t, func(w http.ResponseWriter, r *http.Request, attempt int32) {
		cancel() // the poll is called off while the lab is down
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	// An hour of backoff: only cancellation can end this quickly.
	s := fastSource(srv.URL, 4)
	s.Backoff = time.Hour
	_, err := s.Results(ctx, q, "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if n.Load() != 1 {
		t.Errorf("%d requests, want 1", n.Load())
	}
}

func TestHTTPSourceRejectsBadBaseURLAndCursor(t *testing.T) {
	for _, u := range []string{"ftp://lis", "lis.example", "https://lis/?x=1", "https://lis/#x", ""} {
		_, err := NewHTTPSource(&sweepv1alpha1.LabHTTP{URL: u}, HTTPOptions{}).Results(context.Background(), q, "")
		wantErr(t, err, "is not an http:// or https:// base URL")
	}
	_, err := NewHTTPSource(&sweepv1alpha1.LabHTTP{URL: "http://user:pa55@li s:x/"}, HTTPOptions{}).Results(context.Background(), q, "")
	wantErr(t, err, "lab URL cannot be parsed")
	if strings.Contains(err.Error(), "pa55") {
		t.Errorf("error %q shows the URL's password", err)
	}
	_, err = fastSource("https://lis.example", 0).Results(context.Background(), q, "a b")
	wantErr(t, err, "lab cursor for round r-1 is not one the lab could have sent")
}
