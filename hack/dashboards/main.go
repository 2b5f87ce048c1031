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

// Command dashboards writes Sweep's Grafana dashboards, built in
// internal/dashboards, as JSON into a directory (`make dashboards` writes
// config/grafana/). The test in internal/dashboards fails when the checked-in
// JSON differs from what this writes. hack/dashboards is a module of its own
// so that the Grafana Foundation SDK, which only this generator and its
// tests use, stays out of the main module and the sweep binary.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/masstesting/sweep/hack/dashboards/internal/dashboards"
)

func main() {
	out := flag.String("out", "config/grafana", "directory to write the dashboards to")
	flag.Parse()
	if err := write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "dashboards:", err)
		os.Exit(1)
	}
}

func write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names := make([]string, 0, len(dashboards.Files))
	for name := range dashboards.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		d, err := dashboards.Files[name]()
		if err != nil {
			return fmt.Errorf("building %s: %w", name, err)
		}
		b, err := dashboards.JSON(d)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
		fmt.Println("wrote", filepath.Join(dir, name))
	}
	return nil
}
