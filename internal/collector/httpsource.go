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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/httpretry"
	"github.com/masstesting/sweep/internal/untrusted"
)

// HTTPSource asks a city's sample-registration system who has been sampled
// in a building, through the API in docs/collector-api.md:
//
//	GET {url}/v1/rounds/{round}/buildings/{building}/samples?namespace=..&visit=..
//
// The answer is cumulative for the round, so a visit only has to look it up.
// A retest visit adds &retest={tube}: the answer is then the pooled tube's
// single-tube retest only, and missed households that are not the tube's
// are left off the knock list. A mop-up visit adds &mopUpOf={earlier
// round}: the round asked about is the mop-up round, and missed households
// the earlier round did not miss are left off the same way.
type HTTPSource struct {
	// Client makes the requests; nil means http.DefaultClient. Timeouts come
	// from the assignment, per request, not from the client.
	Client *http.Client
	// Retries is how many times a failed request is tried again (network
	// error, timeout, 408, 429 or 5xx); 0 means one attempt only.
	Retries int
	// Backoff is the wait before the first retry; it doubles on each retry
	// up to httpretry.MaxBackoff. 0 means the default, 500ms.
	Backoff time.Duration
}

const (
	httpDefaultRetries = 4
	httpDefaultTimeout = 30 * time.Second
	// httpMaxBody bounds what is read from the registry: an answer for one
	// building is small, and a runaway body must not exhaust the pod.
	httpMaxBody = 1 << 20
)

// NewHTTPSource returns an HTTPSource with the defaults: 4 retries, 500ms
// first backoff doubling up to 10s.
func NewHTTPSource() *HTTPSource {
	return &HTTPSource{Client: http.DefaultClient, Retries: httpDefaultRetries, Backoff: httpretry.DefaultBackoff}
}

// Visit looks up the building's outcome for the round so far. progress is
// not called: one lookup has nothing interim to say.
func (s *HTTPSource) Visit(ctx context.Context, a Assignment, _ func(Outcome)) (Outcome, error) {
	target, err := samplesURL(a)
	if err != nil {
		return Outcome{}, err
	}
	var out Outcome
	err = httpretry.Do(ctx, max(s.Retries, 0)+1, s.Backoff, func(ctx context.Context) error {
		var err error
		out, err = s.get(ctx, a, target)
		return err
	})
	if err != nil {
		return Outcome{}, httpretry.Explain(err, "sample registry",
			fmt.Sprintf("sample registry lookup for building %s visit %d", a.Building, a.Visit))
	}
	return out, nil
}

// samplesURL builds the request URL. The base may carry a path prefix and
// may or may not end with a slash; the names are path-escaped.
func samplesURL(a Assignment) (string, error) {
	u, err := url.Parse(a.HTTPURL)
	if err != nil {
		// url.Parse's error quotes the URL, which may hold a password.
		return "", errors.New("sample registry URL cannot be parsed")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("sample registry URL %q is not an http:// or https:// base URL without query", u.Redacted())
	}
	q := url.Values{}
	q.Set("namespace", a.Namespace)
	q.Set("visit", strconv.Itoa(int(a.Visit)))
	if a.Retest != "" {
		q.Set("retest", a.Retest)
	}
	if a.MopUpOf != "" {
		q.Set("mopUpOf", a.MopUpOf)
	}
	return strings.TrimRight(a.HTTPURL, "/") +
		"/v1/rounds/" + url.PathEscape(a.Round) +
		"/buildings/" + url.PathEscape(a.Building) +
		"/samples?" + q.Encode(), nil
}

// get makes one attempt. Failures worth retrying come back as
// *httpretry.Error; everything else is final.
func (s *HTTPSource) get(ctx context.Context, a Assignment, target string) (Outcome, error) {
	timeout := a.HTTPTimeout
	if timeout <= 0 {
		timeout = httpDefaultTimeout
	}
	// The timeout covers reading the body too, so it lives in the context
	// rather than ending with Do.
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(actx, http.MethodGet, target, nil)
	if err != nil {
		return Outcome{}, fmt.Errorf("sample registry request for building %s: %w", a.Building, err)
	}
	req.Header.Set("Accept", "application/json")
	if a.HTTPToken != "" {
		req.Header.Set("Authorization", "Bearer "+a.HTTPToken)
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}

	resp, err := client.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, httpMaxBody+1))
		_ = resp.Body.Close()
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			// The caller gave up; trying again would be pointless.
			return Outcome{}, fmt.Errorf("sample registry lookup for building %s visit %d: %w", a.Building, a.Visit, ctx.Err())
		case actx.Err() != nil:
			return Outcome{}, &httpretry.Error{Err: fmt.Errorf(
				"sample registry did not answer for building %s visit %d within the %s timeout", a.Building, a.Visit, timeout)}
		}
		// url.Error repeats the method and URL; the cause is what matters.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return Outcome{}, &httpretry.Error{Err: fmt.Errorf(
			"could not reach the sample registry for building %s visit %d: %v", a.Building, a.Visit, err)}
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := fmt.Errorf("sample registry answered %s for building %s visit %d: %s",
			resp.Status, a.Building, a.Visit, untrusted.Snippet(body, a.HTTPToken))
		code := resp.StatusCode
		if code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500 {
			return Outcome{}, &httpretry.Error{Err: err, After: httpretry.RetryAfter(resp.Header.Get("Retry-After"))}
		}
		return Outcome{}, err
	}
	if len(body) > httpMaxBody {
		return Outcome{}, fmt.Errorf("sample registry sent a malformed body for building %s visit %d: larger than 1 MiB",
			a.Building, a.Visit)
	}
	return parseSamples(body, a)
}

