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
	"crypto/tls"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/go-logr/logr"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/controllers"
	"github.com/masstesting/sweep/internal/expectations"
	"github.com/masstesting/sweep/internal/metrics"
)

// newScheme holds every type the manager reads or writes.
func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(sweepv1alpha1.AddToScheme(s))
	return s
}

// setMemoryLimit gives the Go runtime a soft memory limit of 90% of the
// container's (cgroup) memory limit, unless GOMEMLIMIT is set. Without one
// the heap may grow to twice what is live before a collection: at 50,000
// buildings about 250 MiB are live and the process peaked at 545 MiB, over
// the chart's 512 MiB limit, so the kubelet would OOM-kill it mid-round.
// With it the collector runs more often near the limit instead
// (docs/performance.md). Outside a container with a memory limit it does
// nothing.
func setMemoryLimit(logger logr.Logger) {
	log := logger.WithName("setup")
	_, err := memlimit.SetGoMemLimitWithOpts(
		memlimit.WithProvider(memlimit.FromCgroup),
		memlimit.WithLogger(slog.New(logr.ToSlogHandler(log.V(1)))),
	)
	if err != nil {
		log.V(1).Info("no container memory limit to follow", "reason", err.Error())
	}
	if limit := debug.SetMemoryLimit(-1); limit != 1<<63-1 {
		log.Info("Go memory limit", "bytes", limit)
	}
}

