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

// Package event is what the decision packages (round, collection, lab) ask
// a reconciler to tell people as Kubernetes Events: they decide, the
// reconciler records.
package event

import corev1 "k8s.io/api/core/v1"

// Event is something a person should hear about an object.
type Event struct {
	// Type is corev1.EventTypeNormal or corev1.EventTypeWarning.
	Type string
	// Reason is a short CamelCase word, as `kubectl events` shows it.
	Reason string
	// Message says the rest for people.
	Message string
}

// Normal is an event about something that went as expected.
func Normal(reason, message string) Event {
	return Event{Type: corev1.EventTypeNormal, Reason: reason, Message: message}
}

// Warning is an event about something a person may have to act on.
func Warning(reason, message string) Event {
	return Event{Type: corev1.EventTypeWarning, Reason: reason, Message: message}
}
