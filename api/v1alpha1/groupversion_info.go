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

// Package v1alpha1 holds the Sweep API: Building, TestingRound and
// CollectionJob in the group sweep.masstesting.io.
//
// The doc comments on these types are the user documentation: they are what
// `kubectl explain` prints, so they are written for a district's ops team.
//
// +kubebuilder:object:generate=true
// +groupName=sweep.masstesting.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every Sweep resource.
	GroupVersion = schema.GroupVersion{Group: "sweep.masstesting.io", Version: "v1alpha1"}

	// SchemeBuilder registers the Sweep types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the Sweep types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
