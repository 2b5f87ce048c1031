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
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/masstesting/sweep/internal/testharness"
)

const (
	release   = "sweep"
	namespace = "sweep-system"
	// The chart's ServiceAccount, named after the release.
	serviceAccount = "sweep"
	// Default of the Makefile's PROMETHEUS_OPERATOR_VERSION, for go test
	// run without make.
	prometheusOperatorVersion = "v0.85.0"
	// Default of the Makefile's CERT_MANAGER_VERSION.
	certManagerVersion = "v1.21.2"
)

// denial matches what an RBAC refusal looks like in the manager's log
// (controller-runtime's errors and client-go's reflector warnings alike).
var denial = regexp.MustCompile(`(?i)forbidden|cannot (get|list|watch|create|update|patch|delete) resource`)

// TestInstall installs the chart into a real control plane (a kwok cluster
// from hack/cluster.sh) and shows that what it grants is what the manager
// needs: every rendered manifest passes the API server's validation, a drill
// round completes under the chart's ServiceAccount without one denial, and
// with one rule less the manager is denied and the round does not complete.
func TestInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a kwok cluster and installs the chart; make test runs it without -short")
	}
	kubectlBin := filepath.Join(k8sBin(), "kubectl")
	dir := t.TempDir()
	name := fmt.Sprintf("sweep-install-%d", os.Getpid())
	local := &testharness.Cluster{Root: root, K8sBin: k8sBin(), Name: name, Dir: dir, Nodes: 2}
	t.Cleanup(func() {
		if err := local.Down(); err != nil {
			t.Logf("cluster down: %v", err)
		}
	})
	if err := local.Up(); err != nil {
		t.Fatal(err)
	}
	admin := filepath.Join(dir, "kubeconfig")
	kubectl := func(args ...string) string {
		t.Helper()
		return must(t, []string{"KUBECONFIG=" + admin}, kubectlBin, args...)
	}
	// A CRD has no conditions for a moment after it is created, and kubectl
	// wait fails at once on that: ask until it answers.
	awaitEstablished := func(crds ...string) {
		t.Helper()
		args := append([]string{"wait", "--for=condition=Established", "--timeout=60s"}, crds...)
		testharness.Await(t, fmt.Sprintf("%v established", crds), time.Minute, 500*time.Millisecond, func(context.Context) (bool, error) {
			_, err := run(t, []string{"KUBECONFIG=" + admin}, kubectlBin, args...)
			return err == nil, err
		})
	}
	helm := func(args ...string) string {
		t.Helper()
		return must(t, []string{"KUBECONFIG=" + admin, "HELM_CACHE_HOME=" + dir + "/helm", "HELM_CONFIG_HOME=" + dir + "/helm", "HELM_DATA_HOME=" + dir + "/helm"}, helmBin, args...)
	}

	// The manager's namespace enforces the restricted Pod Security Standard,
	// so the API server itself judges the chart's pods.
	kubectl("create", "namespace", namespace)
	kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted", "pod-security.kubernetes.io/warn=restricted")

	t.Run("validate", func(t *testing.T) {
		// The Prometheus Operator's CRDs, for the ServiceMonitor and
		// PrometheusRule the chart can render, from the pinned module.
		crds := prometheusOperatorCRDs(t)
		kubectl("apply", "--server-side", "-f", filepath.Join(crds, "monitoring.coreos.com_servicemonitors.yaml"), "-f", filepath.Join(crds, "monitoring.coreos.com_prometheusrules.yaml"))
		// cert-manager's, for the metrics certificate's Issuers and
		// Certificates, from its pinned module too.
		cm := certManagerCRDs(t)
		kubectl("apply", "--server-side", "-f", filepath.Join(cm, "cert-manager.io_issuers.yaml"), "-f", filepath.Join(cm, "cert-manager.io_certificates.yaml"))
		awaitEstablished("crd/servicemonitors.monitoring.coreos.com", "crd/prometheusrules.monitoring.coreos.com",
			"crd/issuers.cert-manager.io", "crd/certificates.cert-manager.io")
		for _, ns := range []string{"district-a", "district-b", "monitoring"} {
			kubectl("create", "namespace", ns)
		}
		manifests := map[string]string{"config/default": kustomizeBuild(t)}
		for set, args := range valueSets(t) {
			manifests["chart "+set] = render(t, args...)
		}
		for set, content := range manifests {
			manifest := filepath.Join(dir, strings.ReplaceAll(set, "/", "-")+".yaml")
			if err := os.WriteFile(manifest, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			// Server-side dry run: the API server decodes, defaults, validates
			// (strictly: unknown fields fail) and admits every object, without
			// storing it. Pod Security admission answers with a warning.
			cmd := exec.Command(kubectlBin, "apply", "--server-side", "--dry-run=server", "--validate=strict", "-f", manifest)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+admin)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Errorf("%s: server-side dry run: %v\n%s", set, err, stderr.String())
				continue
			}
			if strings.Contains(stderr.String(), "Warning") {
				t.Errorf("%s: the API server warns: %s", set, stderr.String())
			}
			t.Logf("%s: %d objects accepted by the API server (dry run)", set, strings.Count(stdout.String(), "(server dry run)"))
		}
	})

	// The real install, CRDs included, as an ops team would run it; --wait
	// waits for the Deployment's pods, which kwok runs and the restricted
	// namespace admits.
	start := time.Now()
	helm("install", release, chartDir, "--namespace", namespace, "--wait", "--timeout", "3m")
	t.Logf("helm install: %s", time.Since(start).Round(time.Second))
	awaitEstablished("crd/buildings.sweep.masstesting.io", "crd/testingrounds.sweep.masstesting.io", "crd/collectionjobs.sweep.masstesting.io")
	// Every object of the release exists (kubectl get fails on a missing one).
	manifest := filepath.Join(dir, "release.yaml")
	if err := os.WriteFile(manifest, []byte(helm("get", "manifest", release, "--namespace", namespace)), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl("get", "-f", manifest)
	// The release Secret holds the whole chart (the 684 KB TestingRound CRD
	// too) and the rendered manifest; a Secret holds at most 1 MiB.
	secret := kubectl("get", "secret", "--namespace", namespace, "-l", "owner=helm,name="+release, "-o", "jsonpath={.items[0].data.release}")
	size := base64.StdEncoding.DecodedLen(len(secret))
	t.Logf("release Secret: %d bytes of 1048576", size)
	if size > 1<<20*3/4 {
		t.Errorf("release Secret is %d bytes, near the 1 MiB limit", size)
	}

	token := strings.TrimSpace(kubectl("create", "token", serviceAccount, "--namespace", namespace, "--duration", "1h"))
	saConfig := tokenKubeconfig(t, admin, token, dir)
	sweepBin := filepath.Join(dir, "sweep")
	must(t, nil, "go", "build", "-o", sweepBin, filepath.Join(root, "cmd", "sweep"))

	t.Run("rbac", func(t *testing.T) {
		log, stop := startManager(t, sweepBin, saConfig)
		ns := "rbac-ok"
		applyRound(t, kubectl, ns)
		waitFor(t, 3*time.Minute, "round "+ns+"/drill Completed", func() bool {
			return roundPhase(t, admin, kubectlBin, ns) == "Completed"
		})
		stop()
		if d := denial.FindString(log.String()); d != "" {
			t.Errorf("the manager was denied (%q):\n%s", d, denialLines(log.String()))
		}
	})

	t.Run("job-executor", func(t *testing.T) {
		// The job executor's own writes: the collector's ServiceAccount, Role
		// and RoleBinding in the round's namespace (the API server lets the
		// manager create that Role only because it holds every permission
		// the Role grants), and a visit Job per building. kwok runs no
		// containers, so the visits never report; what counts is that every
		// object is created without a denial.
		log, stop := startManager(t, sweepBin, saConfig, "--executor=job", "--leader-elect=false")
		ns := "rbac-jobs"
		applyRound(t, kubectl, ns)
		waitFor(t, time.Minute, "the collector's RBAC and four visit Jobs in "+ns, func() bool {
			// kubectl takes either kinds or kind/name pairs, so two calls.
			out, err := run(t, []string{"KUBECONFIG=" + admin}, kubectlBin, "get", "jobs", "-n", ns, "-o", "name")
			if err != nil || strings.Count(out, "job.batch/") != 4 {
				return false
			}
			_, err = run(t, []string{"KUBECONFIG=" + admin}, kubectlBin, "get", "serviceaccount/sweep-collector", "role/sweep-collector", "rolebinding/sweep-collector", "-n", ns)
			return err == nil
		})
		// The chart's admission policies judge collectors' writes: a token
		// bound to building-1's visit pod (kwok runs it, no container runs)
		// writes building-1's report, and is refused building-2's.
		own, other := visitPod(t, admin, kubectlBin, ns, "building-1"), visitPod(t, admin, kubectlBin, ns, "building-2")
		podToken := strings.TrimSpace(kubectl("create", "token", "sweep-collector", "-n", ns, "--duration", "10m",
			"--bound-object-kind", "Pod", "--bound-object-name", own.pod, "--bound-object-uid", own.uid))
		// Patched as the collector does, without reading the status first
		// (its Role has no get on collectionjobs/status; kubectl patch reads).
		cfg, err := clientcmd.BuildConfigFromFlags("", tokenKubeconfig(t, admin, podToken, t.TempDir()))
		if err != nil {
			t.Fatal(err)
		}
		jobs := dynamic.NewForConfigOrDie(cfg).Resource(schema.GroupVersionResource{Group: "sweep.masstesting.io", Version: "v1alpha1", Resource: "collectionjobs"}).Namespace(ns)
		report := []byte(fmt.Sprintf(`{"status":{"report":{"visit":1,"sampled":1,"missed":1,"time":%q}}}`, time.Now().UTC().Format(time.RFC3339)))
		if _, err := jobs.Patch(context.Background(), own.job, types.MergePatchType, report, metav1.PatchOptions{}, "status"); err != nil {
			t.Errorf("building-1's visit pod could not write its own report: %v", err)
		}
		_, err = jobs.Patch(context.Background(), other.job, types.MergePatchType, report, metav1.PatchOptions{}, "status")
		if err == nil || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy '"+release+"-collector-report'") {
			t.Errorf("building-1's visit pod writing building-2's report: %v; want refused by %s-collector-report", err, release)
		}
		stop()
		if d := denial.FindString(log.String()); d != "" {
			t.Errorf("the manager was denied (%q):\n%s", d, denialLines(log.String()))
		}
	})

	t.Run("metrics", func(t *testing.T) {
		// The metrics endpoint checks each scrape with the API server under
		// the chart's metrics-auth grant: a token bound to the chart's
		// metrics-reader gets the metrics, any other is refused. No leader
		// election: the metrics server runs on every replica, and this
		// manager must not hold the Lease the next subtest's manager needs.
		kubectl("create", "namespace", "scrape")
		kubectl("create", "serviceaccount", "prometheus", "-n", "scrape")
		kubectl("create", "serviceaccount", "stranger", "-n", "scrape")
		kubectl("create", "clusterrolebinding", "scrape-sweep-metrics", "--clusterrole="+release+"-metrics-reader", "--serviceaccount=scrape:prometheus")
		reader := strings.TrimSpace(kubectl("create", "token", "prometheus", "-n", "scrape"))
		stranger := strings.TrimSpace(kubectl("create", "token", "stranger", "-n", "scrape"))

		addr := testharness.FreeAddr(t)
		log, stop := startManager(t, sweepBin, saConfig, "--metrics-bind-address="+addr, "--leader-elect=false")
		url := "https://" + addr + "/metrics"
		var code int
		var body string
		waitFor(t, time.Minute, "the metrics endpoint to answer", func() bool {
			code, body = scrape(url, reader)
			return code != 0
		})
		if code != http.StatusOK || !strings.Contains(body, "controller_runtime_reconcile_total") {
			t.Errorf("scrape with a metrics-reader token: %d %.200s", code, body)
		}
		if code, _ := scrape(url, stranger); code != http.StatusForbidden {
			t.Errorf("scrape with a token not bound to metrics-reader: %d, want 403", code)
		}
		if code, _ := scrape(url, ""); code != http.StatusUnauthorized {
			t.Errorf("scrape without a token: %d, want 401", code)
		}
		stop()
		if d := denial.FindString(log.String()); d != "" {
			t.Errorf("the manager was denied (%q):\n%s", d, denialLines(log.String()))
		}
	})

	t.Run("missing-rule", func(t *testing.T) {
		// Take patch on collectionjobs/status away: the collection
		// controller and the local executor report through it.
		role := release + "-manager"
		var cr struct {
			Rules []struct {
				Resources []string `json:"resources"`
			} `json:"rules"`
		}
		if err := json.Unmarshal([]byte(kubectl("get", "clusterrole", role, "-o", "json")), &cr); err != nil {
			t.Fatal(err)
		}
		idx := -1
		for i, r := range cr.Rules {
			if len(r.Resources) == 1 && r.Resources[0] == "collectionjobs/status" {
				idx = i
			}
		}
		if idx < 0 {
			t.Fatal("no collectionjobs/status rule in the installed ClusterRole")
		}
		kubectl("patch", "clusterrole", role, "--type=json", "-p", fmt.Sprintf(`[{"op":"remove","path":"/rules/%d"}]`, idx))
		as := "--as=system:serviceaccount:" + namespace + ":" + serviceAccount
		waitFor(t, 30*time.Second, "the API server to deny the patch", func() bool {
			out, _ := run(t, []string{"KUBECONFIG=" + admin}, kubectlBin, "auth", "can-i", "patch", "collectionjobs.sweep.masstesting.io", "--subresource=status", "-n", "rbac-denied", as)
			return strings.TrimSpace(out) == "no"
		})

		log, stop := startManager(t, sweepBin, saConfig)
		defer stop()
		ns := "rbac-denied"
		applyRound(t, kubectl, ns)
		// The previous leader released its Lease when it stopped, so this
		// manager leads at once, reconciles and is refused.
		waitFor(t, 2*time.Minute, "a denial in the manager's log", func() bool {
			return denial.MatchString(log.String())
		})
		t.Logf("denied as expected:\n%s", denialLines(log.String()))
		// With every status report refused, the round cannot complete; the
		// whole round took a few seconds in the rbac subtest.
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if p := roundPhase(t, admin, kubectlBin, ns); p == "Completed" {
				t.Fatalf("round completed without patch on collectionjobs/status")
			}
			time.Sleep(time.Second) // polling interval of a bounded wait for a non-event
		}
	})
}

