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
	corev1 "k8s.io/api/core/v1"
)

// SourceType names where the collector learns who has been sampled.
// +kubebuilder:validation:Enum=drill;http;csv
type SourceType string

const (
	// SourceDrill simulates a sweep for exercises: seeded and deterministic,
	// some residents are not home and fewer of them on every revisit.
	SourceDrill SourceType = "drill"
	// SourceHTTP asks a city's sample-registration system through the JSON
	// API documented in docs/collector-api.md.
	SourceHTTP SourceType = "http"
	// SourceCSV reads a CSV export of sampled households from a ConfigMap.
	SourceCSV SourceType = "csv"
)

// CollectorSource says where the collector learns who has been sampled, and
// with which settings. Exactly the settings block named by source is used;
// http and csv require theirs.
// +kubebuilder:validation:XValidation:rule="!has(self.source) || self.source != 'http' || has(self.http)",message="http settings are required when source is http",fieldPath=".http"
// +kubebuilder:validation:XValidation:rule="!has(self.source) || self.source != 'csv' || has(self.csv)",message="csv settings are required when source is csv",fieldPath=".csv"
type CollectorSource struct {
	// source is where the collector learns who has been sampled: http (a
	// sample-registration system), csv (an exported list) or drill
	// (simulated, for exercises). It has no default: a round that left it
	// out would flag real flats from simulated absences, so every round
	// says where its numbers come from, and drill results are marked as
	// simulated wherever they are shown.
	// +required
	Source SourceType `json:"source"`

	// drill tunes the simulated source. Ignored unless source is drill.
	// +optional
	Drill *DrillSource `json:"drill,omitempty"`

	// http configures the sample-registration system's API. Required when
	// source is http.
	// +optional
	HTTP *HTTPSource `json:"http,omitempty"`

	// csv names the exported list of sampled residents. Required when source
	// is csv.
	// +optional
	CSV *CSVSource `json:"csv,omitempty"`
}

// Effective is the source the collector runs: an object stored before the
// source was required has none and runs the drill.
func (s SourceType) Effective() SourceType {
	if s == "" {
		return SourceDrill
	}
	return s
}

// Simulated reports whether the source invents its results (the drill):
// every place that shows results marks them as a drill.
func (s SourceType) Simulated() bool { return s.Effective() == SourceDrill }

// DrillSource tunes the simulated sweep used for exercises and demos. The
// same seed, building and visit always give the same outcome.
type DrillSource struct {
	// seed makes the simulation repeatable; rounds with the same seed give
	// the same results.
	// +optional
	Seed int64 `json:"seed,omitempty"`

	// absentPercent is the share of expected residents not found on the first
	// visit, in percent.
	// +optional
	// +kubebuilder:default=15
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	AbsentPercent *int32 `json:"absentPercent,omitempty"`

	// stillAbsentPercent is the share of the residents missed on one visit
	// who are still not found on the next, in percent. Lower means re-knocks
	// find more people.
	// +optional
	// +kubebuilder:default=40
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	StillAbsentPercent *int32 `json:"stillAbsentPercent,omitempty"`
}

// HTTPSource is a city's sample-registration system.
type HTTPSource struct {
	// url is the base URL of the sample-registration API, http or https.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",message="url must start with http:// or https://"
	URL string `json:"url"`

	// timeout bounds one request to the API, as a duration such as "30s":
	// from 1s to 10m.
	// +optional
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1s') && duration(self) <= duration('10m'))",message="timeout must be from 1s to 10m"
	Timeout *Duration `json:"timeout,omitempty"`

	// tokenSecretRef names a key of a Secret in the round's namespace holding
	// a bearer token for the API. It reaches the collector pod as an
	// environment variable; the operator itself never reads Secrets.
	// +optional
	TokenSecretRef *corev1.SecretKeySelector `json:"tokenSecretRef,omitempty"`
}

// CSVSource is an exported list of sampled households, one row per household, in
// a ConfigMap of the round's namespace.
type CSVSource struct {
	// configMapName is the ConfigMap holding the export.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ConfigMapName string `json:"configMapName"`

	// key is the ConfigMap key holding the CSV text.
	// +optional
	// +kubebuilder:default="samples.csv"
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// VisitPolicy says how often a building is re-knocked (再敲一遍) when
// residents were not found.
type VisitPolicy struct {
	// max is the most visits a building gets in one round, the first
	// included. 1 means no re-knock.
	// +optional
	// +kubebuilder:default=3
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	Max int32 `json:"max,omitempty"`

	// interval is the time between the end of one visit and the start of the
	// next, as a duration such as "30m" or "1h". At least one minute.
	// +optional
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self) >= duration('1m')",message="interval must be at least 1m"
	Interval *Duration `json:"interval,omitempty"`
}
