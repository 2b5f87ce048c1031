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
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/httpretry"
	"github.com/masstesting/sweep/internal/untrusted"
)

// HTTPOptions are the operator's own settings for every round's http lab
// source (`sweep manager --lab-token-file --lab-url-prefix`). A round's
// writer chooses the lab URL; the operator chooses where its token may go.
type HTTPOptions struct {
	// TokenFile is a file holding the bearer token the operator sends to
	// the lab, mounted from a Secret in the operator's namespace; "" sends
	// none. It is read on every poll, so a rotated Secret takes effect
	// without a restart. The token is never logged nor put in an error.
	TokenFile string
	// AllowedPrefixes are the base URLs a round's lab URL must be under,
	// such as "https://lis.harbin.example/api". When there are some, a
	// lab URL under none of them is refused; when there are none, any
	// http(s) URL is polled, but never with a token.
	AllowedPrefixes []string
}

// Validate checks the options when the manager starts: every prefix is an
// http(s) base URL, a token file comes with at least one prefix, and the
// token file can be read.
func (o HTTPOptions) Validate() error {
	for _, p := range o.AllowedPrefixes {
		if _, err := parseBase(p); err != nil {
			return fmt.Errorf("--lab-url-prefix: %w", err)
		}
	}
	if o.TokenFile == "" {
		return nil
	}
	if len(o.AllowedPrefixes) == 0 {
		return errors.New("--lab-token-file needs --lab-url-prefix: the token may only go to the labs the operator allows")
	}
	_, err := readToken(o.TokenFile)
	return err
}

// CheckURL says whether a round's lab URL may be polled under these
// options, and why not: the round's writer can be told before the first
// poll.
func (o HTTPOptions) CheckURL(raw string) error {
	_, err := o.checkURL(raw)
	return err
}

func (o HTTPOptions) checkURL(raw string) (*url.URL, error) {
	u, err := parseBase(raw)
	if err != nil {
		return nil, err
	}
	if len(o.AllowedPrefixes) == 0 {
		if o.TokenFile != "" {
			// Validate refuses this at start-up; refuse here too rather
			// than send the token anywhere.
			return nil, fmt.Errorf("lab URL %s is refused: the operator has a lab token but allows no lab URL prefix (--lab-url-prefix)", u)
		}
		return u, nil
	}
	if !o.allowed(u) {
		return nil, fmt.Errorf("lab URL %s is refused: it is not under a lab URL prefix the operator allows (%s); ask the operator's admins to add it with --lab-url-prefix",
			u, strings.Join(o.AllowedPrefixes, ", "))
	}
	return u, nil
}

// allowed says whether u is under one of the prefixes: same scheme and
// host (default ports aside), and a path equal to the prefix's or below it
// at a "/". parseBase has refused "." and ".." segments, so a path cannot
// climb out of a prefix.
func (o HTTPOptions) allowed(u *url.URL) bool {
	for _, raw := range o.AllowedPrefixes {
		p, err := parseBase(raw)
		if err != nil {
			continue
		}
		if !strings.EqualFold(u.Scheme, p.Scheme) || hostPort(u) != hostPort(p) {
			continue
		}
		pp := strings.TrimRight(p.EscapedPath(), "/")
		up := u.EscapedPath()
		if up == pp || strings.HasPrefix(up, pp+"/") {
			return true
		}
	}
	return false
}

// hostPort is u's host in lower case with the scheme's default port
// removed, so that https://lis and https://lis:443 are the same lab.
func hostPort(u *url.URL) string {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if port == "" {
		return host
	}
	return host + ":" + port
}

// parseBase parses a lab base URL: http or https, a host, no user or
// password (the token is the operator's), no query or fragment, and no "."
// or ".." path segment. Its errors never repeat a URL that carries a
// password.
func parseBase(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the URL, which may hold a password.
		return nil, errors.New("lab URL cannot be parsed")
	}
	if u.User != nil {
		return nil, fmt.Errorf("lab URL %s carries a user or password: the lab's token is the operator's (--lab-token-file)", u.Redacted())
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, fmt.Errorf("lab URL %q is not an http:// or https:// base URL without query", u.Redacted())
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return nil, fmt.Errorf("lab URL %q has a %q path segment", u.Redacted(), seg)
		}
	}
	return u, nil
}

