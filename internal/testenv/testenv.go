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

// Package testenv gives the envtest suites (controllers, cmd/sweep,
// api/v1alpha1) their control plane. It finds the kube-apiserver and etcd
// as kubebuilder's scaffold does, and starts them only when a test asks,
// so the tests that need no API server (named …Pure or …Table) run from a
// plain shell without bin/k8s.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// PureTests matches the names of the tests that need no API server: the
// pattern to give `go test -run` to run only them.
var PureTests = regexp.MustCompile(`Pure|Table`)

// AssetsDir is the directory of the control plane's binaries
// (kube-apiserver, etcd, kubectl): KUBEBUILDER_ASSETS when set (`make test`
// sets it), else the repository's bin/k8s (built by `make k8s-bin`) when it
// holds a kube-apiserver, else "".
func AssetsDir() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	root, err := repoRoot()
	if err != nil {
		return ""
	}
	d := filepath.Join(root, "bin", "k8s")
	if _, err := os.Stat(filepath.Join(d, "kube-apiserver")); err != nil {
		return ""
	}
	return d
}

// repoRoot is the nearest directory at or above the working directory (a
// test's is its package's) that holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Plane is a package's control plane, started by the first test that needs
// it and shared by the rest; TestMain stops it after m.Run.
type Plane struct {
	// CRDs is the directory of the CRDs to install.
	CRDs string
	// Ready runs once, after the control plane started; the suite makes
	// its clients here.
	Ready func(env *envtest.Environment, cfg *rest.Config) error

	once sync.Once
	env  *envtest.Environment
	cfg  *rest.Config
	err  error
}

// Start returns the running control plane, starting it on first use. The
// test fails, never skips, when there is none to start; a test whose name
// says it needs no API server fails too, so the names stay true.
func (p *Plane) Start(t testing.TB) (*envtest.Environment, *rest.Config) {
	t.Helper()
	if PureTests.MatchString(t.Name()) {
		t.Fatalf("%s needs the API server, but its name matches %q, the tests that run without one: rename it", t.Name(), PureTests)
	}
	p.once.Do(func() { p.err = p.start() })
	if p.err != nil {
		t.Fatal(p.err)
	}
	return p.env, p.cfg
}

func (p *Plane) start() error {
	dir := AssetsDir()
	if dir == "" {
		return errors.New("no control plane: KUBEBUILDER_ASSETS is not set and the repository's bin/k8s has no kube-apiserver; " +
			"run `make k8s-bin` (or `make test`), or run only the tests that need none with -run '" + PureTests.String() + "'")
	}
	p.env = &envtest.Environment{
		CRDDirectoryPaths:     []string{p.CRDs},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: dir,
	}
	cfg, err := p.env.Start()
	if err != nil {
		_ = p.env.Stop() // whatever did start
		p.env = nil
		return fmt.Errorf("starting envtest with the binaries in %s: %w", dir, err)
	}
	p.cfg = cfg
	if p.Ready != nil {
		if err := p.Ready(p.env, cfg); err != nil {
			return err
		}
	}
	return nil
}

// Stop stops the control plane if a test started it.
func (p *Plane) Stop() error {
	if p.env == nil {
		return nil
	}
	return p.env.Stop()
}
