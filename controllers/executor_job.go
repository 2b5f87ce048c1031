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
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collection"
	"github.com/masstesting/sweep/internal/collector"
	"github.com/masstesting/sweep/internal/round"
)

// CollectorServiceAccount is the identity of visit pods in every namespace
// with rounds. Its Role lets it read CollectionJobs and patch their status,
// nothing else.
const CollectorServiceAccount = "sweep-collector"

// LabelVisit is set on visit Jobs to their visit number.
const LabelVisit = "sweep.masstesting.io/visit"

// LabelCollectionJob is set on visit Jobs to their CollectionJob's name.
const LabelCollectionJob = "sweep.masstesting.io/collectionjob"

// JobExecutor runs each visit attempt as a batch/v1 Job owned by the
// CollectionJob. Retries are the operator's (backoffLimit 0), so every
// attempt is one Job with its own name and nothing is retried twice.
type JobExecutor struct {
	Client client.Client
	// APIReader reads a failed visit's pods for the collector's error
	// (their termination message), uncached: the manager must not watch
	// every pod in the cluster. Nil: the cause is the Job's condition only.
	APIReader client.Reader
	// Image runs `sweep collect` when the round has no pod template.
	Image string
	// DrillTimeScale scales the drill source's simulated visit time.
	DrillTimeScale float64

	mu sync.Mutex
	// rbacReady remembers the rounds whose namespace has the collector
	// identity. Per round, not per namespace: a namespace deleted and
	// created again under the same name has lost it, and its visit pods
	// could not be created (TestNamespaceDeletedMidRound). A round does not
	// outlive its namespace, so a new round checks again.
	rbacReady map[types.UID]bool
	// rbacOnce makes the reconciles that start a round's first visits at
	// the same moment (up to 16) create its identity once, not once each.
	rbacOnce singleflight.Group
}

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// Namespaces are created by ops; the operator gives each that has rounds the
// collector's ServiceAccount, Role and RoleBinding. The Role grants only
// what the operator itself holds (get collectionjobs, patch their status).
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;create
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;create

// The collector's error reaches the CollectionJob through its pod's
// termination message, read once per failed attempt.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list

// Start creates the attempt's Job; an existing one is left alone.
func (e *JobExecutor) Start(ctx context.Context, cj *sweepv1alpha1.CollectionJob, tr *sweepv1alpha1.TestingRound, name string, visit int32) error {
	if err := e.ensureCollectorRBAC(ctx, cj); err != nil {
		return err
	}
	job := e.visitJob(cj, tr, name, visit)
	if err := e.Client.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating visit Job %s: %w", name, err)
	}
	return nil
}

// Observe reads the attempt's Job from the cache.
func (e *JobExecutor) Observe(ctx context.Context, cj *sweepv1alpha1.CollectionJob, name string) (collection.Observed, error) {
	var job batchv1.Job
	err := e.Client.Get(ctx, client.ObjectKey{Namespace: cj.Namespace, Name: name}, &job)
	if apierrors.IsNotFound(err) {
		return collection.Observed{State: collection.VisitUnknown}, nil
	}
	if err != nil {
		return collection.Observed{}, err
	}
	obs := collection.Observed{State: collection.VisitRunning, Started: job.CreationTimestamp.Time}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			obs.State = collection.VisitSucceeded
		case batchv1.JobFailed:
			obs.State = collection.VisitFailed
			obs.Cause = fmt.Sprintf("%s: %s", c.Reason, c.Message)
			if msg := e.terminationMessage(ctx, &job); msg != "" {
				obs.Cause += "; collector: " + msg
			}
		}
	}
	return obs, nil
}

// maxCauseMessage bounds the collector's message in a cause: enough for a
// registry's error, short enough for a condition and an event.
const maxCauseMessage = 1024

// terminationMessage is what the collector of a failed visit Job wrote as
// its container's termination message (`sweep collect` writes its error
// there), or "" when no pod says anything or the pods cannot be read: the
// Job's own reason still explains the failure.
func (e *JobExecutor) terminationMessage(ctx context.Context, job *batchv1.Job) string {
	if e.APIReader == nil {
		return ""
	}
	var pods corev1.PodList
	if err := e.APIReader.List(ctx, &pods, client.InNamespace(job.Namespace),
		client.MatchingLabels{batchv1.JobNameLabel: job.Name}); err != nil {
		return ""
	}
	var msg string
	var at time.Time
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			t := cs.State.Terminated
			if t != nil && strings.TrimSpace(t.Message) != "" && !t.FinishedAt.Time.Before(at) {
				msg, at = strings.TrimSpace(t.Message), t.FinishedAt.Time
			}
		}
	}
	if len(msg) > maxCauseMessage {
		msg = strings.ToValidUTF8(msg[:maxCauseMessage], "") + "..."
	}
	return strings.Join(strings.Fields(msg), " ")
}

// Stop deletes the attempt's Job and its pods.
func (e *JobExecutor) Stop(ctx context.Context, cj *sweepv1alpha1.CollectionJob, name string) error {
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: cj.Namespace, Name: name}}
	err := e.Client.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("stopping visit Job %s: %w", name, err)
	}
	return nil
}

