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

package install

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// TestChartPods checks every pod template the chart renders, with every
// values set, against the Pod Security Standard "restricted" and for
// resources and probes.
func TestChartPods(t *testing.T) {
	for name, args := range valueSets(t) {
		t.Run(name, func(t *testing.T) {
			pods := 0
			for _, u := range decode(t, render(t, args...)) {
				spec, ok := podSpec(t, u)
				if !ok {
					continue
				}
				pods++
				checkRestrictedPod(t, u.GetKind()+"/"+u.GetName(), spec)
			}
			if pods == 0 {
				t.Fatal("no pod templates rendered")
			}
		})
	}
}

// TestChartProductionShape checks what a production install expects beyond
// the restricted profile (kube-score's findings): the user and
// group stated in the pod, ephemeral-storage requests and limits, and a
// PodDisruptionBudget that keeps one manager whenever there are two or more.
func TestChartProductionShape(t *testing.T) {
	for name, args := range valueSets(t) {
		t.Run(name, func(t *testing.T) {
			var deploy *appsv1.Deployment
			var pdbs []*unstructured.Unstructured
			for _, u := range decode(t, render(t, args...)) {
				switch u.GetKind() {
				case "Deployment":
					deploy = &appsv1.Deployment{}
					if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, deploy); err != nil {
						t.Fatal(err)
					}
				case "PodDisruptionBudget":
					pdbs = append(pdbs, u)
				}
			}
			if deploy == nil {
				t.Fatal("no Deployment rendered")
			}
			pod := deploy.Spec.Template.Spec
			if sc := pod.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser == 0 || sc.RunAsGroup == nil || *sc.RunAsGroup == 0 {
				t.Errorf("the pod does not state a non-root runAsUser and runAsGroup: %+v", sc)
			}
			for _, c := range pod.Containers {
				if _, ok := c.Resources.Requests[corev1.ResourceEphemeralStorage]; !ok {
					t.Errorf("container %s has no ephemeral-storage request", c.Name)
				}
				if _, ok := c.Resources.Limits[corev1.ResourceEphemeralStorage]; !ok {
					t.Errorf("container %s has no ephemeral-storage limit", c.Name)
				}
			}
			replicas := int32(1)
			if deploy.Spec.Replicas != nil {
				replicas = *deploy.Spec.Replicas
			}
			switch {
			case replicas > 1 && len(pdbs) != 1:
				t.Errorf("%d replicas and %d PodDisruptionBudgets, want 1", replicas, len(pdbs))
			case replicas <= 1 && len(pdbs) != 0:
				t.Errorf("%d replica and a PodDisruptionBudget: it could only block node drains", replicas)
			case len(pdbs) == 1:
				minAvailable, _, _ := unstructured.NestedFieldNoCopy(pdbs[0].Object, "spec", "minAvailable")
				selector, _, _ := unstructured.NestedStringMap(pdbs[0].Object, "spec", "selector", "matchLabels")
				if fmt.Sprint(minAvailable) != "1" || !reflect.DeepEqual(selector, deploy.Spec.Selector.MatchLabels) {
					t.Errorf("PodDisruptionBudget minAvailable %v selector %v; want 1 and the Deployment's %v", minAvailable, selector, deploy.Spec.Selector.MatchLabels)
				}
			}
		})
	}
}

// podSpec returns the pod template of a workload kind.
func podSpec(t *testing.T, u *unstructured.Unstructured) (*corev1.PodSpec, bool) {
	t.Helper()
	switch u.GetKind() {
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
		// Every one of them keeps its pod template at spec.template.
		var d appsv1.Deployment
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &d); err != nil {
			t.Fatalf("%s/%s: %v", u.GetKind(), u.GetName(), err)
		}
		return &d.Spec.Template.Spec, true
	case "Pod", "CronJob":
		t.Fatalf("%s/%s: the chart renders no %s; teach this test where its pod template is", u.GetKind(), u.GetName(), u.GetKind())
	}
	return nil, false
}

