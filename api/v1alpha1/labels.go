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

// Labels Sweep reads and writes. Label Buildings with street and community
// so rounds can select them; the operator copies those two labels to each
// building's CollectionJob and adds round and building, so that
// `kubectl get coljob -l sweep.masstesting.io/community=xinjiang` works.
const (
	// LabelStreet is the street office a Building belongs to.
	LabelStreet = "sweep.masstesting.io/street"
	// LabelCommunity is the community a Building belongs to.
	LabelCommunity = "sweep.masstesting.io/community"
	// LabelRound is set on CollectionJobs to their round's name (shortened
	// with a hash when longer than a label value may be).
	LabelRound = "sweep.masstesting.io/round"
	// LabelBuilding is set on CollectionJobs to their building's name
	// (shortened like LabelRound).
	LabelBuilding = "sweep.masstesting.io/building"
	// LabelPool is set on a positive pool's retest CollectionJob to the
	// PositivePool's name.
	LabelPool = "sweep.masstesting.io/pool"
	// LabelSchedule is set on the rounds a TestingSchedule creates, with the
	// schedule's name (shortened like a job's name when too long).
	LabelSchedule = "sweep.masstesting.io/schedule"
	// AnnotationScheduledTime is set on the rounds a TestingSchedule creates:
	// the scheduled time the round was created for, RFC 3339.
	AnnotationScheduledTime = "sweep.masstesting.io/scheduled-time"
)