// visitJob is the Job of one visit attempt: the round's pod template (or
// the default collector pod) with the assignment in every container's
// environment.
func (e *JobExecutor) visitJob(cj *sweepv1alpha1.CollectionJob, tr *sweepv1alpha1.TestingRound, name string, visit int32) *batchv1.Job {
	a := collector.AssignmentFor(cj, visit, e.DrillTimeScale)
	var tmpl corev1.PodTemplateSpec
	if tr != nil && tr.Spec.Collector.Template != nil {
		tmpl = *tr.Spec.Collector.Template.DeepCopy()
	} else {
		tmpl = e.defaultTemplate()
	}
	if tmpl.Spec.RestartPolicy == "" {
		tmpl.Spec.RestartPolicy = corev1.RestartPolicyNever
	}
	if tmpl.Spec.ServiceAccountName == "" {
		tmpl.Spec.ServiceAccountName = CollectorServiceAccount
	}
	env := a.Env()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vars := make([]corev1.EnvVar, 0, len(keys)+1)
	for _, k := range keys {
		vars = append(vars, corev1.EnvVar{Name: k, Value: env[k]})
	}
	if h := cj.Spec.Collector.HTTP; h != nil && h.TokenSecretRef != nil {
		vars = append(vars, corev1.EnvVar{Name: collector.EnvHTTPToken, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: h.TokenSecretRef}})
	}
	if c := cj.Spec.Collector.CSV; c != nil && cj.Spec.Collector.Source == sweepv1alpha1.SourceCSV {
		tmpl.Spec.Volumes = append(tmpl.Spec.Volumes, corev1.Volume{Name: "sweep-csv", VolumeSource: corev1.VolumeSource{
			ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: c.ConfigMapName}}}})
	}
	for i := range tmpl.Spec.Containers {
		c := &tmpl.Spec.Containers[i]
		c.Env = append(c.Env, vars...)
		if cj.Spec.Collector.CSV != nil && cj.Spec.Collector.Source == sweepv1alpha1.SourceCSV {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "sweep-csv", MountPath: collector.CSVMountDir, ReadOnly: true})
		}
	}
	labels := map[string]string{
		LabelCollectionJob:       round.LabelValue(cj.Name),
		sweepv1alpha1.LabelRound: round.LabelValue(cj.Spec.Round),
		LabelVisit:               fmt.Sprint(visit),
	}
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	for k, v := range labels {
		tmpl.Labels[k] = v
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: cj.Namespace, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, sweepv1alpha1.GroupVersion.WithKind("CollectionJob"))},
		},
		Spec: batchv1.JobSpec{
			// The operator retries a failed visit itself, with a new Job.
			BackoffLimit: ptr.To[int32](0),
			Template:     tmpl,
		},
	}
	// A visit cannot outlast the round.
	if left := int64(cj.Spec.Deadline.Sub(metav1.Now().Time).Seconds()); left > 0 {
		job.Spec.ActiveDeadlineSeconds = ptr.To(left)
	}
	return job
}

// defaultTemplate runs this project's image as `sweep collect` under the
// restricted Pod Security Standard.
func (e *JobExecutor) defaultTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		AutomountServiceAccountToken: ptr.To(true),
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
		Containers: []corev1.Container{{
			Name:  "collector",
			Image: e.Image,
			Args:  []string{"collect"},
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("200m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
			},
		}},
	}}
}

// ensureCollectorRBAC gives a job's namespace the collector's
// ServiceAccount, Role and RoleBinding, once per round per manager run.
func (e *JobExecutor) ensureCollectorRBAC(ctx context.Context, cj *sweepv1alpha1.CollectionJob) error {
	ns, key := cj.Namespace, cj.UID
	if owner := metav1.GetControllerOf(cj); owner != nil {
		key = owner.UID
	}
	e.mu.Lock()
	ready := e.rbacReady[key]
	e.mu.Unlock()
	if ready {
		return nil
	}
	_, err, _ := e.rbacOnce.Do(string(key), func() (any, error) {
		if err := e.createCollectorRBAC(ctx, ns); err != nil {
			return nil, err
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.rbacReady == nil {
			e.rbacReady = map[types.UID]bool{}
		}
		e.rbacReady[key] = true
		return nil, nil
	})
	return err
}

func (e *JobExecutor) createCollectorRBAC(ctx context.Context, ns string) error {
	meta := metav1.ObjectMeta{Name: CollectorServiceAccount, Namespace: ns, Labels: map[string]string{"app.kubernetes.io/managed-by": "sweep"}}
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: meta},
		&rbacv1.Role{ObjectMeta: meta, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{sweepv1alpha1.GroupVersion.Group}, Resources: []string{"collectionjobs"}, Verbs: []string{"get"}},
			{APIGroups: []string{sweepv1alpha1.GroupVersion.Group}, Resources: []string{"collectionjobs/status"}, Verbs: []string{"patch"}},
		}},
		&rbacv1.RoleBinding{ObjectMeta: meta,
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: CollectorServiceAccount},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: CollectorServiceAccount, Namespace: ns}}},
	}
	for _, o := range objs {
		if err := e.Client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the collector's %T in %s: %w", o, ns, err)
		}
	}
	return nil
}
