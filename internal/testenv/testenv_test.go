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

package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repo makes a repository with a package directory and chdirs into that
// package, as go test does; withK8s adds bin/k8s/kube-apiserver.
func repo(t *testing.T, withK8s bool) (root string) {
	t.Helper()
	root = t.TempDir()
	pkg := filepath.Join(root, "controllers")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if withK8s {
		if err := os.MkdirAll(filepath.Join(root, "bin", "k8s"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "bin", "k8s", "kube-apiserver"), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(pkg)
	return root
}

func TestAssetsDirPure(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", "")
	root := repo(t, true)
	if got, want := AssetsDir(), filepath.Join(root, "bin", "k8s"); got != want {
		t.Errorf("with bin/k8s built: AssetsDir() = %q, want %q", got, want)
	}
	t.Setenv("KUBEBUILDER_ASSETS", "/opt/k8s")
	if got := AssetsDir(); got != "/opt/k8s" {
		t.Errorf("with KUBEBUILDER_ASSETS set: AssetsDir() = %q, want /opt/k8s", got)
	}
	t.Setenv("KUBEBUILDER_ASSETS", "")
	repo(t, false)
	if got := AssetsDir(); got != "" {
		t.Errorf("without bin/k8s: AssetsDir() = %q, want none", got)
	}
}

// fatalTB records the test's failure instead of failing this test.
type fatalTB struct {
	testing.TB
	name string
	msg  string
}

func (f *fatalTB) Name() string { return f.name }
func (f *fatalTB) Helper()      {}
func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	panic(f)
}
func (f *fatalTB) Fatalf(format string, args ...any) { f.Fatal(fmt.Sprintf(format, args...)) }

// startFails runs p.Start as the test named name and returns why it failed
// ("" when it did not).
func startFails(p *Plane, name string) (msg string) {
	tb := &fatalTB{name: name}
	defer func() {
		if r := recover(); r != nil && r != any(tb) {
			panic(r)
		}
		msg = tb.msg
	}()
	p.Start(tb)
	return ""
}

// A test that needs the API server fails, saying how to build one, when
// there is none; and a test named as needing none may not start one.
func TestStartFailsWithoutAControlPlanePure(t *testing.T) {
	t.Setenv("KUBEBUILDER_ASSETS", "")
	repo(t, false)
	p := &Plane{CRDs: "crds"}
	for i := range 2 { // and again: the failure is remembered, not retried
		if msg := startFails(p, "TestRoundExpands"); !strings.Contains(msg, "make k8s-bin") {
			t.Errorf("start %d without bin/k8s: %q, want a failure that says to run make k8s-bin", i, msg)
		}
	}
	for _, name := range []string{"TestTrimPure", "TestReconcileTable/expired"} {
		if msg := startFails(&Plane{}, name); !strings.Contains(msg, "rename it") {
			t.Errorf("%s started the control plane: %q", name, msg)
		}
	}
	if err := p.Stop(); err != nil {
		t.Errorf("stopping a plane that never started: %v", err)
	}
}
