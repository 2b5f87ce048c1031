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

package controllers

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestOwnStatusWritesWaitForTheWritesEventPure(t *testing.T) {
	key := client.ObjectKey{Namespace: "district", Name: "nightly"}
	var w ownStatusWrites
	if w.cacheBehind(key, "10") {
		t.Fatal("behind before any write")
	}
	w.wrote(key, "10", "10") // a write that changed nothing sends no event
	if w.cacheBehind(key, "10") {
		t.Fatal("waiting for the event of a write that changed nothing")
	}
	w.wrote(key, "10", "11")
	if !w.cacheBehind(key, "10") {
		t.Fatal("the cache still shows the replaced version: want behind")
	}
	if w.cacheBehind(key, "11") {
		t.Fatal("the cache shows the write: want not behind")
	}
	if w.cacheBehind(key, "10") {
		t.Fatal("a seen write must be forgotten, not block later reconciles")
	}
	w.wrote(key, "12", "13")
	w.forget(key)
	if w.cacheBehind(key, "12") {
		t.Fatal("behind after forget")
	}
}