// parseSamples checks a 200 answer field by field, so that an error names
// the field at fault, and checks that it is about the building asked for
// and adds up. Unknown fields are ignored so the registry can add some.
func parseSamples(body []byte, a Assignment) (Outcome, error) {
	malformed := func(format string, args ...any) error {
		return fmt.Errorf("sample registry sent a malformed body for building %s visit %d: %s",
			a.Building, a.Visit, fmt.Sprintf(format, args...))
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		// Described, not quoted: a 200 answer's body is the registry's
		// data and may be about residents (the fuzzer found a phone
		// number sent as a bare JSON number echoed here).
		return Outcome{}, malformed("not a JSON object (%s, %d bytes)", untrusted.DescribeBody(body), len(body))
	}

	count := func(name string, required bool) (int32, error) {
		raw, ok := fields[name]
		if !ok || untrusted.IsNull(raw) {
			if required {
				return 0, malformed("field %q: is missing", name)
			}
			return 0, nil
		}
		// The value itself is not repeated: a misplaced field may carry a
		// resident's phone number.
		n, problem := wholeNumber(raw)
		if problem != "" {
			return 0, malformed("field %q: %s", name, problem)
		}
		return n, nil
	}
	text := func(name string) (string, error) {
		raw, ok := fields[name]
		if !ok || untrusted.IsNull(raw) {
			return "", nil
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			return "", malformed("field %q: is %s, want a string", name, untrusted.JSONKind(raw))
		}
		return v, nil
	}

	var out Outcome
	var err error
	if out.Sampled, err = count("sampled", true); err != nil {
		return Outcome{}, err
	}
	if out.HomeVisited, err = count("homeVisited", true); err != nil {
		return Outcome{}, err
	}
	if _, err = count("visit", false); err != nil {
		return Outcome{}, err
	}
	// An answer about another building or round would be recorded against
	// the wrong one; a misrouted proxy or a cache can do that. So would a
	// retest's answer taken for the sweep's, or another tube's.
	for _, f := range []struct{ name, want string }{{"round", a.Round}, {"building", a.Building}} {
		got, err := text(f.name)
		if err != nil {
			return Outcome{}, err
		}
		if got != "" && got != f.want {
			return Outcome{}, malformed("field %q: answer is for %s %q, not %q", f.name, f.name, got, f.want)
		}
	}
	switch tube, err := text("retest"); {
	case err != nil:
		return Outcome{}, err
	case tube != "" && a.Retest == "":
		// Not quoted: the field was not asked for, so nothing says it
		// holds a tube id.
		return Outcome{}, malformed("field \"retest\": answer is for a retest, not the sweep asked for")
	case tube != "" && tube != a.Retest:
		return Outcome{}, malformed("field \"retest\": answer is for another tube, not %q", a.Retest)
	}
	if raw, ok := fields["missedHouseholds"]; ok && !untrusted.IsNull(raw) {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return Outcome{}, malformed("field \"missedHouseholds\": is %s, want a list of strings", untrusted.JSONKind(raw))
		}
		for i, item := range items {
			var id string
			if err := json.Unmarshal(item, &id); err != nil {
				return Outcome{}, malformed("field \"missedHouseholds\": item %d is %s, want a string", i+1, untrusted.JSONKind(item))
			}
			// The CollectionJob status only takes ids of this shape; a bad one
			// would get the whole report rejected later, far from the cause.
			if !isHouseholdID(id) {
				// Not repeated: it may be a resident's name.
				return Outcome{}, malformed("field \"missedHouseholds\": item %d is not a unit-room id like \"2-1203\"", i+1)
			}
			if !a.Knocks(id) {
				// A retest knocks only the tube's households, a mop-up
				// only those the earlier round missed. Another household
				// is the registry's business (a resident swabbed under the
				// wrong tube, or found in the earlier round), not a door
				// for this team: left off, like the households ReportFor
				// drops once nobody is outstanding (docs/collector-api.md,
				// "Retests" and "Mop-up rounds").
				continue
			}
			out.MissedHouseholds = append(out.MissedHouseholds, id)
		}
	}

	if raw, ok := fields["missedReasons"]; ok && !untrusted.IsNull(raw) {
		if out.Missed, err = parseMissedReasons(raw, a, malformed); err != nil {
			return Outcome{}, err
		}
	}

	// sampled may exceed the residents expected: the registry knows
	// everyone registered, the roster may not (ReportFor counts the surplus
	// as extraSampled).
	if out.HomeVisited > out.Sampled {
		return Outcome{}, fmt.Errorf("sample registry answer for building %s visit %d does not add up: homeVisited %d is more than sampled %d",
			a.Building, a.Visit, out.HomeVisited, out.Sampled)
	}
	return out, nil
}

