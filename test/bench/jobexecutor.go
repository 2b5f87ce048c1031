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
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testharness"
	"github.com/masstesting/sweep/internal/testharness/kubelet"
)

// jobWrites is what one building costs in API writes with the job executor.
type jobWrites struct {
	Buildings   int                // buildings in the measured round
	PerBuilding float64            // Sweep's writes plus the visit Job's, per building
	ByResource  map[string]float64 // per building, by resource and subresource
}

// sweepOwn is the writes per building Sweep makes itself: all counted but
// the Job controller's status writes of the visit Jobs.
func (w jobWrites) sweepOwn() float64 { return w.PerBuilding - w.ByResource["jobs/status"] }

// jobCountedResources are the writes of the visit Jobs and of Sweep's
// collector identity, beside every resource of sweep.masstesting.io (read
// from discovery, so that a new resource or subresource counts at once).
//
// The rule: a write counts if Sweep (the manager or the collector) makes it,
// or if it is the visit Job's own: its creation and deletion (jobs) and the
// Job controller's status writes up to its completion (jobs/status). The
// collector's ServiceAccount, Role and RoleBinding are Sweep's too, once per
// namespace. Left out: pods, pods/status, pods/binding (the Job controller,
// the scheduler, kwok and the kubelet harness, which stand in for a node),
// events, leases, nodes and nodes/status (kwok's heartbeats), and anything
// else the control plane writes for itself. The API server counts writes
// by resource, not by client, so a resource is counted whole or not at all;
// the namespace's own setup (its default ServiceAccount, its root CA
// ConfigMap) is done before the first reading.
var jobCountedResources = []string{"jobs", "jobs/status", "serviceaccounts", "roles", "rolebindings"}

// jobExecutorTeams are the job executor round's teams, and the collectors
// the kubelet harness runs at once.
const jobExecutorTeams = 64

