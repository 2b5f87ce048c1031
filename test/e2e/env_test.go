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

// Package e2e runs Sweep whole on a real control plane: etcd,
// kube-apiserver, kube-controller-manager (the Job controller and the
// garbage collector), kube-scheduler and kwok's fake nodes, all from
// bin/k8s and started by hack/cluster.sh. The manager runs as a process
// outside the cluster, as `sweep manager` built from this tree, with the
// job executor; internal/testharness/kubelet plays the kubelet for visit pods.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testharness"
	"github.com/masstesting/sweep/internal/testharness/kubelet"
)

var (
	root      string // the repository
	k8sBin    string // bin/k8s
	sweepBin  string // sweep built from this tree for this run
	scheme    = runtime.NewScheme()
	buildOnce sync.Once
	buildErr  error
)

func TestMain(m *testing.M) {
	wd, _ := os.Getwd()
	root = filepath.Join(wd, "..", "..")
	k8sBin = filepath.Join(root, "bin", "k8s")
	// The tests' own API client logs nothing worth reading.
	ctrllog.SetLogger(logr.Discard())
	_ = clientgoscheme.AddToScheme(scheme)
	_ = sweepv1alpha1.AddToScheme(scheme)
	dir, err := os.MkdirTemp("", "sweep-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sweepBin = filepath.Join(dir, "sweep")
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildSweep builds the sweep binary once per test run, from this tree.
func buildSweep(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-o", sweepBin, "./cmd/sweep")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/sweep: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// cluster is one local cluster from hack/cluster.sh, torn down when the test ends.
type cluster struct {
	name, dir, kubeconfig string
	local                 *testharness.Cluster // runs hack/cluster.sh's verbs
	c                     client.Client
	cs                    kubernetes.Interface
	kubelet               *kubelet.Kubelet
}

// startCluster starts a cluster with the CRDs installed and the kubelet
// harness running. decide may be nil (every visit pod runs its collector).
func startCluster(t *testing.T, decide func(*corev1.Pod) kubelet.Action) *cluster {
	t.Helper()
	if _, err := os.Stat(filepath.Join(k8sBin, "kwokctl")); err != nil {
		t.Fatalf("bin/k8s has no kwokctl: run `make k8s-bin` first (%v)", err)
	}
	buildSweep(t)
	local := testharness.NewCluster("sweep-e2e-", t.TempDir())
	local.Root = root
	cl := &cluster{name: local.Name, dir: local.Dir, kubeconfig: local.Kubeconfig(), local: local}
	testharness.StartCluster(t, local)

	cfg, err := clientcmd.BuildConfigFromFlags("", cl.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	if cl.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		t.Fatal(err)
	}
	cl.cs = kubernetes.NewForConfigOrDie(cfg)
	cl.kubectl(t, "apply", "--server-side", "-f", filepath.Join(root, "config", "crd", "bases"))
	for _, crd := range []string{"buildings", "testingrounds", "collectionjobs"} {
		await(t, time.Minute, "CRD "+crd+" established", func(ctx context.Context) (bool, error) {
			return testharness.CRDEstablished(ctx, cl.c, crd+".sweep.masstesting.io")
		})
	}

	cl.installPolicies(t)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cl.kubelet = &kubelet.Kubelet{Client: cl.cs, Binary: sweepBin, Kubeconfig: cl.kubeconfig, Decide: decide, Workers: 64}
	cl.kubelet.Start(ctx)
	return cl
}

// installPolicies installs the admission policies as shipped
// (config/admission, which config/default and the chart include), so that
// every test runs under them; the manager here runs as a cluster admin
// (system:masters), which they exempt. It returns once they refuse.
func (cl *cluster) installPolicies(t *testing.T) {
	t.Helper()
	manifest := filepath.Join(cl.dir, "admission.yaml")
	out, err := exec.Command(filepath.Join(root, "bin", "kustomize"), "build", filepath.Join(root, "config", "admission")).CombinedOutput()
	if err != nil {
		t.Fatalf("kustomize build config/admission: %v\n%s", err, out)
	}
	if err := os.WriteFile(manifest, out, 0o600); err != nil {
		t.Fatal(err)
	}
	cl.kubectl(t, "apply", "--server-side", "-f", manifest)

	// Policies take effect a moment after they are stored. A user who may do
	// anything by RBAC but is no cluster admin probes two of them (built-in
	// kinds, whose schema no change here affects) with dry runs until both
	// refuse.
	ctx := context.Background()
	probe := "sweep-e2e-policy-probe"
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: probe},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: probe}}}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "sweep-collector"}}
	for _, o := range []client.Object{crb, sa} {
		if err := cl.c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	as := cl.as(t, probe)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "policy-probe"},
		Spec: corev1.PodSpec{ServiceAccountName: "sweep-collector", Containers: []corev1.Container{{Name: "c", Image: "probe"}}}}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "policy-probe"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: *pod.Spec.DeepCopy()}}}
	job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	for _, o := range []client.Object{pod, job} {
		await(t, time.Minute, fmt.Sprintf("the admission policies to refuse a %T", o), func(ctx context.Context) (bool, error) {
			err := as.Create(ctx, o.DeepCopyObject().(client.Object), client.DryRunAll)
			if err == nil {
				return false, nil
			}
			if apierrors.IsForbidden(err) && strings.Contains(err.Error(), "ValidatingAdmissionPolicy") {
				return true, nil
			}
			return false, err
		})
	}
	if err := cl.c.Delete(ctx, crb); err != nil {
		t.Fatal(err)
	}
}