// prometheusOperatorCRDs returns the directory of the Prometheus Operator's
// CRD YAMLs in its module, downloaded at the pinned version through the Go
// module proxy (so nothing is copied into this repository).
func prometheusOperatorCRDs(t *testing.T) string {
	t.Helper()
	return filepath.Join(moduleDir(t, "github.com/prometheus-operator/prometheus-operator", "PROMETHEUS_OPERATOR_VERSION", prometheusOperatorVersion), "example", "prometheus-operator-crd")
}

// certManagerCRDs returns the directory of cert-manager's CRD YAMLs in its
// module, at the pinned version, the same way.
func certManagerCRDs(t *testing.T) string {
	t.Helper()
	return filepath.Join(moduleDir(t, "github.com/cert-manager/cert-manager", "CERT_MANAGER_VERSION", certManagerVersion), "deploy", "crds")
}

// moduleDir downloads a module at the version in the environment variable
// (or the default) and returns its directory in the module cache.
func moduleDir(t *testing.T, path, versionVar, defaultVersion string) string {
	t.Helper()
	v := os.Getenv(versionVar)
	if v == "" {
		v = defaultVersion
	}
	cmd := exec.Command("go", "mod", "download", "-json", path+"@"+v)
	// Outside this module, so that go.mod and go.sum stay untouched.
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download %s@%s: %v", path, v, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download: %v %s", err, out)
	}
	return mod.Dir
}