// maxTokenFile bounds the token file: a bearer token is a line, not a
// document.
const maxTokenFile = 16 << 10

// readToken reads the token file. Its errors name the file, never what it
// holds.
func readToken(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("reading the lab token file: %w", err)
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("reading the lab token file %s: %w", file, err)
	}
	if len(data) > maxTokenFile {
		return "", fmt.Errorf("lab token file %s is larger than %d bytes", file, maxTokenFile)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("lab token file %s is empty", file)
	}
	for i := 0; i < len(token); i++ {
		if token[i] < 0x21 || token[i] > 0x7e {
			return "", fmt.Errorf("lab token file %s holds a character a bearer token cannot (only visible ASCII, one line)", file)
		}
	}
	return token, nil
}

// HTTPSource polls a city's lab information system through the API in
// docs/lab-api.md:
//
//	GET {url}/v1/rounds/{round}/results?namespace=..&after=..&limit=..
//
// The results are a stream the lab appends to; a cursor marks how far the
// operator has read.
type HTTPSource struct {
	// URL is the lab's base URL, from the round's spec.lab.http.url.
	URL string
	// Timeout bounds one request, reading the answer included; 0 means
	// 30s.
	Timeout time.Duration
	// Options are the operator's token and allowed URL prefixes.
	Options HTTPOptions
	// Client makes the requests; nil means http.DefaultClient. Its
	// redirects are checked against Options.AllowedPrefixes.
	Client *http.Client
	// Retries is how many times a failed request is tried again (network
	// error, timeout, 408, 429 or 5xx); 0 means one attempt only.
	Retries int
	// Backoff is the wait before the first retry; it doubles on each retry
	// up to 10s. 0 means the default, 500ms.
	Backoff time.Duration
	// PageSize is the limit asked for, 1 to 1000; 0 means 1000.
	PageSize int
}

const (
	httpDefaultRetries = 4
	httpDefaultTimeout = 30 * time.Second
	// MaxPage is the most results one page may hold, and the limit asked
	// for by default.
	MaxPage = 1000
	// httpMaxBody bounds what is read from the lab: a page of 1000
	// results with 20 households each is under 1 MiB; a runaway body
	// must not exhaust the operator.
	httpMaxBody = 4 << 20
	// maxCursor bounds the lab's cursor, which the operator stores in the
	// round's status.
	maxCursor = 512
	// maxRedirects is how many redirects one request follows.
	maxRedirects = 5
)

// NewHTTPSource returns the source for a round's spec.lab.http under the
// operator's options, with the defaults: the round's timeout (30s when
// unset), 4 retries, 500ms first backoff doubling up to 10s, pages of
// 1000.
func NewHTTPSource(spec *sweepv1alpha1.LabHTTP, opts HTTPOptions) *HTTPSource {
	s := &HTTPSource{Options: opts, Client: http.DefaultClient, Retries: httpDefaultRetries, Backoff: httpretry.DefaultBackoff}
	if spec != nil {
		s.URL = spec.URL
		if spec.Timeout != nil && spec.Timeout.Duration > 0 {
			s.Timeout = spec.Timeout.Duration
		}
	}
	return s
}

// errRedirectRefused is a redirect to a URL outside the allowed prefixes.
var errRedirectRefused = errors.New("the lab redirected to a URL outside the lab URL prefixes the operator allows; not followed")

// Results returns the round's results after cursor.
func (s *HTTPSource) Results(ctx context.Context, q Query, cursor string) (Page, error) {
	base, err := s.Options.checkURL(s.URL)
	if err != nil {
		return Page{}, err
	}
	if !validCursor(cursor) {
		return Page{}, fmt.Errorf("lab cursor for round %s is not one the lab could have sent (at most %d letters, digits and . _ ~ : + / = -)", q.Round, maxCursor)
	}
	var token string
	if s.Options.TokenFile != "" {
		if token, err = readToken(s.Options.TokenFile); err != nil {
			return Page{}, err
		}
	}
	limit := s.PageSize
	if limit <= 0 || limit > MaxPage {
		limit = MaxPage
	}
	target := resultsURL(base, q, cursor, limit)
	p := poll{s: s, q: q, lab: base.String(), target: target, token: token, cursor: cursor, limit: limit}

	var page Page
	err = httpretry.Do(ctx, max(s.Retries, 0)+1, s.Backoff, func(ctx context.Context) error {
		var err error
		page, err = p.get(ctx)
		return err
	})
	if err != nil {
		return Page{}, httpretry.Explain(err, "lab "+p.lab, fmt.Sprintf("lab %s poll for round %s", p.lab, q.Round))
	}
	return page, nil
}

