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

package kubelet

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/masstesting/sweep/internal/collector"
)

// TestContainerEnvPure: the first container's variables as the kubelet
// sets them (values, Secret keys), its ConfigMap volumes written under the
// directory given, and a path into a mount moved there; a missing Secret
// is an error, not an empty value.
func TestContainerEnvPure(t *testing.T) {
	g := Clientset(fake.NewSimpleClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "registry"}, Data: map[string][]byte{"token": []byte("s3cret")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "samples"}, Data: map[string]string{"samples.csv": "building,household\n"}},
	))
	spec := &corev1.PodSpec{
		Volumes: []corev1.Volume{{Name: "csv", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "samples"}}}}},
		Containers: []corev1.Container{{
			Env: []corev1.EnvVar{
				{Name: collector.EnvBuilding, Value: "b-1"},
				{Name: collector.EnvCSVFile, Value: collector.CSVMountDir + "/samples.csv"},
				{Name: collector.EnvHTTPToken, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: "registry"}, Key: "token"}}},
			},
			VolumeMounts: []corev1.VolumeMount{{Name: "csv", MountPath: collector.CSVMountDir}},
		}},
	}
	dir := t.TempDir()
	env, err := ContainerEnv(context.Background(), g, "ns", spec, dir)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, collector.CSVMountDir, "samples.csv")
	if env[collector.EnvBuilding] != "b-1" || env[collector.EnvHTTPToken] != "s3cret" || env[collector.EnvCSVFile] != file {
		t.Errorf("env %v; want the building, the Secret's token and the csv file at %s", env, file)
	}
	if data, err := os.ReadFile(file); err != nil || string(data) != "building,household\n" {
		t.Errorf("the mounted export reads %q, %v", data, err)
	}

	spec.Containers[0].Env[2].ValueFrom.SecretKeyRef.Name = "absent"
	if _, err := ContainerEnv(context.Background(), g, "ns", spec, t.TempDir()); !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), collector.EnvHTTPToken) {
		t.Errorf("a missing Secret gives %v; want its NotFound, naming the variable", err)
	}
	if err := Clientset(fake.NewSimpleClientset()).Get(context.Background(), client.ObjectKey{}, &corev1.Pod{}); err == nil {
		t.Error("the clientset Getter read a Pod; it reads only Secrets and ConfigMaps")
	}
}

// TestInProcessRunnerPure: a bad assignment is the runner's error, before
// anything is reported.
func TestInProcessRunnerPure(t *testing.T) {
	reported := false
	err := InProcess(reporterFunc(func() { reported = true }))(context.Background(), map[string]string{collector.EnvBuilding: "b-1"})
	if err == nil || !strings.Contains(err.Error(), collector.EnvNamespace+" is not set") || reported {
		t.Errorf("running with only a building: %v (reported %v); want the missing %s, nothing reported", err, reported, collector.EnvNamespace)
	}
}

type reporterFunc func()

func (f reporterFunc) Report(context.Context, collector.Assignment, collector.Outcome, bool) error {
	f()
	return nil
}
