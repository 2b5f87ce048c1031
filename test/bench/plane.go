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
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testharness"
)

// plane is a fresh etcd and kube-apiserver (envtest) with Sweep's CRDs, an
// admin kubeconfig on disk for the processes the benchmark starts, and
// unthrottled clients for the benchmark itself.
type plane struct {
	env        *envtest.Environment
	cfg        *rest.Config // the admin's, with client-go's default limits
	dir        string
	kubeconfig string
	c          client.Client
	cs         kubernetes.Interface
	meta       metadata.Interface
	dyn        dynamic.Interface
	apiLog     *os.File
}

func startPlane(k8sBin, crds string) (*plane, error) {
	p := &plane{env: &envtest.Environment{CRDDirectoryPaths: []string{crds}, ErrorIfCRDPathMissing: true, BinaryAssetsDirectory: k8sBin}}
	var err error
	if p.dir, err = os.MkdirTemp("", "sweep-bench"); err != nil {
		return nil, err
	}
	// The API server's own log, for finding out why a large run slows
	// down (closed watchers, slow requests); kept with SWEEP_BENCH_KEEP=1.
	if p.apiLog, err = os.Create(filepath.Join(p.dir, "kube-apiserver.log")); err != nil {
		_ = os.RemoveAll(p.dir)
		return nil, err
	}
	api := p.env.ControlPlane.GetAPIServer()
	api.Out, api.Err = p.apiLog, p.apiLog
	// -v=1 logs the watch cache closing a watcher that fell behind.
	api.Configure().Set("v", "1")
	// The watch cache's consistency checker (beta, on by default) lists
	// every object of every resource from etcd and from the cache every 5
	// to 7.5 minutes and digests them: at 50,000 jobs and 50,000 Buildings,
	// 14 % of the API server's CPU in a profile of the round. It checks the
	// API server, not Sweep, and it would tax the long round far more than
	// the short ceiling it is compared with; every control plane here runs
	// without it.
	api.Configure().Set("feature-gates", "DetectCacheInconsistency=false")
	cfg, err := p.env.Start()
	if err != nil {
		_ = p.apiLog.Close()
		return nil, fmt.Errorf("starting the control plane (its log is in %s): %w", p.dir, err)
	}
	if err := p.setUp(cfg); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

func (p *plane) setUp(cfg *rest.Config) error {
	admin, err := p.env.AddUser(envtest.User{Name: "bench-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return err
	}
	p.kubeconfig = filepath.Join(p.dir, "kubeconfig")
	if err := os.WriteFile(p.kubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	p.cfg = rest.CopyConfig(cfg)
	fast := rest.CopyConfig(cfg)
	fast.RateLimiter = flowcontrol.NewFakeAlwaysRateLimiter() // unthrottled
	scheme := clientgoscheme.Scheme
	if err := sweepv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	if p.c, err = client.New(fast, client.Options{Scheme: scheme}); err != nil {
		return err
	}
	p.cs = kubernetes.NewForConfigOrDie(fast)
	p.meta = metadata.NewForConfigOrDie(fast)
	p.dyn = dynamic.NewForConfigOrDie(fast)
	return nil
}

func (p *plane) stop() {
	_ = p.env.Stop()
	if p.apiLog != nil {
		_ = p.apiLog.Close()
	}
	if p.dir != "" && os.Getenv("SWEEP_BENCH_KEEP") == "" {
		_ = os.RemoveAll(p.dir)
	}
}

func (p *plane) namespace(ctx context.Context, name string) error {
	return p.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

// buildings creates a roster of n Buildings in forty communities. Not
// measured: as fast as the API server takes them.
func (p *plane) buildings(ctx context.Context, ns string, n int) error {
	return parallel(n, 64, func(i int) error { return p.c.Create(ctx, benchBuilding(ns, i)) })
}

// benchBuilding is building i of every roster the benchmark makes: 100
// residents in 40 households, in one of forty communities.
func benchBuilding(ns string, i int) *sweepv1alpha1.Building {
	return &sweepv1alpha1.Building{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("b-%05d", i),
			Labels: map[string]string{sweepv1alpha1.LabelCommunity: fmt.Sprintf("c-%02d", i%40)}},
		Spec: sweepv1alpha1.BuildingSpec{Households: 40, Residents: 100, Units: 2, Floors: 10},
	}
}

// cityRound is the measured round: every building of ns, one instant
// drill visit each, as many teams as the schema allows up to n.
func cityRound(ns string, n int, start *metav1.Time) *sweepv1alpha1.TestingRound {
	return &sweepv1alpha1.TestingRound{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "city"},
		Spec: sweepv1alpha1.TestingRoundSpec{
			Start: start, Deadline: metav1.NewTime(time.Now().Add(6 * time.Hour)), Teams: int32(min(n, maxTeams)),
			Visits: sweepv1alpha1.VisitPolicy{Max: 1},
			Collector: sweepv1alpha1.CollectorSpec{CollectorSource: sweepv1alpha1.CollectorSource{
				Source: sweepv1alpha1.SourceDrill,
				Drill:  &sweepv1alpha1.DrillSource{Seed: 1, AbsentPercent: ptr.To[int32](0), StillAbsentPercent: ptr.To[int32](0)},
			}},
		},
	}
}

// sweepManager is `sweep manager` (local executor, instant drill) running
// as its own process against a plane, so that its RSS and heap are its own.
type sweepManager struct {
	cmd                   *exec.Cmd
	metricsURL, pprofAddr string
	log                   *os.File
	once                  sync.Once
}

func (p *plane) startManager(sweepBin string) (*sweepManager, error) {
	metricsAddr, err := testharness.FreeAddress()
	if err != nil {
		return nil, err
	}
	pprofAddr, err := testharness.FreeAddress()
	if err != nil {
		return nil, err
	}
	m := &sweepManager{metricsURL: "http://" + metricsAddr + "/metrics", pprofAddr: pprofAddr}
	m.cmd = exec.Command(sweepBin, "manager", "--executor=local", "--drill-time-scale=0",
		"--metrics-bind-address="+metricsAddr, "--metrics-secure=false", "--health-probe-bind-address=0",
		"--pprof-bind-address="+pprofAddr, fmt.Sprintf("--expansion-workers=%d", expansionWorkers),
		fmt.Sprintf("--kube-api-qps=%d", clientQPS), fmt.Sprintf("--kube-api-burst=%d", clientBurst))
	limits, err := chartLimits()
	if err != nil {
		return nil, err
	}
	// In a cluster the manager sets its Go memory limit to 90% of its
	// container's (cmd/sweep/manager.go), and Go sizes GOMAXPROCS to the
	// container's CPU limit rounded up; here, outside a container, it is
	// given the same limits the chart's default resources give it. A CPU
	// limit below one CPU is also throttled by the kernel in a pod, which
	// no environment variable does here: the manager may use a whole CPU.
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+p.kubeconfig,
		fmt.Sprintf("GOMEMLIMIT=%d", limits.memory*9/10), fmt.Sprintf("GOMAXPROCS=%d", limits.gomaxprocs()))
	if m.log, err = os.Create(filepath.Join(p.dir, "manager.log")); err != nil {
		return nil, err
	}
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	if err := m.cmd.Start(); err != nil {
		m.log.Close()
		return nil, err
	}
	if err := until(2*time.Minute, func() bool { _, err := scrape(m.metricsURL); return err == nil }); err != nil {
		m.stop()
		return nil, fmt.Errorf("the manager did not serve metrics: %w", err)
	}
	return m, nil
}

// managerLimits are the manager container's limits in the Helm chart's
// default values (resources.limits), and the create pipeline's workers it
// sets (manager.expansionWorkers).
type managerLimits struct {
	memory           int64 // bytes
	cpuMilli         int64
	expansionWorkers int
}

// gomaxprocs is what Go gives a container with this CPU limit: the limit
// rounded up to whole CPUs, at least one.
func (l managerLimits) gomaxprocs() int64 { return max(1, (l.cpuMilli+999)/1000) }

func chartLimits() (managerLimits, error) {
	const values = "charts/sweep/values.yaml"
	raw, err := os.ReadFile(values)
	if err != nil {
		return managerLimits{}, err
	}
	var v struct {
		Resources corev1.ResourceRequirements `json:"resources"`
		Manager   struct {
			ExpansionWorkers int `json:"expansionWorkers"`
		} `json:"manager"`
	}
	if err := yaml.Unmarshal(raw, &v); err != nil {
		return managerLimits{}, fmt.Errorf("%s: %w", values, err)
	}
	mem, ok := v.Resources.Limits[corev1.ResourceMemory]
	if !ok {
		return managerLimits{}, fmt.Errorf("%s: no resources.limits.memory", values)
	}
	cpu, ok := v.Resources.Limits[corev1.ResourceCPU]
	if !ok {
		return managerLimits{}, fmt.Errorf("%s: no resources.limits.cpu", values)
	}
	if v.Manager.ExpansionWorkers <= 0 {
		return managerLimits{}, fmt.Errorf("%s: no manager.expansionWorkers", values)
	}
	return managerLimits{memory: mem.Value(), cpuMilli: cpu.MilliValue(), expansionWorkers: v.Manager.ExpansionWorkers}, nil
}

// stop ends the manager (once; later calls do nothing).
func (m *sweepManager) stop() {
	m.once.Do(func() {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		_ = m.cmd.Wait()
		m.log.Close()
	})
}
