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

package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/masstesting/sweep/internal/testenv"
)

// The CLI tests run each command as a user would, against a real
// kube-apiserver (envtest) through a kubeconfig file, and compare what it
// prints with golden files in testdata/. The control plane starts when the
// first test needs it (apiServer, called by createNamespace), so the tests
// named …Pure run without one.

var (
	update    = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")
	plane     = &testenv.Plane{CRDs: filepath.Join("..", "..", "config", "crd", "bases"), Ready: connect}
	testEnv   *envtest.Environment
	k8s       client.Client
	adminConf string // kubeconfig of a cluster admin
	confDir   string // where the kubeconfigs are
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if err := plane.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping envtest:", err)
	}
	if confDir != "" {
		_ = os.RemoveAll(confDir)
	}
	os.Exit(code)
}

// apiServer starts the control plane if no test has yet; every test that
// talks to the API server calls it (most through createNamespace) before
// it uses k8s, testEnv or adminConf.
func apiServer(t *testing.T) {
	t.Helper()
	plane.Start(t)
}

// connect makes the test's client and the admin's kubeconfig once the
// control plane runs.
func connect(env *envtest.Environment, cfg *rest.Config) (err error) {
	testEnv = env
	if k8s, err = client.New(cfg, client.Options{Scheme: newScheme()}); err != nil {
		return err
	}
	if confDir, err = os.MkdirTemp("", "sweep-cli-test"); err != nil {
		return err
	}
	adminConf, err = writeKubeconfig(confDir, envtest.User{Name: "ops-admin", Groups: []string{"system:masters"}})
	return err
}

func writeKubeconfig(dir string, u envtest.User) (string, error) {
	user, err := testEnv.AddUser(u, nil)
	if err != nil {
		return "", err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, u.Name+".kubeconfig")
	return path, os.WriteFile(path, kc, 0o600)
}

// sweep runs the command line args as the given kubeconfig's user and
// returns what it printed on stdout and stderr.
func sweep(t *testing.T, kubeconfig string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return sweepAt(t, nil, kubeconfig, args...)
}

// sweepAt is sweep with the command's clock fixed at now (nil: the time).
func sweepAt(t *testing.T, now *time.Time, kubeconfig string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &cli{out: &out, errOut: &errOut, prog: "sweep"}
	if now != nil {
		c.now = func() time.Time { return *now }
	}
	if len(args) > 0 && kubeconfig != "" {
		args = append(args, "--kubeconfig", kubeconfig)
	}
	err = c.run(context.Background(), args)
	return out.String(), errOut.String(), err
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./cmd/sweep -update` to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (rerun with -update if the change is intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func createNamespace(t *testing.T, name string) {
	t.Helper()
	apiServer(t)
	if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

func TestProgNameAsKubectlPluginPure(t *testing.T) {
	for argv0, want := range map[string]string{"/usr/local/bin/kubectl-sweep": "kubectl sweep", "bin/sweep": "sweep", "kubectl-sweep.exe": "kubectl sweep"} {
		if got := progName(argv0); got != want {
			t.Errorf("progName(%q) = %q, want %q", argv0, got, want)
		}
	}
	var errOut bytes.Buffer
	c := &cli{out: &bytes.Buffer{}, errOut: &errOut, prog: "kubectl sweep"}
	if err := c.run(context.Background(), []string{"status", "-h"}); err != nil {
		t.Fatalf("-h is not an error: %v", err)
	}
	for _, want := range []string{"Usage: kubectl sweep status", "--context", "--kubeconfig", "-n, --namespace"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("status -h lacks %q:\n%s", want, errOut.String())
		}
	}
}

// Asking a command for help is not a failure, whichever flag package the
// command uses (manager and collect used to exit 1 with "flag: help
// requested").
func TestEveryCommandTakesHelpPure(t *testing.T) {
	for _, cmd := range []string{"status", "import", "missed", "report", "manager", "collect"} {
		c := &cli{out: &bytes.Buffer{}, errOut: &bytes.Buffer{}, prog: "sweep"}
		if err := c.run(context.Background(), []string{cmd, "--help"}); err != nil {
			t.Errorf("sweep %s --help: %v, want no error", cmd, err)
		}
	}
}

func TestUnknownSubcommandPure(t *testing.T) {
	_, stderr, err := sweep(t, "", "sweeep")
	if err == nil || !strings.Contains(err.Error(), `unknown subcommand "sweeep"`) || !strings.Contains(stderr, "import") {
		t.Errorf("err %v, usage %q", err, stderr)
	}
}