// parseMissedReasons checks the optional missedReasons field: a list of
// {"household", "residents", "reason"} objects, each household once, each
// reason from the fixed list. Values are never repeated in an error, except
// a household id that passed its check: a reason field may be a free-text
// note with a resident's name in it.
func parseMissedReasons(raw json.RawMessage, a Assignment, malformed func(string, ...any) error) ([]HouseholdMissed, error) {
	const field = "missedReasons"
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, malformed("field %q: is %s, want a list of objects", field, untrusted.JSONKind(raw))
	}
	var out []HouseholdMissed
	seen := map[string]int{}
	for i, item := range items {
		n := i + 1
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(item, &obj); err != nil || obj == nil {
			return nil, malformed("field %q: item %d is %s, want an object", field, n, untrusted.JSONKind(item))
		}
		var id string
		switch v, ok := obj["household"]; {
		case !ok || untrusted.IsNull(v):
			return nil, malformed("field %q: item %d: \"household\" is missing", field, n)
		case json.Unmarshal(v, &id) != nil:
			return nil, malformed("field %q: item %d: \"household\" is %s, want a string", field, n, untrusted.JSONKind(v))
		case !isHouseholdID(id):
			return nil, malformed("field %q: item %d: \"household\" is not a unit-room id like \"2-1203\"", field, n)
		}
		if first, dup := seen[id]; dup {
			return nil, malformed("field %q: item %d: household %q is already item %d", field, n, id, first)
		}
		seen[id] = n
		v, ok := obj["residents"]
		if !ok || untrusted.IsNull(v) {
			return nil, malformed("field %q: item %d: \"residents\" is missing", field, n)
		}
		residents, problem := wholeNumber(v)
		if problem != "" {
			return nil, malformed("field %q: item %d: \"residents\" %s", field, n, problem)
		}
		var reason string
		switch v, ok := obj["reason"]; {
		case !ok || untrusted.IsNull(v):
			return nil, malformed("field %q: item %d: \"reason\" is missing", field, n)
		case json.Unmarshal(v, &reason) != nil:
			return nil, malformed("field %q: item %d: \"reason\" is %s, want a string", field, n, untrusted.JSONKind(v))
		case !sweepv1alpha1.MissedReason(reason).Valid():
			return nil, malformed("field %q: item %d: \"reason\" is not one of %s", field, n, reasonList)
		}
		if residents == 0 {
			// Checked but not used, like a csv row's reason where
			// nobody is missed: nobody there is to knock for.
			continue
		}
		if !a.Knocks(id) {
			// Not the tube's (or not missed by the round a mop-up
			// follows up): neither knocked nor counted, like its
			// missedHouseholds ids.
			continue
		}
		out = append(out, HouseholdMissed{Household: id, Residents: residents, Reason: sweepv1alpha1.MissedReason(reason)})
	}
	return out, nil
}

// reasonList names the reasons a source may send, for error messages.
var reasonList = func() string {
	names := make([]string, len(sweepv1alpha1.MissedReasons))
	for i, r := range sweepv1alpha1.MissedReasons {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}()

// wholeNumber parses a JSON count from 0 to the int32 maximum; problem says
// what is wrong with it ("is negative"), without repeating it.
func wholeNumber(raw json.RawMessage) (n int32, problem string) {
	if kind := untrusted.JSONKind(raw); kind != "a number" {
		return 0, fmt.Sprintf("is %s, want a whole number", kind)
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	switch {
	case err != nil:
		return 0, "is not a whole number"
	case v < 0:
		return 0, "is negative"
	case v > math.MaxInt32:
		return 0, fmt.Sprintf("is too large (at most %d)", math.MaxInt32)
	}
	return int32(v), ""
}
