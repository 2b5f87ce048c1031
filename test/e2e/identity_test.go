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

package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testharness/kubelet"
	"github.com/masstesting/sweep/internal/testobjects"
)

// TestWhoMayWriteWhat tries, with real tokens and real users' rights, every
// write that docs/reliability.md's "Who may write what" says is refused,
// under the admission policies of config/admission: a visit pod's token
// writes its own building's report and nothing else; tokens not bound to
// the current visit's pod write nothing; only the operator's Jobs run as
// the collector; namespace editors and admins cannot make a collection job
// a round counts; and a round names only Secrets its writer may read.
func TestWhoMayWriteWhat(t *testing.T) {
	t.Parallel()
	// Visit pods are held running, so their visits stay under way, until the
	// test releases one.
	var released sync.Map
	cl := startCluster(t, func(p *corev1.Pod) kubelet.Action {
		if _, ok := released.Load(p.Name); ok {
			return kubelet.Run
		}
		return kubelet.Hold
	})
	cl.startManager(t, "identity", "--drill-time-scale="+drillTimeScale)
	ctx := context.Background()
	ns := cl.namespace(t, "identity")
	for _, b := range []string{"a", "b"} {
		if err := cl.c.Create(ctx, testobjects.Building(ns, b).Residents(20).Households(10).Layout(1, 5).Obj()); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.c.Create(ctx, drillRound(ns, "today", 2, 2, time.Hour, 16)); err != nil {
		t.Fatal(err)
	}

	// Both buildings' first visits under way, each with its pod running.
	cjs := map[string]*sweepv1alpha1.CollectionJob{}
	pods := map[string]*corev1.Pod{}
	await(t, 2*time.Minute, "both buildings' first visit pods running", func(ctx context.Context) (bool, error) {
		for _, cj := range cl.jobs(t, ns) {
			if cj.Status.ActiveJob == "" {
				return false, nil
			}
			var l corev1.PodList
			if err := cl.c.List(ctx, &l, client.InNamespace(ns), client.MatchingLabels{"job-name": cj.Status.ActiveJob}); err != nil {
				return false, err
			}
			if len(l.Items) != 1 || l.Items[0].Status.Phase != corev1.PodRunning {
				return false, nil
			}
			cjs[cj.Spec.Building], pods[cj.Spec.Building] = cj.DeepCopy(), l.Items[0].DeepCopy()
		}
		return len(cjs) == 2, nil
	})
	a, b := cjs["a"], cjs["b"]
	asPodA := cl.tokenClient(t, cl.podToken(t, pods["a"]))

	t.Run("a visit pod's token writes its own building's report", func(t *testing.T) {
		if err := writeReport(asPodA, a, 1, nil); err != nil {
			t.Fatalf("the visit pod's own report was refused: %v", err)
		}
	})

	t.Run("a visit pod's token cannot write another building's report", func(t *testing.T) {
		refused(t, writeReport(asPodA, b, 1, nil), "only a pod of its current visit Job "+b.Status.ActiveJob)
	})

	t.Run("a token not bound to a visit pod cannot write a report", func(t *testing.T) {
		// A token of the collector's ServiceAccount bound to nothing, as
		// `kubectl create token sweep-collector` gives.
		tr, err := cl.cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "sweep-collector",
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		refused(t, writeReport(cl.tokenClient(t, tr.Status.Token), a, 1, nil), "with a token not bound to a pod")

		// A pod running as the collector whose name starts like a visit
		// pod's (a retry's pod would be named so), made by a cluster admin,
		// whom the policies do not stop.
		other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: a.Status.ActiveJob + "-r1-abcde"},
			Spec: corev1.PodSpec{ServiceAccountName: "sweep-collector", Containers: []corev1.Container{{Name: "c", Image: "sweep:e2e"}}}}
		if err := cl.c.Create(ctx, other); err != nil {
			t.Fatal(err)
		}
		refused(t, writeReport(cl.tokenClient(t, cl.podToken(t, other)), a, 1, nil), "from pod "+other.Name)
	})

	t.Run("a visit pod's token cannot change the operator's fields", func(t *testing.T) {
		refused(t, writeReport(asPodA, a, 1, map[string]any{"phase": "Completed"}), "not the operator's status.phase")
		refused(t, writeReport(asPodA, a, 1, map[string]any{"sampled": 20, "missed": 0}), "not the operator's status.missed, status.sampled")
		refused(t, writeReport(asPodA, a, 2, nil), "a collector may report on that visit only, not on visit 2")
	})

	t.Run("pods, Jobs and tokens of the collector come only from the operator's Jobs", func(t *testing.T) {
		cl.bind(t, ns, "editor", "ClusterRole", "edit")
		asEditor := cl.as(t, "editor")
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "own-collector"},
			Spec: corev1.PodSpec{ServiceAccountName: "sweep-collector", Containers: []corev1.Container{{Name: "c", Image: "sweep:e2e"}}}}
		refused(t, asEditor.Create(ctx, pod.DeepCopy()), "only the Job controller creates pods that run as sweep-collector")
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "own-collector"},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: *pod.Spec.DeepCopy()}}}
		job.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		refused(t, asEditor.Create(ctx, job), "only the Sweep operator creates Jobs whose pods run as sweep-collector")
		// The same pod without the collector's identity is the editor's to make.
		pod.Spec.ServiceAccountName = ""
		if err := asEditor.Create(ctx, pod, client.DryRunAll); err != nil {
			t.Errorf("the editor's own pod was refused: %v", err)
		}
		// A token bound to building B's running visit pod.
		tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
			BoundObjectRef: &authenticationv1.BoundObjectReference{APIVersion: "v1", Kind: "Pod", Name: pods["b"].Name, UID: pods["b"].UID}}}
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sweep-collector"}}
		refused(t, asEditor.SubResource("token").Create(ctx, sa, tr), "issued only to the kubelet")
		// Another image in B's running visit pod.
		patch := []byte(`{"spec":{"containers":[{"name":"` + pods["b"].Spec.Containers[0].Name + `","image":"evil:latest"}]}}`)
		refused(t, asEditor.Patch(ctx, pods["b"].DeepCopy(), client.RawPatch(types.StrategicMergePatchType, patch)), "its spec (images, ephemeral containers) cannot change")
	})

	t.Run("namespace editors and admins cannot make a collection job a round counts", func(t *testing.T) {
		// Sweep's roles for people, aggregated into the built-in edit and
		// admin roles as config/rbac installs them.
		for _, kind := range []string{"building", "testinground", "collectionjob", "testingschedule"} {
			for _, role := range []string{"viewer", "editor", "admin"} {
				cl.kubectl(t, "apply", "--server-side", "-f", filepath.Join(root, "config", "rbac", kind+"_"+role+"_role.yaml"))
			}
		}
		cl.bind(t, ns, "district-admin", "ClusterRole", "admin")
		// The aggregation controller adds them to edit and admin shortly.
		for user, verb := range map[string]string{"editor": "delete", "district-admin": "create"} {
			await(t, time.Minute, user+" may "+verb+" collectionjobs", func(ctx context.Context) (bool, error) {
				sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user, Groups: []string{"system:authenticated"},
					ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: sweepv1alpha1.GroupVersion.Group, Resource: "collectionjobs"}}}
				if err := cl.c.Create(ctx, sar); err != nil {
					return false, err
				}
				return sar.Status.Allowed, nil
			})
		}
		forged := &sweepv1alpha1.CollectionJob{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "forged",
			OwnerReferences: a.OwnerReferences}, Spec: *a.Spec.DeepCopy()}
		forged.Spec.Building = "forged"
		err := cl.as(t, "editor").Create(ctx, forged.DeepCopy())
		if !apierrors.IsForbidden(err) {
			t.Errorf("an editor created a CollectionJob: %v", err)
		}
		refused(t, cl.as(t, "district-admin").Create(ctx, forged.DeepCopy()), "only the Sweep operator makes a collection job part of a TestingRound")
		fewer := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"expected":1}}`))
		refused(t, cl.as(t, "district-admin").Patch(ctx, a.DeepCopy(), fewer), "the spec of a round's collection job is the operator's")
	})

	t.Run("a round names only Secrets its writer may read", func(t *testing.T) {
		sns := cl.namespace(t, "secrets")
		if err := cl.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: sns, Name: "registry-token"},
			StringData: map[string]string{"token": "s3cret"}}); err != nil {
			t.Fatal(err)
		}
		// A commander may edit rounds and schedules, not read Secrets.
		if err := cl.c.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: sns, Name: "rounds"},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{sweepv1alpha1.GroupVersion.Group}, Resources: []string{"testingrounds", "testingschedules"},
				Verbs: []string{"get", "create", "update", "patch"}}}}); err != nil {
			t.Fatal(err)
		}
		cl.bind(t, sns, "commander", "Role", "rounds")
		cl.bind(t, sns, "editor", "ClusterRole", "edit")
		asCommander, asEditor := cl.as(t, "commander"), cl.as(t, "editor")

		withToken := drillRound(sns, "registry", 2, 2, time.Hour, 1)
		withToken.Spec.Collector.CollectorSource = sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceHTTP,
			HTTP: &sweepv1alpha1.HTTPSource{URL: "https://registry.example", TokenSecretRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: "registry-token"}, Key: "token"}}}
		refused(t, asCommander.Create(ctx, withToken.DeepCopy(), client.DryRunAll), "names the Secret registry-token, which you (commander) may not get")

		withEnv := drillRound(sns, "env", 2, 2, time.Hour, 1)
		withEnv.Spec.Collector.Template = &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "sweep:e2e",
			Env: []corev1.EnvVar{{Name: "T", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: withToken.Spec.Collector.HTTP.TokenSecretRef}}}}}}}
		refused(t, asCommander.Create(ctx, withEnv.DeepCopy(), client.DryRunAll), "names the Secret registry-token")

		schedule := &sweepv1alpha1.TestingSchedule{ObjectMeta: metav1.ObjectMeta{Namespace: sns, Name: "daily"},
			Spec: sweepv1alpha1.TestingScheduleSpec{Schedule: "0 6 * * *", RoundTemplate: sweepv1alpha1.RoundTemplate{Spec: sweepv1alpha1.RoundTemplateSpec{
				Duration: sweepv1alpha1.Duration{Duration: 12 * time.Hour},
				Collector: sweepv1alpha1.CollectorSpec{CollectorSource: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill}, Template: &corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					Containers: []corev1.Container{{Name: "c", Image: "sweep:e2e"}},
					Volumes:    []corev1.Volume{{Name: "t", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "registry-token"}}}}}}}}}}}
		refused(t, asCommander.Create(ctx, schedule.DeepCopy(), client.DryRunAll), "names the Secret registry-token")

		// Without a Secret the commander's round is admitted; with it, an
		// editor's (who may read Secrets); and the commander may then move
		// that round's deadline, which names no new Secret.
		if err := asCommander.Create(ctx, drillRound(sns, "plain", 2, 2, time.Hour, 1), client.DryRunAll); err != nil {
			t.Errorf("the commander's round without a Secret was refused: %v", err)
		}
		if err := asEditor.Create(ctx, schedule.DeepCopy(), client.DryRunAll); err != nil {
			t.Errorf("the editor's schedule naming a Secret was refused: %v", err)
		}
		if err := asEditor.Create(ctx, withToken); err != nil {
			t.Fatalf("the editor's round naming a Secret was refused: %v", err)
		}
		later := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"deadline":"`+withToken.Spec.Deadline.Add(time.Hour).UTC().Format(time.RFC3339)+`"}}`))
		if err := asCommander.Patch(ctx, withToken.DeepCopy(), later); err != nil {
			t.Errorf("the commander's deadline change of a round naming a Secret was refused: %v", err)
		}
		// Nor can a round run its pods as another ServiceAccount (the CRD's
		// own rule, for cluster admins too).
		other := drillRound(sns, "other-identity", 2, 2, time.Hour, 1)
		other.Spec.Collector.Template = &corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "default",
			Containers: []corev1.Container{{Name: "c", Image: "sweep:e2e"}}}}
		if err := cl.c.Create(ctx, other, client.DryRunAll); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "must be empty or sweep-collector") {
			t.Errorf("a round running as ServiceAccount default: %v, want Invalid (must be empty or sweep-collector)", err)
		}
	})

	t.Run("a visit pod's token cannot write once its visit ended", func(t *testing.T) {
		// Let building A's collector run: its final report ends the visit.
		released.Store(pods["a"].Name, true)
		touch := []byte(`{"metadata":{"annotations":{"e2e.sweep.masstesting.io/released":"true"}}}`)
		if err := cl.c.Patch(ctx, pods["a"].DeepCopy(), client.RawPatch(types.MergePatchType, touch)); err != nil {
			t.Fatal(err)
		}
		await(t, 2*time.Minute, "building A's first visit to end", func(ctx context.Context) (bool, error) {
			var cj sweepv1alpha1.CollectionJob
			if err := cl.c.Get(ctx, client.ObjectKeyFromObject(a), &cj); err != nil {
				return false, err
			}
			return cj.Status.ActiveJob != a.Status.ActiveJob, nil
		})
		if errs := cl.kubelet.Errors(); len(errs) > 0 {
			t.Errorf("building A's collector, with its own token, failed: %v", errs)
		}
		refused(t, writeReport(asPodA, a, 1, nil), "only a pod of its current visit Job")
	})
}