func checkRestrictedPod(t *testing.T, what string, spec *corev1.PodSpec) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("%s: pod securityContext.runAsNonRoot is not true", what)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod seccompProfile is not RuntimeDefault", what)
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Errorf("%s: uses a host namespace", what)
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			t.Errorf("%s: hostPath volume %s", what, v.Name)
		}
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		cw := what + " container " + c.Name
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s: no securityContext", cw)
			continue
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s: readOnlyRootFilesystem is not true", cw)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s: allowPrivilegeEscalation is not false", cw)
		case sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
			t.Errorf("%s: capabilities are not drop [ALL], add none", cw)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("%s: privileged", cw)
		case sc.RunAsUser != nil && *sc.RunAsUser == 0:
			t.Errorf("%s: runs as root", cw)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Requests[r]; !ok {
				t.Errorf("%s: no %s request", cw, r)
			}
			if _, ok := c.Resources.Limits[r]; !ok {
				t.Errorf("%s: no %s limit", cw, r)
			}
		}
		checkProbe(t, cw+" livenessProbe", c, c.LivenessProbe, "/healthz")
		checkProbe(t, cw+" readinessProbe", c, c.ReadinessProbe, "/readyz")
	}
}

// checkProbe wants an HTTP probe of path on the port the manager serves its
// health endpoints on (its --health-probe-bind-address).
func checkProbe(t *testing.T, what string, c corev1.Container, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s: missing or not httpGet", what)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s: path %q, want %q", what, p.HTTPGet.Path, path)
	}
	var addr string
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--health-probe-bind-address="); ok {
			addr = v
		}
	}
	port := p.HTTPGet.Port.String()
	for _, cp := range c.Ports {
		if cp.Name == port {
			port = strconv.Itoa(int(cp.ContainerPort))
		}
	}
	if addr == "" || !strings.HasSuffix(addr, ":"+port) {
		t.Errorf("%s: port %s is not the health probe address %q", what, p.HTTPGet.Port.String(), addr)
	}
}

// TestChartRBAC checks every Role and ClusterRole the chart renders: no
// wildcard, no access to Secrets, a written reason beside every
// cluster-wide grant, and the manager's ClusterRole exactly the rules
// controller-gen generated from the controllers' markers.
func TestChartRBAC(t *testing.T) {
	var generated rbacv1.ClusterRole
	readYAML(t, "config/rbac/role.yaml", &generated)
	if len(generated.Rules) == 0 {
		t.Fatal("config/rbac/role.yaml has no rules")
	}
	for name, args := range valueSets(t) {
		t.Run(name, func(t *testing.T) {
			manifest := render(t, args...)
			checkClusterScopedReasons(t, manifest)
			sawManager := false
			for _, u := range decode(t, manifest) {
				if u.GetKind() != "Role" && u.GetKind() != "ClusterRole" {
					continue
				}
				var role rbacv1.ClusterRole // a Role's fields are the same
				if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &role); err != nil {
					t.Fatal(err)
				}
				what := u.GetKind() + "/" + u.GetName()
				checkRules(t, what, role.Rules)
				if u.GetKind() == "ClusterRole" && strings.HasSuffix(u.GetName(), "-manager") {
					sawManager = true
					if !reflect.DeepEqual(role.Rules, generated.Rules) {
						t.Errorf("%s differs from config/rbac/role.yaml (run make chart-files):\n got %v\nwant %v", what, role.Rules, generated.Rules)
					}
				}
			}
			if !sawManager {
				t.Error("no manager ClusterRole rendered")
			}
		})
	}
}

func checkRules(t *testing.T, what string, rules []rbacv1.PolicyRule) {
	t.Helper()
	for _, r := range rules {
		for _, list := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.NonResourceURLs, r.ResourceNames} {
			for _, s := range list {
				if strings.Contains(s, "*") {
					t.Errorf("%s: wildcard %q in rule %v", what, s, r)
				}
			}
		}
		for _, res := range r.Resources {
			if res == "secrets" || strings.HasPrefix(res, "secrets/") {
				t.Errorf("%s: grants %v on %s", what, r.Verbs, res)
			}
		}
		for _, v := range r.Verbs {
			if v == "escalate" || v == "bind" || v == "impersonate" {
				t.Errorf("%s: grants %s", what, v)
			}
		}
	}
}