// jobExecutorWrites measures the job executor's API writes per one-visit
// building on a local kwok cluster (hack/cluster.sh): the real Job
// controller runs the visit Jobs, internal/testharness/kubelet runs the real collector
// for each visit pod, and `sweep manager --executor=job` runs the round.
func jobExecutorWrites(buildings int, k8sBin, sweepBin string) (res jobWrites, err error) {
	res.Buildings = buildings
	began := time.Now()
	k8sBin, err = filepath.Abs(k8sBin)
	if err != nil {
		return res, err
	}
	sweepBin, err = filepath.Abs(sweepBin)
	if err != nil {
		return res, err
	}
	dir, err := os.MkdirTemp("", "sweep-bench-jobs")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	local := testharness.NewCluster("sweep-bench-", dir)
	local.K8sBin = k8sBin
	// Down also when up failed half-way.
	defer func() {
		if downErr := local.Down(); downErr != nil {
			err = errors.Join(err, downErr)
		}
	}()
	if err := local.Up(); err != nil {
		return res, err
	}
	fmt.Printf("job executor: cluster %s up in %s\n", local.Name, time.Since(began).Round(time.Millisecond))
	kubeconfig := local.Kubeconfig()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return res, err
	}
	cfg.QPS, cfg.Burst = 200, 400
	scheme := clientgoscheme.Scheme
	if err := sweepv1alpha1.AddToScheme(scheme); err != nil {
		return res, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return res, err
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)

	// The CRDs, server-side, until established.
	if out, err := exec.Command(filepath.Join(k8sBin, "kubectl"), "--kubeconfig", kubeconfig,
		"apply", "--server-side", "-f", filepath.Join("config", "crd", "bases")).CombinedOutput(); err != nil {
		return res, fmt.Errorf("applying the CRDs: %w\n%s", err, out)
	}
	for _, crd := range []string{"buildings", "testingrounds", "collectionjobs"} {
		if err := until(time.Minute, func() bool {
			ok, _ := testharness.CRDEstablished(ctx, c, crd+"."+sweepv1alpha1.GroupVersion.Group)
			return ok
		}); err != nil {
			return res, fmt.Errorf("CRD %s not established: %w", crd, err)
		}
	}

	// The kubelet harness and the manager.
	// Only the writes are measured here, not the time. Collectors run as
	// many at once as the round has teams. The round took 10 minutes while
	// kube-controller-manager had its default client limit (20 requests a
	// second: about six writes per visit Job); hack/cluster.sh gives it
	// Sweep's, and the round takes 7, with the machine's CPU the bound.
	kl := &kubelet.Kubelet{Client: cs, Binary: sweepBin, Kubeconfig: kubeconfig, Workers: jobExecutorTeams, InProcess: true}
	kl.Start(ctx)
	mgrLogPath := filepath.Join(dir, "manager.log")
	mgrLog, err := os.Create(mgrLogPath)
	if err != nil {
		return res, err
	}
	defer mgrLog.Close()
	mgr := exec.Command(sweepBin, "manager", "--executor=job", "--collector-image=sweep:bench", "--drill-time-scale=0",
		"--metrics-bind-address=0", "--health-probe-bind-address=127.0.0.1:0")
	mgr.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	mgr.Stdout, mgr.Stderr = mgrLog, mgrLog
	if err := mgr.Start(); err != nil {
		return res, err
	}
	exited := make(chan struct{})
	go func() { _ = mgr.Wait(); close(exited) }()
	defer func() {
		_ = mgr.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = mgr.Process.Kill()
			<-exited
		}
		if err != nil {
			tail, _ := exec.Command("tail", "-n", "40", mgrLogPath).Output()
			err = fmt.Errorf("%w\nthe manager's log ends:\n%s", err, tail)
		}
	}()

	// The district: the benchmark's roster.
	const ns = "district"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return res, err
	}
	err = parallel(buildings, 16, func(i int) error { return c.Create(ctx, benchBuilding(ns, i)) })
	if err != nil {
		return res, fmt.Errorf("buildings: %w", err)
	}
	// The namespace's own setup by the control plane is not Sweep's.
	if err := until(time.Minute, func() bool {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil
	}); err != nil {
		return res, fmt.Errorf("namespace %s has no default ServiceAccount: %w", ns, err)
	}
	counted, err := jobCounted(cs)
	if err != nil {
		return res, err
	}
	if exited := processExited(exited); exited {
		return res, errors.New("the manager exited")
	}

	before, err := apiWrites(ctx, cs)
	if err != nil {
		return res, err
	}
	beforeDetail, err := apiWritesDetail(ctx, cs)
	if err != nil {
		return res, err
	}
	tr := &sweepv1alpha1.TestingRound{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "city"},
		Spec: sweepv1alpha1.TestingRoundSpec{
			Deadline: metav1.NewTime(time.Now().Add(6 * time.Hour)), Teams: jobExecutorTeams,
			Visits: sweepv1alpha1.VisitPolicy{Max: 1},
			Collector: sweepv1alpha1.CollectorSpec{CollectorSource: sweepv1alpha1.CollectorSource{
				Source: sweepv1alpha1.SourceDrill,
				Drill:  &sweepv1alpha1.DrillSource{Seed: 1, AbsentPercent: ptr.To[int32](0), StillAbsentPercent: ptr.To[int32](0)},
			}},
		},
	}
	start := time.Now()
	if err := c.Create(ctx, tr); err != nil {
		return res, err
	}
	// Awaited on a watch of the round (awaitObject), given up if the
	// manager exits.
	waitCtx, stopWaiting := context.WithCancelCause(ctx)
	defer stopWaiting(nil)
	go func() {
		select {
		case <-exited:
			stopWaiting(errors.New("the manager exited"))
		case <-waitCtx.Done():
		}
	}()
	if err := awaitRoundCompleted(waitCtx, dyn, ns, tr.Name, 30*time.Minute); err != nil {
		return res, fmt.Errorf("the round did not complete: %w", err)
	}
	roundTime := time.Since(start)

	// Writes that trail the round's completion (a last status write, a
	// Job controller's late update) are the round's too: read until the
	// counted writes have been still for 3 s.
	var after map[string]float64
	total := func(m map[string]float64) (t float64) {
		for k, v := range m {
			if counted[k] {
				t += v
			}
		}
		return t
	}
	last, stillSince := -1.0, time.Now()
	if err := until(time.Minute, func() bool {
		m, err := apiWrites(ctx, cs)
		if err != nil {
			return false
		}
		after = m
		if t := total(m); t != last {
			last, stillSince = t, time.Now()
		}
		return time.Since(stillSince) >= 3*time.Second
	}); err != nil {
		return res, fmt.Errorf("the counted writes did not settle after the round completed: %w", err)
	}
	afterDetail, err := apiWritesDetail(ctx, cs)
	if err != nil {
		return res, err
	}

	// The round is honest: one CollectionJob per building, completed, and
	// one visit Job per building, complete, whose collector ran once.
	if err := checkOneVisitEach(ctx, c, ns, buildings, kl); err != nil {
		return res, err
	}

	res.ByResource = map[string]float64{}
	var sum float64
	var left []string
	for k, v := range after {
		d := v - before[k]
		if d <= 0 {
			continue
		}
		if !counted[k] {
			left = append(left, fmt.Sprintf("%s %.3f", k, d/float64(buildings)))
			continue
		}
		res.ByResource[k] = d / float64(buildings)
		sum += d
	}
	res.PerBuilding = sum / float64(buildings)
	slices.Sort(left)
	fmt.Printf("job executor: round of %d buildings completed in %s; %.2f counted writes per building\n",
		buildings, roundTime.Round(time.Millisecond), res.PerBuilding)
	fmt.Printf("job executor: left out (not Sweep's, not the visit Job's), per building: %s\n", strings.Join(left, ", "))
	fmt.Printf("job executor: counted writes by resource, verb and response code, per building:\n")
	var rows []string
	for k, v := range afterDetail {
		if d := v - beforeDetail[k]; d > 0 && counted[strings.Fields(k)[0]] {
			rows = append(rows, fmt.Sprintf("  %-40s %.3f", k, d/float64(buildings)))
		}
	}
	slices.Sort(rows)
	fmt.Println(strings.Join(rows, "\n"))
	fmt.Printf("job executor: measured in %s\n", time.Since(began).Round(time.Millisecond))
	return res, nil
}

