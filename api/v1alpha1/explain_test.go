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
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/masstesting/sweep/internal/testenv"
)

// TestKubectlExplainShowsTheDocComments runs the real kubectl against the
// API server with the CRDs installed: what ops teams read with `kubectl
// explain` is the doc comments of the Go types.
func TestKubectlExplainShowsTheDocComments(t *testing.T) {
	apiServer(t)
	kubectl := filepath.Join(testenv.AssetsDir(), "kubectl")
	if _, err := os.Stat(kubectl); err != nil {
		t.Fatalf("kubectl not found with the control plane (built by hack/build-k8s.sh): %v", err)
	}
	user, err := testEnv.AddUser(envtest.User{Name: "explain", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}

	cases := map[string][]string{
		"testinground.spec.visits": {
			"is the re-knock policy",
			"max\t<integer>",
			"is the most visits a building gets in one round",
			"interval\t<string>",
			"At least one minute.",
		},
		"building.spec.homeVisit":               {"must be sampled at home"},
		"collectionjob.status.missedHouseholds": {"unit-room ids", "at most 500"},
	}
	for field, want := range cases {
		t.Run(field, func(t *testing.T) {
			var out string
			// The API server publishes a new CRD's OpenAPI a moment after
			// the CRD is established; wait for it rather than sleep.
			err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true,
				func(ctx context.Context) (bool, error) {
					b, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "explain", field).CombinedOutput()
					out = string(b)
					return err == nil, nil
				})
			if err != nil {
				t.Fatalf("kubectl explain %s never succeeded: %s", field, out)
			}
			t.Logf("kubectl explain %s:\n%s", field, out)
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("kubectl explain %s does not show %q:\n%s", field, w, out)
				}
			}
		})
	}
}
