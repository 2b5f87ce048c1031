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

// MissedReason says why a household's residents were not sampled, from the
// fixed list door-to-door campaigns record (docs/collector-api.md, "Missed
// reasons"). A fixed list, not free text: a note about a household may name
// the resident, and nothing personal enters the cluster.
// +kubebuilder:validation:Enum=not-home;refused;away;in-hospital;moved-out;vacant;unreachable;unknown
type MissedReason string

const (
	// MissedNotHome means nobody answered the door.
	MissedNotHome MissedReason = "not-home"
	// MissedRefused means a resident refused the swab.
	MissedRefused MissedReason = "refused"
	// MissedAway means the residents are away from the city for now.
	MissedAway MissedReason = "away"
	// MissedInHospital means a resident is in hospital.
	MissedInHospital MissedReason = "in-hospital"
	// MissedMovedOut means the residents moved out; the roster needs
	// updating.
	MissedMovedOut MissedReason = "moved-out"
	// MissedVacant means the flat is empty.
	MissedVacant MissedReason = "vacant"
	// MissedUnreachable means the team could not get to the door (a sealed
	// stairwell, a locked gate) or reach the residents by phone.
	MissedUnreachable MissedReason = "unreachable"
	// MissedUnknown is Sweep's own: residents not sampled whose household
	// got no reason from the source, or whom no household accounts for. A
	// source may send it; it means the same as sending none.
	MissedUnknown MissedReason = "unknown"
)

// MissedReasons are all reasons in the order Sweep shows them.
var MissedReasons = []MissedReason{MissedNotHome, MissedRefused, MissedAway, MissedInHospital,
	MissedMovedOut, MissedVacant, MissedUnreachable, MissedUnknown}

// Valid says whether r is one of MissedReasons.
func (r MissedReason) Valid() bool {
	for _, v := range MissedReasons {
		if r == v {
			return true
		}
	}
	return false
}

// MissedReasonCounts counts residents not sampled by the reason given for
// their household. Every resident not sampled is counted under exactly one
// reason, `unknown` when the source gave none, so the fields add up to the
// residents not sampled they are about (each field that uses them says
// which).
type MissedReasonCounts struct {
	// notHome residents: nobody answered the door.
	// +optional
	// +kubebuilder:validation:Minimum=0
	NotHome int32 `json:"notHome,omitempty"`
	// refused residents refused the swab.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Refused int32 `json:"refused,omitempty"`
	// away residents are away from the city for now.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Away int32 `json:"away,omitempty"`
	// inHospital residents are in hospital.
	// +optional
	// +kubebuilder:validation:Minimum=0
	InHospital int32 `json:"inHospital,omitempty"`
	// movedOut residents moved out: the roster needs updating.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MovedOut int32 `json:"movedOut,omitempty"`
	// vacant counts residents registered in flats found empty.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Vacant int32 `json:"vacant,omitempty"`
	// unreachable residents: the team could not get to the door or reach
	// them.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Unreachable int32 `json:"unreachable,omitempty"`
	// unknown residents got no reason from the source.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Unknown int32 `json:"unknown,omitempty"`
}

// field is the counter of reason r; an invalid reason is unknown.
func (c *MissedReasonCounts) field(r MissedReason) *int32 {
	switch r {
	case MissedNotHome:
		return &c.NotHome
	case MissedRefused:
		return &c.Refused
	case MissedAway:
		return &c.Away
	case MissedInHospital:
		return &c.InHospital
	case MissedMovedOut:
		return &c.MovedOut
	case MissedVacant:
		return &c.Vacant
	case MissedUnreachable:
		return &c.Unreachable
	}
	return &c.Unknown
}

// Get is the count of reason r (unknown for a reason not in the list).
func (c MissedReasonCounts) Get(r MissedReason) int32 { return *c.field(r) }

// Total is the sum of all counts.
func (c MissedReasonCounts) Total() int64 {
	t := int64(0)
	for _, r := range MissedReasons {
		t += int64(c.Get(r))
	}
	return t
}

// missedTrimOrder is the order in which FitTo takes away residents a source
// counted beyond the residents not sampled: first those without a reason,
// then the reasons that most likely describe residents the roster already
// exempted or no longer has (away, in hospital, moved out, vacant flats),
// and the reasons a team must act on (unreachable, not home, refused) last.
var missedTrimOrder = []MissedReason{MissedUnknown, MissedAway, MissedInHospital, MissedMovedOut, MissedVacant,
	MissedUnreachable, MissedNotHome, MissedRefused}