// as is a client that impersonates user (in group system:authenticated,
// as every signed-in user is), for what RBAC grants that user.
func (cl *cluster) as(t *testing.T, user string) client.Client {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", cl.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (cl *cluster) kubectl(t *testing.T, args ...string) {
	t.Helper()
	run(t, filepath.Join(k8sBin, "kubectl"), append([]string{"--kubeconfig", cl.kubeconfig}, args...)...)
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// namespace creates a namespace for one test's objects.
func (cl *cluster) namespace(t *testing.T, name string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := cl.c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return name
}

// manager is one `sweep manager` process.
type manager struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

// startManager runs the manager with the job executor against the cluster.
// Its log (JSON lines) goes to a file in the cluster's directory.
func (cl *cluster) startManager(t *testing.T, id string, extra ...string) *manager {
	t.Helper()
	m, err := cl.launchManager(id, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.stop()
		if t.Failed() {
			tail, _ := exec.Command("tail", "-n", "40", m.log).Output()
			t.Logf("last lines of %s:\n%s", filepath.Base(m.log), tail)
		}
	})
	return m
}

// launchManager starts one `sweep manager` process; the caller stops it.
func (cl *cluster) launchManager(id string, extra ...string) (*manager, error) {
	// The cluster is named by --kubeconfig, as kubebuilder managers take
	// it, not by KUBECONFIG: every end-to-end test starts it that way.
	args := append([]string{"manager", "--kubeconfig=" + cl.kubeconfig, "--executor=job", "--collector-image=sweep:e2e",
		"--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0"}, extra...)
	m := &manager{log: filepath.Join(cl.dir, "manager-"+id+".log"), exited: make(chan struct{})}
	f, err := os.OpenFile(m.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	m.cmd = exec.Command(sweepBin, args...)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KUBECONFIG=") {
			m.cmd.Env = append(m.cmd.Env, e)
		}
	}
	m.cmd.Stdout, m.cmd.Stderr = f, f
	if err := m.cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	go func() { _ = m.cmd.Wait(); f.Close(); close(m.exited) }()
	return m, nil
}

// stop ends the manager as Kubernetes ends a pod: SIGTERM, then SIGKILL
// after a grace period.
func (m *manager) stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(30 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.exited
	}
}

// kill stops the manager the hard way, as the OOM killer or a lost node would.
func (m *manager) kill(t *testing.T) {
	t.Helper()
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-m.exited
}

// logLines returns the manager's log, one decoded JSON object per line; a
// line that is not JSON fails the test.
func (m *manager) logLines(t *testing.T) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(m.log)
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Errorf("%s line %d is not structured (JSON): %q", filepath.Base(m.log), n, sc.Text())
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// await is testharness.Await polling at this suite's pace (a real API
// server and a manager process: a quarter second is soon enough).
func await(t *testing.T, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	testharness.Await(t, what, timeout, 250*time.Millisecond, cond)
}

func (cl *cluster) round(t *testing.T, ns, name string) *sweepv1alpha1.TestingRound {
	t.Helper()
	var tr sweepv1alpha1.TestingRound
	if err := cl.c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &tr); err != nil {
		t.Fatal(err)
	}
	return &tr
}

func (cl *cluster) awaitRoundPhase(t *testing.T, ns, name string, phase sweepv1alpha1.RoundPhase, timeout time.Duration) *sweepv1alpha1.TestingRound {
	t.Helper()
	var tr sweepv1alpha1.TestingRound
	await(t, timeout, fmt.Sprintf("round %s/%s to be %s", ns, name, phase), func(ctx context.Context) (bool, error) {
		if err := cl.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &tr); err != nil {
			return false, err
		}
		return tr.Status.Phase == phase, nil
	})
	return &tr
}

func (cl *cluster) jobs(t *testing.T, ns string) []sweepv1alpha1.CollectionJob {
	t.Helper()
	var l sweepv1alpha1.CollectionJobList
	if err := cl.c.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func (cl *cluster) visitJobs(t *testing.T, ns string) []batchv1.Job {
	t.Helper()
	var l batchv1.JobList
	if err := cl.c.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func (cl *cluster) buildings(t *testing.T, ns string) []sweepv1alpha1.Building {
	t.Helper()
	var l sweepv1alpha1.BuildingList
	if err := cl.c.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return l.Items
}
