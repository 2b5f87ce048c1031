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
)

// testOnlyModules are the modules only the generators, the benchmark and
// the soak chart use: they live in the hack/dashboards and test/bench
// modules, and must not come back into the main module (the sweep binary's
// module graph). docs/dependencies.md says why.
var testOnlyModules = []string{
	"gonum.org/v1/plot",
	"github.com/golang/freetype",
	"github.com/grafana/grafana-foundation-sdk",
}

// The main module's go.mod and go.sum name none of testOnlyModules. It reads
// the two files rather than `go list -m all` so that it needs neither the
// network nor the module cache.
func TestMainModuleLeavesOutTestOnlyModulesPure(t *testing.T) {
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join("..", "..", name))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, field := range strings.Fields(line) {
				for _, m := range testOnlyModules {
					if field == m || strings.HasPrefix(field, m+"/") {
						t.Errorf("%s:%d names %s, which only generators and benchmarks use: import it from hack/dashboards or test/bench (their own modules), then run go mod tidy in the root", name, i+1, field)
					}
				}
			}
		}
	}
}
