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

// Command alerts writes the PrometheusRule of config/prometheus from the
// plain rules file, the one source of Sweep's alerts (`make alerts`, run
// from the repository's root).
package main

import (
	"fmt"
	"os"

	"github.com/masstesting/sweep/internal/alerts"
)

func main() {
	rules, err := os.ReadFile(alerts.RulesFile)
	if err == nil {
		err = os.WriteFile(alerts.PrometheusRuleFile, alerts.PrometheusRule(rules), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "alerts:", err)
		os.Exit(1)
	}
	fmt.Println("wrote", alerts.PrometheusRuleFile)
}