// checkClusterScopedReasons wants a comment line directly above every
// ClusterRole and ClusterRoleBinding in the rendered manifest saying why it
// is cluster-wide.
func checkClusterScopedReasons(t *testing.T, manifest string) {
	t.Helper()
	for _, doc := range strings.Split(manifest, "\n---") {
		kind := regexp.MustCompile(`(?m)^kind: (\S+)`).FindStringSubmatch(doc)
		if kind == nil || (kind[1] != "ClusterRole" && kind[1] != "ClusterRoleBinding") {
			continue
		}
		name := regexp.MustCompile(`(?m)^  name: (\S+)`).FindStringSubmatch(doc)
		if !regexp.MustCompile(`(?m)^# Cluster-wide[:,] \S`).MatchString(doc) {
			t.Errorf("%s %s has no \"# Cluster-wide: <reason>\" comment", kind[1], name[len(name)-1])
		}
	}
}

// TestChartCRDs checks that the chart installs exactly the CRDs
// controller-gen generates, and none when crds.install is false.
func TestChartCRDs(t *testing.T) {
	want := map[string]any{}
	files, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	for _, f := range files {
		var crd map[string]any
		readYAML(t, strings.TrimPrefix(f, root+"/"), &crd)
		want[crd["metadata"].(map[string]any)["name"].(string)] = crd["spec"]
	}
	got := map[string]any{}
	for _, u := range decode(t, render(t)) {
		if u.GetKind() == "CustomResourceDefinition" {
			got[u.GetName()] = u.Object["spec"]
			if u.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
				t.Errorf("CRD %s: not kept on uninstall", u.GetName())
			}
		}
	}
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("chart renders CRDs %d, config/crd/bases has %d", len(got), len(want))
	}
	for name, spec := range want {
		// Both sides went through YAML to JSON-like maps, so numbers compare
		// alike; any difference is drift (run make chart-files).
		if !reflect.DeepEqual(normalize(t, got[name]), normalize(t, spec)) {
			t.Errorf("CRD %s in the chart differs from config/crd/bases", name)
		}
	}
	for _, u := range decode(t, render(t, "--set", "crds.install=false")) {
		if u.GetKind() == "CustomResourceDefinition" {
			t.Errorf("crds.install=false still renders CRD %s", u.GetName())
		}
	}
}

// normalize round-trips v through JSON, so that int64 and float64 of the same
// number compare equal.
func normalize(t *testing.T, v any) any {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := yaml.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestChartSchema checks that values.schema.json turns wrong values away
// with a message naming the value.
func TestChartSchema(t *testing.T) {
	for _, c := range []struct{ set, want string }{
		{"replicas=two", "/replicas"},
		{"manager.executor=pods", "'job', 'local'"},
		{"manager.logLevel=verbose", "/manager/logLevel"},
		{"manager.statusInterval=soon", "/manager/statusInterval"},
		{"image.digest=latest", "/image/digest"},
		{"metrics.port=80", "/metrics/port"},
		{"resources.limits.cpu=lots", "/resources/limits/cpu"},
		{"replica=2", "replica"},
		// Rules across values, checked by the templates.
		{"metrics.enabled=false,metrics.serviceMonitor.enabled=true", "needs metrics.enabled"},
		{"serviceAccount.create=false", "serviceAccount.name is required"},
	} {
		_, err := run(t, nil, helmBin, "template", "sweep", chartDir, "--set", c.set)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--set %s: got %v, want an error mentioning %q", c.set, err, c.want)
		}
	}
}

// TestVersion checks that the project's version has one source: the VERSION
// file, stamped into Chart.yaml by make chart-files and matching cmd/sweep's
// default (which make build overrides with the same file).
func TestVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(b))
	var chart struct{ Version, AppVersion string }
	readYAML(t, "charts/sweep/Chart.yaml", &chart)
	if chart.AppVersion != version || "v"+chart.Version != version {
		t.Errorf("Chart.yaml version %s, appVersion %s; VERSION is %s (run make chart-files)", chart.Version, chart.AppVersion, version)
	}
	src, err := os.ReadFile(filepath.Join(root, "cmd", "sweep", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^var version = "([^"]+)"`).FindSubmatch(src)
	if m == nil || string(m[1]) != version {
		t.Errorf("cmd/sweep/main.go: version default %q, VERSION is %s", m, version)
	}
}

