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

// Package v1alpha1 holds the Sweep API: Building, TestingRound,
// CollectionJob, TestingSchedule and PositivePool in the group
// sweep.masstesting.io.
//
// The doc comments on these types are the user documentation: they are what
// `kubectl explain` prints, so they are written for a district's ops team.
//
// +kubebuilder:object:generate=true
// +groupName=sweep.masstesting.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of every Sweep resource.
var GroupVersion = schema.GroupVersion{Group: "sweep.masstesting.io", Version: "v1alpha1"}

// knownTypes are registered by each type's file. The package depends on
// apimachinery only, so that anyone can import the API cheaply.
var knownTypes []runtime.Object

var (
	// SchemeBuilder registers the Sweep types with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, knownTypes...)
		metav1.AddToGroupVersion(s, GroupVersion)
		return nil
	})

	// AddToScheme adds the Sweep types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