// tokenKubeconfig writes a kubeconfig for the admin kubeconfig's cluster
// that authenticates with token alone: no client certificate, no admin.
func tokenKubeconfig(t *testing.T, admin, token, dir string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(admin)
	if err != nil {
		t.Fatal(err)
	}
	cluster := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster]
	out := clientcmdapi.NewConfig()
	out.Clusters["cluster"] = cluster
	out.AuthInfos["sweep"] = &clientcmdapi.AuthInfo{Token: token}
	out.Contexts["sweep"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "sweep"}
	out.CurrentContext = "sweep"
	path := filepath.Join(dir, "sweep.kubeconfig")
	if err := clientcmd.WriteToFile(*out, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// startManager runs `sweep manager` as a process with only the
// ServiceAccount's kubeconfig, leader election on in the release namespace
// (so the chart's leader-election Role is exercised too), and extraArgs.
// stop ends it and waits; it is also registered as a cleanup.
func startManager(t *testing.T, bin, kubeconfig string, extraArgs ...string) (*testharness.SyncBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := []string{"manager", "--executor=local", "--drill-time-scale=0.001",
		"--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0",
		"--leader-elect", "--leader-election-namespace=" + namespace, "--zap-log-level=debug"}
	// Later flags win, so extraArgs override the defaults above.
	cmd := exec.CommandContext(ctx, bin, append(args, extraArgs...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 15 * time.Second
	log := &testharness.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("manager log:\n%s", log.String())
			}
		})
	}
	t.Cleanup(stop)
	return log, stop
}