// TestChartMonitoring checks the optional monitoring objects rendered with
// the production values: dashboards are JSON Grafana can load, labelled for
// its sidecar and with the extra labels, and the PrometheusRule has rules.
func TestChartMonitoring(t *testing.T) {
	objs := decode(t, render(t, "-f", filepath.Join(chartDir, "ci", "production-values.yaml")))
	dashboards, rules := 0, 0
	for _, u := range objs {
		switch u.GetKind() {
		case "ConfigMap":
			if u.GetLabels()["grafana_dashboard"] != "1" || u.GetLabels()["release"] != "kube-prometheus-stack" {
				t.Errorf("ConfigMap %s: labels %v lack the sidecar's or the extra ones", u.GetName(), u.GetLabels())
			}
			data, _, _ := unstructured.NestedStringMap(u.Object, "data")
			for key, text := range data {
				var d struct {
					Title  string
					Panels []any
				}
				if err := json.Unmarshal([]byte(text), &d); err != nil || d.Title == "" || len(d.Panels) == 0 {
					t.Errorf("ConfigMap %s key %s: not a dashboard with a title and panels: %v", u.GetName(), key, err)
				}
				dashboards++
			}
		case "PrometheusRule":
			groups, _, _ := unstructured.NestedSlice(u.Object, "spec", "groups")
			for _, g := range groups {
				r, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
				rules += len(r)
			}
		}
	}
	if dashboards == 0 || rules == 0 {
		t.Errorf("rendered %d dashboards and %d rules, want some of each", dashboards, rules)
	}
}

// TestChartAdmissionPolicies checks that the chart renders exactly the
// admission policies and bindings of config/admission, on by default, named
// after the release, exempting the chart's own ServiceAccount instead of
// config/default's, and none when admissionPolicies.enabled is false.
func TestChartAdmissionPolicies(t *testing.T) {
	const kustOperator = "system:serviceaccount:sweep-system:sweep-controller-manager"
	chartOperator := "system:serviceaccount:" + namespace + ":" + serviceAccount
	want := map[string]any{}
	for _, u := range decode(t, must(t, nil, filepath.Join(root, "bin", "kustomize"), "build", filepath.Join(root, "config", "admission"))) {
		spec, err := json.Marshal(u.Object["spec"])
		if err != nil {
			t.Fatal(err)
		}
		if u.GetKind() == "ValidatingAdmissionPolicy" && !strings.Contains(string(spec), kustOperator) {
			t.Errorf("config/admission %s does not exempt %s", u.GetName(), kustOperator)
		}
		spec = []byte(strings.ReplaceAll(string(spec), kustOperator, chartOperator))
		spec = []byte(strings.ReplaceAll(string(spec), `"policyName":"`, `"policyName":"`+release+"-"))
		var v any
		if err := json.Unmarshal(spec, &v); err != nil {
			t.Fatal(err)
		}
		want[u.GetKind()+"/"+release+"-"+u.GetName()] = v
	}
	if len(want) != 12 {
		t.Errorf("config/admission has %d objects, want 6 policies and 6 bindings", len(want))
	}
	got := map[string]any{}
	for _, u := range decode(t, render(t)) {
		if strings.HasPrefix(u.GetKind(), "ValidatingAdmissionPolicy") {
			got[u.GetKind()+"/"+u.GetName()] = normalize(t, u.Object["spec"])
		}
	}
	if len(got) != len(want) {
		t.Errorf("the chart renders %d admission policies and bindings, config/admission has %d", len(got), len(want))
	}
	for name, w := range want {
		if g := got[name]; !reflect.DeepEqual(normalize(t, w), normalize(t, g)) {
			t.Errorf("the chart's %s differs from config/admission's (run make chart-files):\n got %v\nwant %v", name, g, w)
		}
	}
	for _, u := range decode(t, render(t, "--set", "admissionPolicies.enabled=false")) {
		if strings.HasPrefix(u.GetKind(), "ValidatingAdmissionPolicy") {
			t.Errorf("admissionPolicies.enabled=false still renders %s %s", u.GetKind(), u.GetName())
		}
	}
}