// jobCounted is the set of counted resource keys (as apiWrites names them).
func jobCounted(cs kubernetes.Interface) (map[string]bool, error) {
	l, err := cs.Discovery().ServerResourcesForGroupVersion(sweepv1alpha1.GroupVersion.String())
	if err != nil {
		return nil, fmt.Errorf("discovering %s: %w", sweepv1alpha1.GroupVersion, err)
	}
	counted := map[string]bool{}
	for _, r := range l.APIResources {
		counted[r.Name] = true // such as collectionjobs and collectionjobs/status
	}
	for _, r := range jobCountedResources {
		counted[r] = true
	}
	return counted, nil
}

func processExited(exited <-chan struct{}) bool {
	select {
	case <-exited:
		return true
	default:
		return false
	}
}

// checkOneVisitEach checks that the measured round did what it claims:
// exactly one completed CollectionJob per building with one visit, exactly
// one complete visit Job per CollectionJob, and each visit pod's collector
// run once without error.
func checkOneVisitEach(ctx context.Context, c client.Client, ns string, buildings int, kl *kubelet.Kubelet) error {
	var cjs sweepv1alpha1.CollectionJobList
	if err := c.List(ctx, &cjs, client.InNamespace(ns)); err != nil {
		return err
	}
	var problems []string
	perBuilding := map[string]int{}
	for _, cj := range cjs.Items {
		perBuilding[cj.Spec.Building]++
		if cj.Status.Phase != sweepv1alpha1.JobCompleted || cj.Status.Visits != 1 {
			problems = append(problems, fmt.Sprintf("CollectionJob %s is %s after %d visits, want Completed after 1", cj.Name, cj.Status.Phase, cj.Status.Visits))
		}
	}
	for i := range buildings {
		if b := fmt.Sprintf("b-%05d", i); perBuilding[b] != 1 {
			problems = append(problems, fmt.Sprintf("building %s has %d CollectionJobs, want 1", b, perBuilding[b]))
		}
	}
	if len(cjs.Items) != buildings {
		problems = append(problems, fmt.Sprintf("%d CollectionJobs for %d buildings", len(cjs.Items), buildings))
	}
	var jobs batchv1.JobList
	if err := c.List(ctx, &jobs, client.InNamespace(ns)); err != nil {
		return err
	}
	perCJ := map[string]int{}
	for _, j := range jobs.Items {
		if owner := metav1.GetControllerOf(&j); owner != nil && owner.Kind == "CollectionJob" {
			perCJ[owner.Name]++
		} else {
			problems = append(problems, fmt.Sprintf("Job %s is not a visit Job (no CollectionJob owns it)", j.Name))
		}
		complete := false
		for _, cond := range j.Status.Conditions {
			complete = complete || (cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue)
		}
		if !complete {
			problems = append(problems, fmt.Sprintf("visit Job %s is not complete", j.Name))
		}
	}
	for _, cj := range cjs.Items {
		if n := perCJ[cj.Name]; n != 1 {
			problems = append(problems, fmt.Sprintf("CollectionJob %s has %d visit Jobs, want 1", cj.Name, n))
		}
	}
	if len(jobs.Items) != buildings {
		problems = append(problems, fmt.Sprintf("%d visit Jobs for %d buildings", len(jobs.Items), buildings))
	}
	runs := kl.Runs()
	for pod, n := range runs {
		if n != 1 {
			problems = append(problems, fmt.Sprintf("the collector ran %d times for pod %s", n, pod))
		}
	}
	if len(runs) != buildings {
		problems = append(problems, fmt.Sprintf("the collector ran for %d pods, want %d", len(runs), buildings))
	}
	problems = append(problems, kl.Errors()...)
	if len(problems) > 0 {
		if len(problems) > 20 {
			problems = append(problems[:20], fmt.Sprintf("and %d more", len(problems)-20))
		}
		return fmt.Errorf("the round is not one visit per building:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}
