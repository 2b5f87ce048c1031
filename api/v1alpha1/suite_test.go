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

package v1alpha1_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testenv"
)

// These tests run against a real kube-apiserver and etcd (envtest, binaries
// from bin/k8s built by hack/build-k8s.sh) with the generated CRDs, so that
// what they check is the schema ops teams actually get. The control plane
// starts when the first test needs it (apiServer), so the tests named
// …Pure run without one.
var (
	plane     = &testenv.Plane{CRDs: filepath.Join("..", "..", "config", "crd", "bases"), Ready: connect}
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := plane.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	os.Exit(code)
}

// apiServer starts the control plane if no test has yet; every test that
// talks to the API server calls it (or newNamespace, which does) before it
// uses cfg, k8sClient or testEnv.
func apiServer(t *testing.T) {
	t.Helper()
	plane.Start(t)
}

// connect makes the test's client once the control plane runs.
func connect(env *envtest.Environment, c *rest.Config) (err error) {
	testEnv, cfg = env, c
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = sweepv1alpha1.AddToScheme(scheme)
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	return err
}