// applyRound creates namespace ns with four Buildings and a drill round over
// them: one visit each, so the round ends as soon as each is swept.
func applyRound(t *testing.T, kubectl func(...string) string, ns string) {
	t.Helper()
	kubectl("create", "namespace", ns)
	var b strings.Builder
	for i, residents := range []int{64, 120, 56, 205} {
		fmt.Fprintf(&b, `---
apiVersion: sweep.masstesting.io/v1alpha1
kind: Building
metadata:
  name: building-%d
spec:
  address: "Xinjiang Community, Building %d, Baoguo Street"
  households: %d
  residents: %d
  controlLevel: Precaution
  units: 2
  floors: 6
`, i+1, i+1, residents/2, residents)
	}
	now := time.Now().UTC()
	fmt.Fprintf(&b, `---
apiVersion: sweep.masstesting.io/v1alpha1
kind: TestingRound
metadata:
  name: drill
spec:
  start: %q
  deadline: %q
  teams: 4
  visits: {max: 1}
  collector:
    source: drill
    drill: {seed: 20221126, absentPercent: 10}
`, now.Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339))
	path := filepath.Join(t.TempDir(), "round.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	kubectl("apply", "--server-side", "-n", ns, "-f", path)
}

// visit is a building's collection job and the pod of its current visit.
type visit struct{ job, pod, uid string }

