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

// SuppliesPolicy is how a round forecasts its supplies: sample tubes, swabs
// and the bags tubes travel in.
type SuppliesPolicy struct {
	// sparePercent is the share added on top of the tubes and swabs the
	// residents need, for single-tube retests of positive mixed tubes (at 1%
	// prevalence about 9.6% of 10-in-1 tubes are retested) and for spoiled
	// tubes. Default 10.
	// +optional
	// +kubebuilder:default=10
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	SparePercent int32 `json:"sparePercent,omitempty"`

	// tubesPerBag is how many tubes one tube bag (transport bag) holds.
	// Default 50.
	// +optional
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	TubesPerBag int32 `json:"tubesPerBag,omitempty"`
}

// SupplyCounts counts supplies: sample tubes, swabs and tube bags.
type SupplyCounts struct {
	// tubes are sample tubes (one per poolSize swabs).
	Tubes int64 `json:"tubes"`
	// swabs are swabs, one per resident sampled.
	Swabs int64 `json:"swabs"`
	// tubeBags are the bags the tubes travel to the laboratory in.
	TubeBags int64 `json:"tubeBags"`
}

// Supplies is a forecast of supplies against what was used.
type Supplies struct {
	// forecast is what the buildings need before they start: tubes for the
	// expected residents at the round's pool size, swabs for each of them,
	// both with the round's spare share, and the bags for those tubes.
	Forecast SupplyCounts `json:"forecast"`
	// used is what the collectors reported: tubes filled, one swab per
	// resident sampled, and the bags the filled tubes need.
	Used SupplyCounts `json:"used"`
}

// MaxCommunities caps the communities listed in a round's status, so that a
// status stays small; the round's own counts always cover every building.
const MaxCommunities = 200

// CommunityStatus is a round's progress and supplies in one community (社区).
type CommunityStatus struct {
	// name is the community's label value (sweep.masstesting.io/community
	// on the Building); buildings without it count under "-".
	Name string `json:"name"`
	// buildings is the number of the round's buildings in the community.
	Buildings int32 `json:"buildings"`
	// finished is the buildings that finished (completed, expired, failed).
	Finished int32 `json:"finished"`
	// expected is the residents to be sampled in the community.
	Expected int64 `json:"expected"`
	// sampled is the residents sampled so far.
	Sampled int64 `json:"sampled"`
	// missed is the residents not sampled in buildings that finished.
	Missed int64 `json:"missed"`
	// supplies is the community's forecast against used.
	Supplies Supplies `json:"supplies"`
}
