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

// Package alerts keeps Sweep's alert rules in one place. The plain rules
// file config/prometheus/rules/sweep.rules.yaml is the source: promtool
// checks and unit-tests it, and a Prometheus without the Prometheus Operator
// loads it as it is. The PrometheusRule that config/prometheus deploys is
// made from it by PrometheusRule (`make alerts`, see hack/alerts), so the two
// cannot drift apart; the tests fail when the checked-in one is stale.
package alerts

import (
	"bytes"
	"strings"
)

// Paths of the two files, from the repository's root.
const (
	RulesFile          = "config/prometheus/rules/sweep.rules.yaml"
	RulesTestFile      = "config/prometheus/rules/sweep.rules_test.yaml"
	PrometheusRuleFile = "config/prometheus/sweep_prometheusrule.yaml"
)

const header = `# Generated from ` + RulesFile + ` by ` + "`make alerts`" + `:
# edit that file, not this one.
#
# Sweep's alerts for the Prometheus Operator; enable them with the
# [PROMETHEUS] line in config/default/kustomization.yaml.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  labels:
    app.kubernetes.io/name: sweep
    app.kubernetes.io/managed-by: kustomize
  name: alerts
  namespace: system
spec:
`

// PrometheusRule wraps a rules file (its groups, comments included) into a
// PrometheusRule: the file's top level becomes spec, indented by two spaces,
// which leaves every block scalar's meaning as it was.
func PrometheusRule(rules []byte) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	for _, line := range strings.Split(strings.TrimRight(string(rules), "\n"), "\n") {
		if line != "" {
			b.WriteString("  ")
			b.WriteString(line)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}
