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

package controllers

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/masstesting/sweep/internal/collector"
	"github.com/masstesting/sweep/internal/testharness/kubelet"
)

// kubeletAction is what the stand-in kubelet does with a visit Job.
type kubeletAction int

const (
	// runCollector runs the collector code with the pod's environment and
	// marks the Job Complete if it succeeded, Failed if not.
	runCollector kubeletAction = iota
	// crash marks the Job Failed without running the collector.
	crash
	// succeedSilently marks the Job Complete without running the collector.
	succeedSilently
	// hold leaves the Job running.
	hold
)

// fakeKubelet stands in for the kubelet and the Job controller, which
// envtest does not have: it watches visit Jobs, runs the project's collector
// code with each Job's pod environment (as the pod would: ConfigMap volumes
// such as the csv source's export mounted into a directory of its own, the
// file path moved there), and then sets the Job's status as the Job
// controller would. decide picks what happens to each Job. It keeps how
// often the collector ran per building and what each failed pod would have
// printed, the collector's error.
type fakeKubelet struct {
	t      *testing.T
	dir    string
	decide func(job *batchv1.Job) kubeletAction
	run    kubelet.Runner

	mu     sync.Mutex
	seen   []string          // Job names in creation order
	runs   map[string]int    // building -> visit attempts run
	errors map[string]string // visit Job -> the collector's error
}

func startFakeKubelet(t *testing.T, ns string, decide func(*batchv1.Job) kubeletAction) *fakeKubelet {
	t.Helper()
	k := &fakeKubelet{t: t, dir: t.TempDir(), decide: decide, run: kubelet.InProcess(collector.StatusReporter{Client: k8s}),
		runs: map[string]int{}, errors: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := k8s.Watch(ctx, &batchv1.JobList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		handled := map[string]bool{}
		for ev := range w.ResultChan() {
			job, ok := ev.Object.(*batchv1.Job)
			if !ok || handled[job.Name] || job.DeletionTimestamp != nil {
				continue
			}
			handled[job.Name] = true
			k.mu.Lock()
			k.seen = append(k.seen, job.Name)
			k.mu.Unlock()
			k.handle(ctx, job)
		}
	}()
	t.Cleanup(func() { cancel(); w.Stop(); <-done })
	return k
}

func (k *fakeKubelet) handle(ctx context.Context, job *batchv1.Job) {
	k.finish(ctx, job, k.decide(job))
}

// release runs the collector of a visit Job the kubelet holds, and ends
// the Job as handle would have.
func (k *fakeKubelet) release(ctx context.Context, ns, name string) {
	k.t.Helper()
	var job batchv1.Job
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &job); err != nil {
		k.t.Fatalf("releasing visit Job %s: %v", name, err)
	}
	k.finish(ctx, &job, runCollector)
}

func (k *fakeKubelet) finish(ctx context.Context, job *batchv1.Job, action kubeletAction) {
	if action == hold {
		return
	}
	ok := action == succeedSilently
	if action == runCollector {
		// A Secret or ConfigMap the pod names and cannot be read, or an
		// assignment the collector cannot parse, is the test's or the job
		// executor's mistake, not a visit that failed.
		env, err := kubelet.ContainerEnv(ctx, k8s, job.Namespace, &job.Spec.Template.Spec, filepath.Join(k.dir, job.Name))
		if err != nil {
			if ctx.Err() == nil {
				k.t.Errorf("visit Job %s: the kubelet cannot make its pod's environment: %v", job.Name, err)
			}
			return
		}
		a, err := collector.FromEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			k.t.Errorf("visit Job %s has a bad collector environment: %v", job.Name, err)
			return
		}
		err = k.run(ctx, env)
		k.mu.Lock()
		k.runs[a.Building]++
		if err != nil {
			k.errors[job.Name] = err.Error()
		}
		k.mu.Unlock()
		ok = err == nil
		if err != nil {
			failedPod(ctx, k.t, job, err.Error())
		}
	}
	now := metav1.Now()
	job.Status.StartTime = &now
	if ok {
		job.Status.Succeeded = 1
		job.Status.CompletionTime = &now
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: now, LastProbeTime: now},
		}
	} else {
		job.Status.Failed = 1
		job.Status.Conditions = []batchv1.JobCondition{
			{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now, LastProbeTime: now},
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now, LastProbeTime: now},
		}
	}
	if err := k8s.Status().Update(ctx, job); err != nil && ctx.Err() == nil {
		k.t.Errorf("setting status of visit Job %s: %v", job.Name, err)
	}
}

func (k *fakeKubelet) jobs() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.seen...)
}

// failedPod records the pod of a visit Job whose collector failed with
// message, as the kubelet would: `sweep collect` writes its error to the
// termination log, and the kubelet puts it into the container's
// state.terminated.message.
func failedPod(ctx context.Context, t *testing.T, job *batchv1.Job, message string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: job.Namespace, Name: job.Name + "-pod",
		Labels: map[string]string{batchv1.JobNameLabel: job.Name}}, Spec: *job.Spec.Template.Spec.DeepCopy()}
	if err := k8s.Create(ctx, pod); err != nil {
		if ctx.Err() == nil {
			t.Errorf("creating the pod of visit Job %s: %v", job.Name, err)
		}
		return
	}
	now := metav1.Now()
	pod.Status.Phase = corev1.PodFailed
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: c.Name, Image: c.Image,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error",
				Message: message, StartedAt: now, FinishedAt: now}}})
	}
	if err := k8s.Status().Update(ctx, pod); err != nil && ctx.Err() == nil {
		t.Errorf("setting status of the pod of visit Job %s: %v", job.Name, err)
	}
}
