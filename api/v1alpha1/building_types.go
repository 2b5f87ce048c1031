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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ControlLevel is the epidemic control level of a building, which decides how
// it is sampled.
// +kubebuilder:validation:Enum=Precaution;Controlled;Sealed
type ControlLevel string

const (
	// ControlLevelPrecaution (防范区): residents move freely and come to a
	// sampling point.
	ControlLevelPrecaution ControlLevel = "Precaution"
	// ControlLevelControlled (管控区): residents come down by building in time
	// slots.
	ControlLevelControlled ControlLevel = "Controlled"
	// ControlLevelSealed (封控区): nobody leaves; teams sample door to door.
	// Sealed buildings are swept first and take longer.
	ControlLevelSealed ControlLevel = "Sealed"
)

// BuildingSpec is one residential building as the district's ledger (台账)
// records it. It holds counts only: no field names or identifies a person.
// +kubebuilder:validation:XValidation:rule="!has(self.exempt) || self.exempt <= self.residents",message="exempt must not exceed residents",fieldPath=".exempt"
// +kubebuilder:validation:XValidation:rule="!has(self.homeVisit) || self.homeVisit <= self.residents - (has(self.exempt) ? self.exempt : 0)",message="homeVisit must not exceed residents minus exempt",fieldPath=".homeVisit"
type BuildingSpec struct {
	// address is the postal address of the building, for people reading a
	// status table or a missed-resident list, e.g. "Baoguo Street 12, Unit 3".
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Address string `json:"address,omitempty"`

	// street is the street office (街道) the building belongs to, as people
	// write it. To select buildings by street, label them
	// sweep.masstesting.io/street; rounds copy that label to their jobs.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Street string `json:"street,omitempty"`

	// community is the residential community (社区) the building belongs to,
	// as people write it. To select buildings by community, label them
	// sweep.masstesting.io/community; rounds copy that label to their jobs.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Community string `json:"community,omitempty"`

	// households is the number of registered households (doors to knock on).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000
	Households int32 `json:"households,omitempty"`

	// residents is the number of registered residents living in the building.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	Residents int32 `json:"residents"`

	// exempt is the number of residents who are not expected to be sampled in
	// this building: away from the city, in hospital, or in central
	// quarantine. It must not exceed residents.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	Exempt int32 `json:"exempt,omitempty"`

	// homeVisit is the number of residents who must be sampled at home
	// (上门采样): bedridden or elderly, disabled, late in pregnancy. They are
	// counted among the expected residents and reported separately. It must
	// not exceed residents minus exempt.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000000
	HomeVisit int32 `json:"homeVisit,omitempty"`

	// controlLevel is the building's control level: Precaution (default),
	// Controlled or Sealed. Sealed buildings are sampled door to door and,
	// with the default round order, swept first.
	// +optional
	// +kubebuilder:default=Precaution
	ControlLevel ControlLevel `json:"controlLevel,omitempty"`

	// units is the number of stairwells (单元) in the building.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	Units int32 `json:"units,omitempty"`

	// floors is the number of floors above ground.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=300
	Floors int32 `json:"floors,omitempty"`
}

// BuildingStatus is what the operator learns about a building across
// rounds; a round's results for a building live in that round's
// CollectionJob.
type BuildingStatus struct {
	// sealRequests are the retests that found households to seal here,
	// newest last, at most 20. Under the Approval sealing policy they wait
	// for ops to set spec.controlLevel to Sealed (`kubectl patch`); under
	// Automatic the operator has set it.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	SealRequests []SealRequest `json:"sealRequests,omitempty"`
}

// SealRequest is one positive pool's households to seal in a building.
type SealRequest struct {
	// round is the TestingRound of the positive pool.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Round string `json:"round"`
	// pool is the PositivePool that found them.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Pool string `json:"pool"`
	// households are the unit-room ids whose own tube was positive.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=32
	Households []string `json:"households"`
	// time is when the pool was resolved.
	// +required
	Time metav1.Time `json:"time"`
	// sealed says the Building's control level was Sealed when the request
	// was recorded: set by the operator under the Automatic policy, or
	// sealed already. Under Approval, ops seal it by setting
	// spec.controlLevel (the Level column of `kubectl get buildings`).
	// +optional
	Sealed bool `json:"sealed,omitempty"`
}

// Building is one residential building on a district's roster. Rounds select
// buildings by label and copy these counts into a CollectionJob when they
// start, so editing a Building never changes a round that is already running.
// Buildings are usually created from the ledger's CSV with `sweep import`.
//
// Short name `bldg`. Buildings are not in the `sweep` category: a district
// has thousands of them and they change once per ledger import, so
// `kubectl get sweep` (what is running) would be buried under the roster;
// `kubectl get bldg` lists them, `kubectl get sweep,bldg` everything.
// Short names and categories must collide with nothing built into
// Kubernetes nor with common operators' CRDs (TestNamesDoNotCollide).
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bldg
// +kubebuilder:printcolumn:name="Community",type=string,JSONPath=`.spec.community`
// +kubebuilder:printcolumn:name="Residents",type=integer,JSONPath=`.spec.residents`
// +kubebuilder:printcolumn:name="Exempt",type=integer,JSONPath=`.spec.exempt`
// +kubebuilder:printcolumn:name="HomeVisit",type=integer,JSONPath=`.spec.homeVisit`
// +kubebuilder:printcolumn:name="Level",type=string,JSONPath=`.spec.controlLevel`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Building struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard object metadata. Label buildings (for example
	// with their street and community) so rounds can select them.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the building as the district's ledger records it.
	// +required
	Spec BuildingSpec `json:"spec"`

	// status is what the operator learned about the building: households
	// to seal after a positive retest.
	// +optional
	Status BuildingStatus `json:"status,omitempty"`
}

// BuildingList is a list of Buildings.
//
// +kubebuilder:object:root=true
type BuildingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Building `json:"items"`
}

func init() {
	knownTypes = append(knownTypes, &Building{}, &BuildingList{})
}