// FitTo returns the counts fitted to n residents not sampled, the one rule
// for every source and every level (report, CollectionJob, round): counts
// beyond n are taken away in missedTrimOrder, and residents short of n are
// added to unknown. Negative counts count as 0. The result adds up to n
// (0 for a negative n).
func (c MissedReasonCounts) FitTo(n int32) MissedReasonCounts {
	n = max(n, 0)
	var out MissedReasonCounts
	for _, r := range MissedReasons {
		*out.field(r) = max(c.Get(r), 0)
	}
	over := out.Total() - int64(n)
	for _, r := range missedTrimOrder {
		if over <= 0 {
			break
		}
		f := out.field(r)
		take := min(int64(*f), over)
		*f -= int32(take)
		over -= take
	}
	if over < 0 {
		out.Unknown += int32(-over)
	}
	return out
}

// Fitted is c fitted to n residents not sampled (FitTo; nil counts are all
// unknown), or nil when n is 0 or less, as a status keeps them.
func (c *MissedReasonCounts) Fitted(n int32) *MissedReasonCounts {
	if n <= 0 {
		return nil
	}
	var f MissedReasonCounts
	if c != nil {
		f = *c
	}
	f = f.FitTo(n)
	return &f
}

// OrZero is c, or no counts for nil.
func (c *MissedReasonCounts) OrZero() *MissedReasonCounts {
	if c == nil {
		return &MissedReasonCounts{}
	}
	return c
}

// Add adds n residents under reason r (unknown for a reason not in the
// list), saturating at the int32 maximum.
func (c *MissedReasonCounts) Add(r MissedReason, n int32) {
	f := c.field(r)
	*f = int32(min(int64(*f)+int64(max(n, 0)), 1<<31-1))
}

// MissedReasonTotals are MissedReasonCounts summed over many buildings: a
// round's. The fields mean the same as MissedReasonCounts' and add up to the
// residents they are about.
type MissedReasonTotals struct {
	// notHome residents: nobody answered the door.
	// +optional
	NotHome int64 `json:"notHome,omitempty"`
	// refused residents refused the swab.
	// +optional
	Refused int64 `json:"refused,omitempty"`
	// away residents are away from the city for now.
	// +optional
	Away int64 `json:"away,omitempty"`
	// inHospital residents are in hospital.
	// +optional
	InHospital int64 `json:"inHospital,omitempty"`
	// movedOut residents moved out: the roster needs updating.
	// +optional
	MovedOut int64 `json:"movedOut,omitempty"`
	// vacant counts residents registered in flats found empty.
	// +optional
	Vacant int64 `json:"vacant,omitempty"`
	// unreachable residents: the team could not get to the door or reach
	// them.
	// +optional
	Unreachable int64 `json:"unreachable,omitempty"`
	// unknown residents got no reason from the source.
	// +optional
	Unknown int64 `json:"unknown,omitempty"`
}

// AddCounts adds one building's counts.
func (t *MissedReasonTotals) AddCounts(c MissedReasonCounts) {
	t.NotHome += int64(c.NotHome)
	t.Refused += int64(c.Refused)
	t.Away += int64(c.Away)
	t.InHospital += int64(c.InHospital)
	t.MovedOut += int64(c.MovedOut)
	t.Vacant += int64(c.Vacant)
	t.Unreachable += int64(c.Unreachable)
	t.Unknown += int64(c.Unknown)
}

// Get is the total of reason r (unknown for a reason not in the list).
func (t MissedReasonTotals) Get(r MissedReason) int64 {
	switch r {
	case MissedNotHome:
		return t.NotHome
	case MissedRefused:
		return t.Refused
	case MissedAway:
		return t.Away
	case MissedInHospital:
		return t.InHospital
	case MissedMovedOut:
		return t.MovedOut
	case MissedVacant:
		return t.Vacant
	case MissedUnreachable:
		return t.Unreachable
	}
	return t.Unknown
}

// Total is the sum of all totals.
func (t MissedReasonTotals) Total() int64 {
	s := int64(0)
	for _, r := range MissedReasons {
		s += t.Get(r)
	}
	return s
}

// HouseholdReason is the reason a source gave for one missed household.
type HouseholdReason struct {
	// household is the unit-room id, such as "2-1203".
	// +required
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:Pattern=`^[0-9A-Za-z]+(-[0-9A-Za-z]+)*$`
	Household string `json:"household"`
	// reason is why its residents were not sampled; never unknown (a
	// household without a reason is not listed).
	// +required
	Reason MissedReason `json:"reason"`
}
