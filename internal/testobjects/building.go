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

package testobjects

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// BuildingWrapper builds a Building.
type BuildingWrapper struct{ sweepv1alpha1.Building }

// Building starts a Building with only its namespace and name.
func Building(ns, name string) *BuildingWrapper {
	return &BuildingWrapper{sweepv1alpha1.Building{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}}
}

// Obj returns the Building.
func (b *BuildingWrapper) Obj() *sweepv1alpha1.Building { return &b.Building }

// Label sets one label.
func (b *BuildingWrapper) Label(key, value string) *BuildingWrapper {
	b.Labels = withEntry(b.Labels, key, value)
	return b
}

// WithLabels adds these labels (copied, so objects built from one map do
// not share it).
func (b *BuildingWrapper) WithLabels(labels map[string]string) *BuildingWrapper {
	b.Labels = withEntries(b.Labels, labels)
	return b
}

// Street sets spec.street.
func (b *BuildingWrapper) Street(s string) *BuildingWrapper {
	b.Spec.Street = s
	return b
}

// Community sets spec.community (the label is set with Label).
func (b *BuildingWrapper) Community(c string) *BuildingWrapper {
	b.Spec.Community = c
	return b
}

// Residents sets spec.residents.
func (b *BuildingWrapper) Residents(n int32) *BuildingWrapper {
	b.Spec.Residents = n
	return b
}

// Exempt sets spec.exempt.
func (b *BuildingWrapper) Exempt(n int32) *BuildingWrapper {
	b.Spec.Exempt = n
	return b
}

// HomeVisit sets spec.homeVisit.
func (b *BuildingWrapper) HomeVisit(n int32) *BuildingWrapper {
	b.Spec.HomeVisit = n
	return b
}

// Households sets spec.households.
func (b *BuildingWrapper) Households(n int32) *BuildingWrapper {
	b.Spec.Households = n
	return b
}

// Layout sets spec.units and spec.floors.
func (b *BuildingWrapper) Layout(units, floors int32) *BuildingWrapper {
	b.Spec.Units, b.Spec.Floors = units, floors
	return b
}

// Level sets spec.controlLevel.
func (b *BuildingWrapper) Level(l sweepv1alpha1.ControlLevel) *BuildingWrapper {
	b.Spec.ControlLevel = l
	return b
}

// withEntry returns m with key set, making m when it is nil.
func withEntry(m map[string]string, key, value string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[key] = value
	return m
}

// withEntries returns m with every entry of add set; m stays nil when add
// is empty.
func withEntries(m, add map[string]string) map[string]string {
	for k, v := range add {
		m = withEntry(m, k, v)
	}
	return m
}
