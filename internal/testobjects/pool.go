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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// PoolWrapper builds a PositivePool.
type PoolWrapper struct{ sweepv1alpha1.PositivePool }

// Pool starts a PositivePool with only its namespace and name.
func Pool(ns, name string) *PoolWrapper {
	return &PoolWrapper{sweepv1alpha1.PositivePool{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}}
}

// Obj returns the PositivePool.
func (p *PoolWrapper) Obj() *sweepv1alpha1.PositivePool { return &p.PositivePool }

// ResultTime sets spec.resultTime, when the lab reported the tube
// positive.
func (p *PoolWrapper) ResultTime(t time.Time) *PoolWrapper {
	p.Spec.ResultTime = metav1.Time{Time: t}
	return p
}

// Phase sets status.phase.
func (p *PoolWrapper) Phase(ph sweepv1alpha1.PositivePoolPhase) *PoolWrapper {
	p.Status.Phase = ph
	return p
}

// HouseholdsToSeal sets status.householdsToSeal.
func (p *PoolWrapper) HouseholdsToSeal(households ...string) *PoolWrapper {
	p.Status.HouseholdsToSeal = households
	return p
}
