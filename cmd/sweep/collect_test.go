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

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/masstesting/sweep/internal/collector"
)

// TestCollectWritesItsErrorAsTerminationMessagePure: a failed visit's error
// goes to the termination log, where the kubelet picks it up and the job
// executor reads it into the CollectionJob's condition.
func TestCollectWritesItsErrorAsTerminationMessagePure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(path, nil, 0o600); err != nil { // the kubelet creates it
		t.Fatal(err)
	}
	t.Setenv(collector.EnvNamespace, "ns-1")
	err := runCollect([]string{"--termination-log", path})
	if err == nil {
		t.Fatal("collect without an assignment succeeded")
	}
	got, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if string(got) != err.Error() || !strings.Contains(string(got), "SWEEP_") {
		t.Errorf("termination message %q, want the error %q", got, err)
	}

	// Outside a pod the file does not exist, and is not created.
	missing := filepath.Join(t.TempDir(), "termination-log")
	_ = runCollect([]string{"--termination-log", missing})
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("collect created %s: %v", missing, err)
	}
}