// writeReport writes a progress report for visit into cj's status, plus
// the extra status fields, as a merge patch of the status subresource.
func writeReport(c client.Client, cj *sweepv1alpha1.CollectionJob, visit int32, extra map[string]any) error {
	status := map[string]any{"report": map[string]any{"visit": visit, "sampled": 1, "missed": cj.Spec.Expected - 1,
		"time": time.Now().UTC().Format(time.RFC3339)}}
	for k, v := range extra {
		status[k] = v
	}
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	obj := &sweepv1alpha1.CollectionJob{ObjectMeta: metav1.ObjectMeta{Namespace: cj.Namespace, Name: cj.Name}}
	return c.Status().Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, patch))
}

// refused checks that err is an admission policy's refusal saying want; an
// RBAC refusal or a success fails.
func refused(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("admitted; want refused with %q", want)
	case !strings.Contains(err.Error(), "ValidatingAdmissionPolicy") || !strings.Contains(err.Error(), want):
		t.Errorf("refused with %v; want an admission policy's refusal with %q", err, want)
	default:
		t.Logf("refused: %v", err)
	}
}

// podToken is a token bound to the pod, what the kubelet gives it.
func (cl *cluster) podToken(t *testing.T, p *corev1.Pod) string {
	t.Helper()
	token, err := kubelet.PodToken(context.Background(), cl.cs, p)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// tokenClient is a client with only the bearer token.
func (cl *cluster) tokenClient(t *testing.T, token string) client.Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kubelet.TokenKubeconfig(cl.kubeconfig, token, path); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bind gives user the role (kind Role or ClusterRole) in ns.
func (cl *cluster) bind(t *testing.T, ns, user, kind, role string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user + "-" + strings.ToLower(kind) + "-" + role},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: role},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}}}
	if err := cl.c.Create(context.Background(), rb); err != nil {
		t.Fatal(err)
	}
}