// resultsURL builds the request URL; the round is path-escaped.
func resultsURL(base *url.URL, q Query, cursor string, limit int) string {
	v := url.Values{}
	v.Set("namespace", q.Namespace)
	if cursor != "" {
		v.Set("after", cursor)
	}
	v.Set("limit", strconv.Itoa(limit))
	return strings.TrimRight(base.String(), "/") + "/v1/rounds/" + url.PathEscape(q.Round) + "/results?" + v.Encode()
}

// client is s.Client with redirects held to the allowed prefixes.
func (s *HTTPSource) client() *http.Client {
	c := http.DefaultClient
	if s.Client != nil {
		c = s.Client
	}
	cc := *c
	opts := s.Options
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("the lab redirected more than %d times", maxRedirects)
		}
		if len(opts.AllowedPrefixes) > 0 {
			u := *req.URL
			u.RawQuery, u.ForceQuery = "", false
			if _, err := parseBase(u.String()); err != nil || !opts.allowed(&u) {
				return errRedirectRefused
			}
		}
		return nil
	}
	return &cc
}

// poll is one Results call's request, tried until it succeeds or fails for
// good.
type poll struct {
	s                  *HTTPSource
	q                  Query
	lab, target, token string
	cursor             string
	limit              int
}

// get makes one attempt. Failures worth retrying come back as
// *httpretry.Error; everything else is final.
func (p *poll) get(ctx context.Context) (Page, error) {
	timeout := p.s.Timeout
	if timeout <= 0 {
		timeout = httpDefaultTimeout
	}
	// The timeout covers reading the body too, so it lives in the context
	// rather than ending with Do.
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(actx, http.MethodGet, p.target, nil)
	if err != nil {
		return Page{}, fmt.Errorf("lab %s request for round %s: %w", p.lab, p.q.Round, err)
	}
	req.Header.Set("Accept", "application/json")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}

	resp, err := p.s.client().Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, httpMaxBody+1))
		_ = resp.Body.Close()
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			// The caller gave up; trying again would be pointless.
			return Page{}, fmt.Errorf("lab %s poll for round %s: %w", p.lab, p.q.Round, ctx.Err())
		case errors.Is(err, errRedirectRefused):
			return Page{}, fmt.Errorf("lab %s for round %s: %w", p.lab, p.q.Round, errRedirectRefused)
		case actx.Err() != nil:
			return Page{}, &httpretry.Error{Err: fmt.Errorf(
				"lab %s did not answer for round %s within the %s timeout", p.lab, p.q.Round, timeout)}
		}
		// url.Error repeats the method and URL; the cause is what matters.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return Page{}, &httpretry.Error{Err: fmt.Errorf("could not reach lab %s for round %s: %v", p.lab, p.q.Round, err)}
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		err := fmt.Errorf("lab %s answered %s for round %s: %s", p.lab, resp.Status, p.q.Round, untrusted.Snippet(body, p.token))
		code := resp.StatusCode
		if code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500 {
			return Page{}, &httpretry.Error{Err: err, After: httpretry.RetryAfter(resp.Header.Get("Retry-After"))}
		}
		return Page{}, err
	}
	if len(body) > httpMaxBody {
		return Page{}, fmt.Errorf("lab %s sent a malformed page for round %s: larger than %d MiB", p.lab, p.q.Round, httpMaxBody>>20)
	}
	page, err := DecodePage(body, p.cursor, p.limit)
	if err != nil {
		return Page{}, fmt.Errorf("lab %s sent a malformed page for round %s: %w", p.lab, p.q.Round, err)
	}
	return page, nil
}

// validCursor says whether c can be a lab cursor: at most maxCursor
// URL-safe characters (base64 included).
func validCursor(c string) bool {
	if len(c) > maxCursor {
		return false
	}
	for i := 0; i < len(c); i++ {
		ch := c[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9':
		case strings.IndexByte("._~:+/=-", ch) >= 0:
		default:
			return false
		}
	}
	return true
}
