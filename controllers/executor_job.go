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
	"math"
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
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collection"
	"github.com/masstesting/sweep/internal/collector"
	"github.com/masstesting/sweep/internal/expectations"
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
	// Memory, when set, remembers the visit Jobs created that the cache
	// does not show yet: a reconcile in between takes the visit as running
	// instead of creating its Job again (an AlreadyExists write each).
	Memory *expectations.Store

	mu sync.Mutex
	// rbacReady remembers the rounds whose namespace has the collector
	// identity. Per round, not per namespace: a namespace deleted and
	// created again under the same name has lost it. A round does not
	// outlive its namespace, so a new round checks again.
	rbacReady map[types.UID]bool
	// rbacOnce makes the reconciles that start a round's first visits at
	// the same moment (up to 16) create its identity once, not once each.
	rbacOnce singleflight.Group
}

// Patch: a running visit Job's activeDeadlineSeconds follows the round's deadline.
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete;patch
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
	if e.Memory != nil {
		e.Memory.CreatedObject(visitJobKey(cj.Namespace, name), time.Now())
	}
	return nil
}

// visitCacheWait is how long a visit Job created but not in the cache yet
// is taken as running. Past it, the Job is taken as lost and created again.
const visitCacheWait = time.Minute

func visitJobKey(namespace, name string) expectations.ObjectKey {
	return expectations.ObjectKey{Kind: "Job", NamespacedName: types.NamespacedName{Namespace: namespace, Name: name}}
}

// Observe reads the attempt's Job from the cache.
func (e *JobExecutor) Observe(ctx context.Context, cj *sweepv1alpha1.CollectionJob, name string) (collection.Observed, error) {
	var job batchv1.Job
	err := e.Client.Get(ctx, client.ObjectKey{Namespace: cj.Namespace, Name: name}, &job)
	if apierrors.IsNotFound(err) {
		if e.Memory != nil {
			if at, ok := e.Memory.CreatedNotCached(visitJobKey(cj.Namespace, name), time.Now(), visitCacheWait); ok {
				return collection.Observed{State: collection.VisitRunning, Started: at}, nil
			}
		}
		return collection.Observed{State: collection.VisitUnknown}, nil
	}
	if err != nil {
		return collection.Observed{}, err
	}
	if e.Memory != nil {
		e.Memory.ObjectCached(visitJobKey(cj.Namespace, name))
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

// Forget does nothing: the job executor keeps nothing per CollectionJob
// (its visit Jobs are owned by it and go with it).
func (e *JobExecutor) Forget(types.NamespacedName) {}

// Setup adds nothing: the collection controller owns the visit Jobs, so
// their changes wake it already.
func (e *JobExecutor) Setup(manager.Manager, *builder.Builder) error { return nil }

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
	// Always the collector's identity: the admission policies let only this
	// ServiceAccount's visit pods write reports, and the CRD refuses a
	// template naming another one (a round must not borrow an identity).
	tmpl.Spec.ServiceAccountName = CollectorServiceAccount
	tmpl.Spec.DeprecatedServiceAccount = ""
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
	// A visit cannot outlast the round, even with the operator down.
	if s := visitDeadlineSeconds(metav1.Now().Time, cj.Spec.Deadline.Time); s > 0 {
		job.Spec.ActiveDeadlineSeconds = ptr.To(s)
	}
	return job
}

// visitDeadlineSlack is how long after the round's deadline a visit Job's
// own deadline falls. The operator stops every visit at the round's
// deadline itself (collection.Decide); the Job's activeDeadlineSeconds is
// the backstop for an operator that is down, and must never cut a visit the
// operator would let run: counted from the Job's start, which comes a little
// after its creation, it falls later than the round's deadline.
const visitDeadlineSlack = time.Minute

// visitDeadlineSeconds is the activeDeadlineSeconds of a visit Job counted
// from `from` (its creation, or its start) for a round ending at deadline.
func visitDeadlineSeconds(from, deadline time.Time) int64 {
	if !from.Before(deadline) {
		return 0
	}
	return int64(math.Ceil(deadline.Add(visitDeadlineSlack).Sub(from).Seconds()))
}

// KeepDeadline moves a running visit Job's activeDeadlineSeconds (mutable
// on a Job) when the round's deadline moved: later, so the Job's own
// deadline does not fail a visit the round still allows; earlier, so the
// backstop follows. A Job whose deadline already lies between the round's
// deadline and twice the slack after it is left alone, so that a visit
// costs no write here unless the deadline was edited.
func (e *JobExecutor) KeepDeadline(ctx context.Context, cj *sweepv1alpha1.CollectionJob, name string) error {
	var job batchv1.Job
	err := e.Client.Get(ctx, client.ObjectKey{Namespace: cj.Namespace, Name: name}, &job)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if job.DeletionTimestamp != nil {
		return nil
	}
	from := job.CreationTimestamp.Time
	if job.Status.StartTime != nil {
		from = job.Status.StartTime.Time
	}
	deadline := cj.Spec.Deadline.Time
	if ads := job.Spec.ActiveDeadlineSeconds; ads != nil {
		end := from.Add(time.Duration(*ads) * time.Second)
		if !end.Before(deadline) && !end.After(deadline.Add(2*visitDeadlineSlack)) {
			return nil
		}
	}
	want := visitDeadlineSeconds(from, deadline)
	if want <= 0 {
		return nil // the round's deadline passed: Decide stops the visit
	}
	patch := client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"activeDeadlineSeconds":%d}}`, want)))
	if err := e.Client.Patch(ctx, &job, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("moving the deadline of visit Job %s: %w", name, err)
	}
	return nil
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