// visitPod waits for building's first visit pod in ns and returns it.
func visitPod(t *testing.T, admin, kubectlBin, ns, building string) visit {
	t.Helper()
	var v visit
	waitFor(t, time.Minute, "the visit pod of "+building, func() bool {
		out, err := run(t, []string{"KUBECONFIG=" + admin}, kubectlBin, "get", "collectionjobs", "-n", ns,
			"--field-selector", "spec.building="+building, "-o", "jsonpath={.items[0].metadata.name} {.items[0].status.activeJob}")
		f := strings.Fields(out)
		if err != nil || len(f) != 2 {
			return false
		}
		v.job = f[0]
		out, err = run(t, []string{"KUBECONFIG=" + admin}, kubectlBin, "get", "pods", "-n", ns, "-l", "job-name="+f[1],
			"-o", "jsonpath={.items[0].metadata.name} {.items[0].metadata.uid}")
		f = strings.Fields(out)
		if err != nil || len(f) != 2 {
			return false
		}
		v.pod, v.uid = f[0], f[1]
		return true
	})
	return v
}

func roundPhase(t *testing.T, admin, kubectlBin, ns string) string {
	t.Helper()
	out, err := run(t, []string{"KUBECONFIG=" + admin}, kubectlBin, "get", "testinground", "drill", "-n", ns, "-o", "jsonpath={.status.phase}")
	if err != nil {
		t.Logf("reading the round: %v", err)
	}
	return strings.TrimSpace(out)
}

// waitFor is testharness.Await polling every half second.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testharness.Await(t, what, timeout, 500*time.Millisecond, func(context.Context) (bool, error) { return cond(), nil })
}

// denialLines are the log lines that show a denial, at most five.
func denialLines(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if denial.MatchString(l) && len(out) < 5 {
			if len(l) > 600 {
				l = l[:600] + "..."
			}
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// scrape GETs url with a bearer token; code 0 means no answer yet.
func scrape(url, token string) (code int, body string) {
	// The manager's certificate is self-signed at start-up.
	code, b, err := testharness.FetchMetrics(url, testharness.ScrapeOptions{Token: token, TLS: &tls.Config{InsecureSkipVerify: true}}) //nolint:gosec // self-signed test endpoint
	if err != nil && code == 0 {
		return 0, err.Error()
	}
	return code, string(b)
}
