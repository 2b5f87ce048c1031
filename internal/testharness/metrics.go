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
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ScrapeOptions say how to reach a metrics endpoint. The zero value is a
// plain-HTTP GET, as the manager serves with --metrics-secure=false.
type ScrapeOptions struct {
	// Token is sent as a bearer token when set (the secure endpoint
	// authenticates and authorizes the scraper).
	Token string
	// TLS is the client's TLS configuration for an https URL.
	TLS *tls.Config
}

// FetchMetrics GETs url and returns the status and the body as they came.
// An error means no HTTP answer (nothing listens, or TLS failed); code 0
// goes with it.
func FetchMetrics(url string, o ScrapeOptions) (code int, body []byte, err error) {
	c := &http.Client{Timeout: 10 * time.Second}
	if o.TLS != nil {
		c.Transport = &http.Transport{TLSClientConfig: o.TLS}
	}
	req, err := http.NewRequest(http.MethodGet, url, http.NoBody)
	if err != nil {
		return 0, nil, err
	}
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// Scrape reads a metrics endpoint the way Prometheus does: anything but
// 200 OK is an error, and the text exposition format is parsed.
func Scrape(url string, o ScrapeOptions) (Metrics, error) {
	code, body, err := FetchMetrics(url, o)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%s: %d %s", url, code, http.StatusText(code))
	}
	return ParseMetrics(bytes.NewReader(body))
}

// ParseMetrics parses the text exposition format.
func ParseMetrics(r io.Reader) (Metrics, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}

// Metrics are the families of one scrape, by name.
type Metrics map[string]*dto.MetricFamily

// Value is the value of the series of family name whose labels are
// exactly labels ("name=value" each, in any order). A histogram's or a
// summary's value is its sample count.
func (m Metrics) Value(name string, labels ...string) (float64, bool) {
	f := m[name]
	if f == nil {
		return 0, false
	}
	want := slices.Clone(labels)
	slices.Sort(want)
	for _, s := range f.Metric {
		if slices.Equal(labelPairs(s), want) {
			return value(s), true
		}
	}
	return 0, false
}

// First is the value of the first series of family name, for families of
// one series such as go_goroutines.
func (m Metrics) First(name string) (float64, bool) {
	f := m[name]
	if f == nil || len(f.Metric) == 0 {
		return 0, false
	}
	return value(f.Metric[0]), true
}

// Flat is every series keyed by SeriesKey, so that a test can compare many
// at once. A histogram or summary gives two: name_count and name_sum.
func (m Metrics) Flat() map[string]float64 {
	out := map[string]float64{}
	for name, f := range m {
		for _, s := range f.Metric {
			labels := labelPairs(s)
			switch {
			case s.Histogram != nil:
				out[SeriesKey(name+"_count", labels...)] = float64(s.Histogram.GetSampleCount())
				out[SeriesKey(name+"_sum", labels...)] = s.Histogram.GetSampleSum()
			case s.Summary != nil:
				out[SeriesKey(name+"_count", labels...)] = float64(s.Summary.GetSampleCount())
				out[SeriesKey(name+"_sum", labels...)] = s.Summary.GetSampleSum()
			default:
				out[SeriesKey(name, labels...)] = value(s)
			}
		}
	}
	return out
}

// SeriesKey is the key of a series in Flat: name{a=1,b=2}, the labels
// ("name=value" each) sorted, values unquoted.
func SeriesKey(name string, labels ...string) string {
	l := slices.Clone(labels)
	slices.Sort(l)
	return name + "{" + strings.Join(l, ",") + "}"
}

// Label is the value of a series' label, "" when it has none.
func Label(s *dto.Metric, name string) string {
	for _, l := range s.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func labelPairs(s *dto.Metric) []string {
	out := make([]string, 0, len(s.Label))
	for _, l := range s.Label {
		out = append(out, l.GetName()+"="+l.GetValue())
	}
	slices.Sort(out)
	return out
}

func value(s *dto.Metric) float64 {
	switch {
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Untyped != nil:
		return s.Untyped.GetValue()
	case s.Histogram != nil:
		return float64(s.Histogram.GetSampleCount())
	case s.Summary != nil:
		return float64(s.Summary.GetSampleCount())
	}
	return 0
}
