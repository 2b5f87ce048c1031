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

package v1alpha1

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// DurationPattern is the form of every duration in Sweep's API: Go's
// duration syntax without sign or spaces, such as "30s", "1h30m" or "1.5h".
const DurationPattern = `^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`

// Duration is a duration such as "30s", "30m" or "1h30m".
//
// Each field's CEL bounds first check the pattern (the rule is skipped for
// a value that is not a duration, which the pattern rejects): a CEL rule
// that fails to evaluate on a value stored before the schema would reject
// every later write of the object, status included, while the pattern
// ratchets (an unchanged stored value is let through).
//
// Its JSON decoding never fails: a value stored before the schema checked
// it (or written past it) is kept as it was and marked invalid, so that one
// bad object cannot stop the operator's cache from listing a whole
// resource; the controllers report such an object (Invalid) and leave the
// others alone. Encoding gives the stored text back unchanged, so nothing
// is lost.
// +kubebuilder:validation:Type=string
// +kubebuilder:validation:MaxLength=64
// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$`
type Duration struct {
	time.Duration `json:"-"`
	// InvalidText is the stored value when it is not a duration ("" when
	// it is one).
	InvalidText string `json:"-"`
}

// NewDuration returns d as a Duration.
func NewDuration(d time.Duration) *Duration { return &Duration{Duration: d} }

// UnmarshalJSON reads a duration string; anything else is kept as text and
// marked invalid rather than failing the decoding.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		*d = Duration{InvalidText: string(b)}
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		*d = Duration{InvalidText: s}
		return nil
	}
	*d = Duration{Duration: v}
	return nil
}

// MarshalJSON writes the duration, or the invalid text as it was stored.
func (d Duration) MarshalJSON() ([]byte, error) {
	if d.InvalidText != "" {
		if json.Valid([]byte(d.InvalidText)) && d.InvalidText[0] != '"' {
			return []byte(d.InvalidText), nil // a stored non-string, as it was
		}
		return json.Marshal(d.InvalidText)
	}
	return json.Marshal(d.String())
}

// ToUnstructured gives the JSON value, for the unstructured converter.
func (d Duration) ToUnstructured() any {
	if d.InvalidText != "" {
		return d.InvalidText
	}
	return d.String()
}

// Invalid returns an error naming field when d holds a value that is not a
// duration, or nil. A nil d is valid (the field is unset).
func (d *Duration) Invalid(field string) error {
	if d == nil || d.InvalidText == "" {
		return nil
	}
	text := d.InvalidText
	if len(text) > 64 {
		text = text[:64] + "..."
	}
	return fmt.Errorf("%s: %q is not a duration such as \"30s\" or \"1h30m\"; fix or replace the object", field, text)
}

// invalidDurations names the duration fields under path (a visit policy
// and a collector source) that hold no duration.
func invalidDurations(path string, v VisitPolicy, c CollectorSource) error {
	var timeout *Duration
	if c.HTTP != nil {
		timeout = c.HTTP.Timeout
	}
	return errors.Join(v.Interval.Invalid(path+".visits.interval"), timeout.Invalid(path+".collector.http.timeout"))
}

// InvalidDurations returns an error naming each duration of the spec that
// was stored without being one (before the schema checked it), or nil.
func (s *TestingRoundSpec) InvalidDurations() error {
	return invalidDurations("spec", s.Visits, s.Collector.CollectorSource)
}

// InvalidDurations returns an error naming each duration of the spec that
// was stored without being one (before the schema checked it), or nil.
func (s *CollectionJobSpec) InvalidDurations() error {
	return invalidDurations("spec", s.Visits, s.Collector)
}

// InvalidDurations returns an error naming each duration of the spec that
// was stored without being one (before the schema checked it), or nil.
func (s *TestingScheduleSpec) InvalidDurations() error {
	t := &s.RoundTemplate.Spec
	var after, mopUpDuration error
	if m := s.MopUp; m != nil {
		after, mopUpDuration = m.After.Invalid("spec.mopUp.after"), m.Duration.Invalid("spec.mopUp.duration")
	}
	return errors.Join(t.Duration.Invalid("spec.roundTemplate.spec.duration"),
		invalidDurations("spec.roundTemplate.spec", t.Visits, t.Collector.CollectorSource), after, mopUpDuration)
}

// DefaultVisitInterval is visits.interval when it is unset. The CRDs'
// default (the kubebuilder:default marker on VisitPolicy.Interval) must
// be the same; TestVisitIntervalDefaultInCRDs holds them together.
const DefaultVisitInterval = time.Hour

// IntervalOrDefault is the time between visits: the interval, or
// DefaultVisitInterval when it is unset or was stored without being a
// duration (re-knocking at once would be worse).
func (p VisitPolicy) IntervalOrDefault() time.Duration {
	if p.Interval == nil || p.Interval.Duration <= 0 {
		return DefaultVisitInterval
	}
	return p.Interval.Duration
}