// runManager starts the controller manager: leader election, health probes
// and the metrics endpoint, served over HTTPS with Kubernetes authentication
// and authorization by default (controller-runtime's metrics filters), as
// kubebuilder scaffolds it.
func runManager(args []string) error {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	metricsAddr := fs.String("metrics-bind-address", ":8443", "address of the metrics endpoint; 0 disables it")
	secureMetrics := fs.Bool("metrics-secure", true, "serve metrics over HTTPS with authentication and authorization")
	probeAddr := fs.String("health-probe-bind-address", ":8081", "address of the /healthz and /readyz endpoints")
	leaderElect := fs.Bool("leader-elect", false, "elect a leader, so that only one of several replicas reconciles")
	leaseNamespace := fs.String("leader-election-namespace", "", "namespace of the leader election Lease (default: the pod's own; required outside a cluster)")
	leaseDuration := fs.Duration("leader-elect-lease-duration", 15*time.Second, "how long a standby waits after the leader's last renewal before it takes over")
	renewDeadline := fs.Duration("leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew before it gives up leading (and exits)")
	retryPeriod := fs.Duration("leader-elect-retry-period", 2*time.Second, "how often candidates try to acquire or renew the Lease")
	// kubebuilder's flags for a metrics certificate issued elsewhere (by
	// cert-manager, mounted from a Secret), so that scrapers can verify it.
	metricsCertPath := fs.String("metrics-cert-path", "", "directory of the metrics server's certificate and key (a mounted kubernetes.io/tls Secret); empty: a self-signed certificate made at start-up, which no scraper can verify")
	metricsCertName := fs.String("metrics-cert-name", "tls.crt", "file name of the metrics certificate (PEM, the chain from the server's certificate up) in --metrics-cert-path")
	metricsCertKey := fs.String("metrics-cert-key", "tls.key", "file name of the metrics certificate's private key (PEM) in --metrics-cert-path")
	enableHTTP2 := fs.Bool("enable-http2", false, "serve HTTP/2 on the metrics endpoint (off: CVE-2023-44487, CVE-2023-39325)")
	concurrency := fs.Int("max-concurrent-reconciles", 4, "rounds reconciled at once (collection jobs: four times as many)")
	// 16, as the chart sets: more creates in flight saturate a small
	// control plane's API server, which then closes the watches that fall
	// behind, the manager's own included (docs/rounds.md has the figures).
	workers := fs.Int("expansion-workers", 16, "CollectionJob creates in flight at most, for all rounds together (the create pipeline's workers)")
	statusInterval := fs.Duration("status-interval", time.Second, "least time between two status writes of one round that do not change its phase")
	// Sweep creates thousands of objects when a round expands; client-go's
	// default of 5 requests/s would take minutes. API Priority and Fairness
	// on the API server, not this client, is what protects the cluster.
	qps := fs.Float64("kube-api-qps", 500, "requests per second to the API server (negative: unlimited)")
	burst := fs.Int("kube-api-burst", 1000, "burst of requests to the API server")
	executor := fs.String("executor", "job", "how visits run: job (a batch/v1 Job per visit) or local (in this process, for demos and small installs)")
	collectorImage := fs.String("collector-image", "ghcr.io/masstesting/sweep:"+version, "image of the default collector pod (runs `sweep collect`)")
	drillTimeScale := fs.Float64("drill-time-scale", 1, "scale of the drill source's simulated visit time (1 = real time, 117 residents an hour per team; 0 = instant)")
	perBuilding := fs.Bool("metrics-per-building", false, "also export sweep_building_residents for every building of every round (a city has tens of thousands)")
	localWorkers := fs.Int("local-workers", 64, "visits run at once by the local executor")
	labOptions := labFlags(fs)
	pprofAddr := fs.String("pprof-bind-address", "0", "address of Go's /debug/pprof endpoints, for profiling a slow or large manager; 0 disables them (they are unauthenticated: bind to localhost)")
	// kubectl's and every kubebuilder manager's way to pick a cluster;
	// without them KUBECONFIG, then the pod's service account.
	config.RegisterFlags(fs)
	kubeContext := fs.String("context", "", "the kubeconfig context to use (default: its current context)")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(fs)
	if err := parseStdFlags(fs, args); err != nil {
		return err
	}
	logger := zap.New(zap.UseFlagOptions(&zapOpts))
	ctrl.SetLogger(logger)
	// client-go (leader election among others) logs through klog; send it
	// through the same structured logger so every line is JSON.
	klog.SetLogger(logger)
	setMemoryLimit(logger)
	labOpts, err := labOptions()
	if err != nil {
		return err
	}
	// The round controller polls the http lab sources with these
	// (lab.NewHTTPSource); wired with the lab follow-up.

	var tlsOpts []func(*tls.Config)
	if !*enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	// The named certificate, reloaded when its files change (a Secret
	// volume is updated in place when cert-manager renews it). Unreadable
	// at start-up is an error: falling back to a self-signed certificate
	// would only show as failed scrapes.
	var certWatcher *certwatcher.CertWatcher
	if *metricsCertPath != "" {
		if !*secureMetrics {
			return fmt.Errorf("--metrics-cert-path needs --metrics-secure: the certificate is only served over HTTPS")
		}
		var err error
		certWatcher, err = certwatcher.New(filepath.Join(*metricsCertPath, *metricsCertName), filepath.Join(*metricsCertPath, *metricsCertKey))
		if err != nil {
			return fmt.Errorf("loading the metrics certificate: %w", err)
		}
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.GetCertificate = certWatcher.GetCertificate })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   *metricsAddr,
		SecureServing: *secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if *secureMetrics {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}

	cfg, err := config.GetConfigWithContext(*kubeContext)
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme: newScheme(),
		// A city round caches tens of thousands of Buildings and jobs:
		// keep only what the controllers read.
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsOpts,
		HealthProbeBindAddress: *probeAddr,
		PprofBindAddress:       *pprofAddr,
		LeaderElection:         *leaderElect,
		LeaderElectionID:       "sweep.masstesting.io",
		// A leader that stops cleanly hands over at once instead of making
		// the standby wait out the lease; it exits right after, so there
		// is never a moment with two leaders.
		LeaderElectionReleaseOnCancel: true,
		LeaderElectionNamespace:       *leaseNamespace,
		LeaseDuration:                 leaseDuration,
		RenewDeadline:                 renewDeadline,
		RetryPeriod:                   retryPeriod,
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	if certWatcher != nil {
		// Started with the manager, on every replica (it needs no leader).
		if err := mgr.Add(certWatcher); err != nil {
			return fmt.Errorf("watching the metrics certificate: %w", err)
		}
	}
	// One store of what the manager knows that its cache does not show
	// yet, shared by the controllers: the round controller admits jobs in
	// it, and the collection controller starts them.
	memory := &expectations.Store{}
	roundController := &controllers.TestingRoundReconciler{
		Memory:         memory,
		Client:         mgr.GetClient(),
		Recorder:       mgr.GetEventRecorder("sweep-round-controller"),
		Workers:        *workers,
		StatusInterval: *statusInterval,
	}
	if err := roundController.SetupWithManager(mgr, *concurrency); err != nil {
		return fmt.Errorf("setting up the round controller: %w", err)
	}
	labController := &controllers.LabReconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("sweep-lab-controller"),
		Rounds:   roundController,
		Sources:  controllers.LabSources(mgr.GetAPIReader(), labOpts),
	}
	if err := labController.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the lab controller: %w", err)
	}
	scheduleController := &controllers.TestingScheduleReconciler{
		Memory:   memory,
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("sweep-schedule-controller"),
	}
	if err := scheduleController.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the schedule controller: %w", err)
	}
	var exec controllers.Executor
	switch *executor {
	case "job":
		exec = &controllers.JobExecutor{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Image: *collectorImage, DrillTimeScale: *drillTimeScale, Memory: memory}
	case "local":
		exec = controllers.NewLocalExecutor(mgr.GetClient(), *localWorkers, *drillTimeScale)
	default:
		return fmt.Errorf("--executor=%q: want job or local", *executor)
	}
	collectionController := &controllers.CollectionJobReconciler{
		Memory:   memory,
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorder("sweep-collection-controller"),
		Executor: exec,
	}
	if err := collectionController.SetupWithManager(mgr, *concurrency*4); err != nil {
		return fmt.Errorf("setting up the collection controller: %w", err)
	}
	if err := metrics.Register(&metrics.RoundCollector{Reader: mgr.GetClient(), RoundJobs: roundController.RoundJobs, PerBuilding: *perBuilding}); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("starting manager", "version", version)
	return mgr.Start(ctrl.SetupSignalHandler())
}
