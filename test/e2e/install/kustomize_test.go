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
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// kustomizeBuild is `kustomize build config/default`, what make deploy
// applies.
func kustomizeBuild(t *testing.T) string {
	t.Helper()
	return must(t, nil, filepath.Join(root, "bin", "kustomize"), "build", filepath.Join(root, "config", "default"))
}

// TestKustomizeMatchesChart checks that config/default (make deploy) and the
// chart with its defaults install the same manager: the same pod and
// container security settings, resources, probes, ports, command and image,
// flags, and the same RBAC rules.
func TestKustomizeMatchesChart(t *testing.T) {
	kust := decode(t, kustomizeBuild(t))
	chart := decode(t, render(t))

	kd, cd := deployment(t, kust), deployment(t, chart)
	checkRestrictedPod(t, "config/default Deployment", &kd.Spec.Template.Spec)
	kp, cp := kd.Spec.Template.Spec, cd.Spec.Template.Spec
	kc, cc := kp.Containers[0], cp.Containers[0]
	for _, c := range []struct {
		what      string
		kust, hlm any
	}{
		{"pod securityContext", kp.SecurityContext, cp.SecurityContext},
		{"terminationGracePeriodSeconds", kp.TerminationGracePeriodSeconds, cp.TerminationGracePeriodSeconds},
		{"containers", len(kp.Containers), len(cp.Containers)},
		{"container securityContext", kc.SecurityContext, cc.SecurityContext},
		{"resources", kc.Resources, cc.Resources},
		{"livenessProbe", kc.LivenessProbe, cc.LivenessProbe},
		{"readinessProbe", kc.ReadinessProbe, cc.ReadinessProbe},
		{"ports", kc.Ports, cc.Ports},
		{"command", kc.Command, cc.Command},
		{"image", kc.Image, cc.Image},
		{"replicas", kd.Spec.Replicas, cd.Spec.Replicas},
	} {
		if !reflect.DeepEqual(c.kust, c.hlm) {
			t.Errorf("%s: config/default has %+v, the chart %+v", c.what, c.kust, c.hlm)
		}
	}
	// The chart spells out every flag; config/default relies on the
	// binary's defaults for most. Whatever config/default sets, the chart
	// sets the same way.
	for _, a := range kc.Args {
		if !slices.Contains(cc.Args, a) {
			t.Errorf("config/default passes %s, the chart does not (chart: %v)", a, cc.Args)
		}
	}

	for kname, cname := range map[string]string{
		"sweep-manager-role":         "sweep-manager",
		"sweep-leader-election-role": "sweep-leader-election",
		"sweep-metrics-auth-role":    "sweep-metrics-auth",
		"sweep-metrics-reader":       "sweep-metrics-reader",
	} {
		kr, cr := rules(t, kust, kname), rules(t, chart, cname)
		if !reflect.DeepEqual(kr, cr) {
			t.Errorf("rules of %s (config/default) and %s (chart) differ:\n%v\n%v", kname, cname, kr, cr)
		}
	}
	for _, u := range kust {
		if u.GetKind() == "Role" || u.GetKind() == "ClusterRole" {
			checkRules(t, "config/default "+u.GetKind()+"/"+u.GetName(), rules(t, kust, u.GetName()))
		}
	}
}

func deployment(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	var found []*appsv1.Deployment
	for _, u := range objs {
		if u.GetKind() == "Deployment" {
			d := &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, d); err != nil {
				t.Fatal(err)
			}
			found = append(found, d)
		}
	}
	if len(found) != 1 || len(found[0].Spec.Template.Spec.Containers) == 0 {
		t.Fatalf("want one Deployment with a container, got %d", len(found))
	}
	return found[0]
}

// rules are the rules of the Role or ClusterRole called name.
func rules(t *testing.T, objs []*unstructured.Unstructured, name string) []rbacv1.PolicyRule {
	t.Helper()
	for _, u := range objs {
		if (u.GetKind() == "Role" || u.GetKind() == "ClusterRole") && u.GetName() == name {
			var r rbacv1.ClusterRole
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r); err != nil {
				t.Fatal(err)
			}
			return r.Rules
		}
	}
	t.Fatalf("no Role or ClusterRole %s", name)
	return nil
}
