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
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/collection"
	"github.com/masstesting/sweep/internal/expectations"
	"github.com/masstesting/sweep/internal/metrics"
	"github.com/masstesting/sweep/internal/round"
)

// CollectionFieldOwner is the field manager of the collection controller's
// status writes. The collector writes status.report as "sweep-collector".
const CollectionFieldOwner = "sweep-collection-controller"

// CollectionJobReconciler runs a building's visits: it starts them through
// its Executor, takes the collector's reports into the status, re-knocks,
// retries failed visits, and expires the job at the deadline. Decisions are
// in internal/collection.Decide.
type CollectionJobReconciler struct {
	client.Client
	Clock    clock.PassiveClock
	Recorder events.EventRecorder
	Executor Executor

	// Memory is shared with the round controller (expectations.Store):
	// the jobs it admitted without an API write, which this controller
	// starts; the visits started without a status write; the versions its
	// own status writes replaced, until the cache shows the writes.
	// SetupWithManager makes one when nil.
	Memory *expectations.Store
	// rounds is the cache's store of TestingRounds (nil: read through the
	// client). Every reconcile reads the job's round; a Get copies it, and a
	// round's status (up to 200 communities) is large, once per job event
	// at city scale.
	rounds toolscache.Store
}

// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=collectionjobs,verbs=get;list;watch
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=collectionjobs/status,verbs=get;patch
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=collectionjobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=testingrounds,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile takes one CollectionJob one step further.
func (r *CollectionJobReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cj sweepv1alpha1.CollectionJob
	if err := r.Get(ctx, req.NamespacedName, &cj); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if cj.DeletionTimestamp != nil || cj.Status.Phase.Finished() {
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	if r.Memory.CacheBehind(jobKey(req.NamespacedName), cj.ResourceVersion) {
		return ctrl.Result{}, nil
	}
	// The round the job belongs to, by UID: its pod template, and its
	// current deadline, re-knock policy, collector and suspend, which
	// reach the job through FollowRound. A job no round controls (its round
	// deleted, or made by hand) runs no visit and is counted by nobody.
	tr, err := r.roundOf(ctx, &cj)
	if err != nil || tr == nil {
		return ctrl.Result{}, err
	}
	collection.FollowRound(&cj, tr)
	if cj.Spec.Suspend && r.Memory.IsAdmitted(&cj) {
		// Admitted by the round in memory: the status this controller
		// writes next records it (round.Admitted).
		cj.Spec.Suspend = false
	}
	// A visit started without a status write (unrecordedStarts) stands
	// for the stored status until a write replaces it.
	stored := expectations.Start{UID: cj.UID, Phase: cj.Status.Phase, Visits: cj.Status.Visits}
	if st, ok := r.Memory.StartOf(&cj); ok {
		st.Report = cj.Status.Report
		cj.Status = st
	}
	now := r.Clock.Now()
	var obs collection.Observed
	if cj.Status.ActiveJob != "" {
		if obs, err = r.Executor.Observe(ctx, &cj, cj.Status.ActiveJob); err != nil {
			return ctrl.Result{}, err
		}
	}
	if obs.Report != nil {
		cj.Status.Report = obs.Report
	}
	obs.RoundSuspended = tr.Spec.Suspend
	d := collection.Decide(&cj, obs, now)
	current := cj.Status.DeepCopy()
	current.Report = nil
	if changed := !equality.Semantic.DeepEqual(*current, d.Status); changed && d.Start != "" && d.VisitResult == "" && unrecordedStarts(r.Executor) {
		// The executor's visits run in this process and end with it: a
		// start is kept in memory, and the write that ends the visit
		// records it. A one-visit building costs one status write.
		stored.Status = d.Status
		r.Memory.Started(req.NamespacedName, stored)
		for _, e := range d.Events {
			r.Recorder.Eventf(&cj, nil, e.Type, e.Reason, "Visit", "%s", e.Message)
		}
	} else if changed {
		if err := r.writeStatus(ctx, &cj, d.Status); err != nil {
			if apierrors.IsNotFound(err) {
				// Deleted since the cache showed it (its round or namespace
				// going away): nothing to start, and no error to retry,
				// which would write again from the same cache until it
				// catches up. The deletion's event forgets the job.
				return ctrl.Result{}, nil
			}
			// A conflict (the collector or another write got there first)
			// is requeued quietly by requeueOnConflict, to decide again
			// from the newer object.
			return ctrl.Result{}, err
		}
		if d.Status.Phase != cj.Status.Phase {
			log.FromContext(ctx).Info("phase changed", "from", cj.Status.Phase, "to", d.Status.Phase,
				"sampled", d.Status.Sampled, "missed", d.Status.Missed)
		}
		for _, e := range d.Events {
			r.Recorder.Eventf(&cj, nil, e.Type, e.Reason, "Visit", "%s", e.Message)
		}
		recordMetrics(&cj, d, obs, now)
	}
	// Start only once the decision is written, too: the admission policy
	// collector-report lets a visit pod report only while status.activeJob
	// names its Job, so the Job must not run before that is stored. A
	// write that fails starts nothing; the next reconcile decides again,
	// and an attempt written but not started is started then
	// (collection.VisitUnknown).
	if d.Start != "" {
		if err := r.Executor.Start(ctx, &cj, tr, d.Start, d.Visit); err != nil {
			if namespaceTerminating(err) {
				log.FromContext(ctx).Info("not starting the visit: the namespace is being deleted", "visitJob", d.Start)
				return ctrl.Result{}, nil
			}
			return ctrl.Result{}, err
		}
		log.FromContext(ctx).Info("visit started", "visit", d.Visit, "visitJob", d.Start)
	} else if obs.State == collection.VisitRunning && d.Stop == "" && d.Status.ActiveJob == cj.Status.ActiveJob {
		// A visit under way ends by the round's deadline as it is now.
		if k, ok := r.Executor.(deadlineKeeper); ok {
			if err := k.KeepDeadline(ctx, &cj, cj.Status.ActiveJob); err != nil {
				return ctrl.Result{}, err
			}
		}
	}

	// Stop only once the decision is written. A decision from a stale
	// cache (the visit Job seen finished before the collector's final
	// report) fails the write with a conflict and must not delete the
	// visit's Job; and an attempt stopped before its failure was written
	// would be unknown to the executor at the next reconcile and run again.
	if d.Stop != "" {
		if err := r.Executor.Stop(ctx, &cj, d.Stop); err != nil {
			return ctrl.Result{}, err
		}
	}

	res := ctrl.Result{RequeueAfter: d.RequeueAfter}
	if !d.Status.Phase.Finished() {
		// Wake up at the deadline, which no watch reports: every unfinished
		// job, queued ones included, so that a building never admitted is
		// written Expired, its residents missed, at the deadline.
		if left := cj.Spec.Deadline.Sub(now); left > 0 && (res.RequeueAfter == 0 || left < res.RequeueAfter) {
			res.RequeueAfter = left
		}
	}
	// A job this reconcile finished is forgotten (its guard against a
	// stale cache, the executor's record of its attempt) only by the
	// reconcile that reads it finished from the cache: a reconcile woken
	// before the cache shows the write would otherwise decide from the old
	// status and start the attempt again.
	return res, nil
}

// namespaceTerminating says whether err is the API server refusing to
// create an object in a namespace that is being deleted. Retrying cannot
// help: the namespace controller is deleting the round and its jobs, and
// their deletion ends their reconciles. Returned as an error, it would be
// retried with backoff until then, an error line each time.
func namespaceTerminating(err error) bool {
	return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)
}

// writeStatus applies the operator's status fields with server-side apply,
// conditional on the resourceVersion it decided from, so a report that
// arrived in between is never overwritten by a decision that did not see it.
func (r *CollectionJobReconciler) writeStatus(ctx context.Context, cj *sweepv1alpha1.CollectionJob, st sweepv1alpha1.CollectionJobStatus) error {
	rv, err := applyStatus(ctx, r.Client, "CollectionJob", cj, &st, CollectionFieldOwner, cj.ResourceVersion)
	if err == nil {
		r.Memory.Wrote(jobKey(client.ObjectKeyFromObject(cj)), cj.ResourceVersion, rv)
	}
	return err
}

// jobKey is a CollectionJob's key in the expectations store.
func jobKey(key client.ObjectKey) expectations.ObjectKey {
	return expectations.ObjectKey{Kind: "CollectionJob", NamespacedName: key}
}

// roundOf reads the job's round from the cache and returns it if it controls
// the job (round.Controls), else nil. spec.round names the round, but a
// round deleted and created again under that name is another round: its
// pod template, deadline and collector are not this job's.
func (r *CollectionJobReconciler) roundOf(ctx context.Context, cj *sweepv1alpha1.CollectionJob) (*sweepv1alpha1.TestingRound, error) {
	tr, err := r.getRound(ctx, cj.Namespace, cj.Spec.Round)
	if err != nil {
		return nil, err
	}
	if tr == nil {
		log.FromContext(ctx).V(1).Info("no round of this name: nothing to run", "round", cj.Spec.Round)
		return nil, nil
	}
	if !round.Controls(tr, cj) {
		log.FromContext(ctx).V(1).Info("the round of this name does not control the job: nothing to run",
			"round", cj.Spec.Round, "roundUID", tr.UID, "controllerUID", round.ControllerUID(cj))
		return nil, nil
	}
	return tr, nil
}

// getRound reads a round from the cache, or nil when there is none. From
// the store it is the cache's own object: read-only.
func (r *CollectionJobReconciler) getRound(ctx context.Context, namespace, name string) (*sweepv1alpha1.TestingRound, error) {
	if r.rounds != nil {
		obj, ok, err := r.rounds.GetByKey(namespace + "/" + name)
		if err != nil || !ok {
			return nil, err
		}
		tr, _ := obj.(*sweepv1alpha1.TestingRound)
		return tr, nil
	}
	var tr sweepv1alpha1.TestingRound
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &tr); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return &tr, nil
}

// jobsOfRound maps an edited round to its unfinished jobs, so that a
// changed deadline, collector or suspend reaches them now, not at their
// next timer. Rounds are edited rarely (the watch passes spec changes
// only), so the jobs are listed by the round's label and kept by UID.
func (r *CollectionJobReconciler) jobsOfRound(ctx context.Context, obj client.Object) []reconcile.Request {
	tr, ok := obj.(*sweepv1alpha1.TestingRound)
	if !ok {
		return nil
	}
	var jobs sweepv1alpha1.CollectionJobList
	if err := r.List(ctx, &jobs, client.InNamespace(tr.Namespace), client.MatchingLabels{sweepv1alpha1.LabelRound: round.LabelValue(tr.Name)}); err != nil {
		log.FromContext(ctx).Error(err, "listing the jobs of an edited round", "round", tr.Name)
		return nil
	}
	var out []reconcile.Request
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if round.Controls(tr, j) && !j.Status.Phase.Finished() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(j)})
		}
	}
	return out
}

func (r *CollectionJobReconciler) forget(key client.ObjectKey) {
	r.Memory.ForgetObject(jobKey(key))
	r.Executor.Forget(key)
}

// SetupWithManager registers the controller: it watches CollectionJobs,
// their visit Jobs, and what the executor adds (Executor.Setup: the local
// executor's finished visits).
func (r *CollectionJobReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Memory == nil {
		r.Memory = &expectations.Store{}
	}
	rounds, ok, err := indexerFor(context.Background(), mgr.GetCache(), &sweepv1alpha1.TestingRound{})
	if err != nil {
		return err
	}
	if ok {
		r.rounds = rounds
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&sweepv1alpha1.CollectionJob{}).
		Owns(&batchv1.Job{}).
		Watches(&sweepv1alpha1.TestingRound{}, handler.EnqueueRequestsFromMapFunc(r.jobsOfRound),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		WithLogConstructor(collectionJobLogger(mgr)).
		Named("collectionjob")
	// The round controller admits in memory (no API write to watch): it
	// tells this controller through the store.
	admitted := make(chan event.GenericEvent, 1024)
	r.Memory.OnAdmit(func(keys []types.NamespacedName) {
		for _, k := range keys {
			obj := &sweepv1alpha1.CollectionJob{}
			obj.Namespace, obj.Name = k.Namespace, k.Name
			admitted <- event.GenericEvent{Object: obj}
		}
	})
	b.WatchesRawSource(source.Channel(admitted, &handler.EnqueueRequestForObject{}))
	if err := r.Executor.Setup(mgr, b); err != nil {
		return err
	}
	return b.Complete(requeueOnConflict(r))
}

// recordMetrics counts what a written decision did: a visit that ended and
// how long it took, a building that finished and how long it took.
func recordMetrics(cj *sweepv1alpha1.CollectionJob, d collection.Decision, obs collection.Observed, now time.Time) {
	if d.VisitResult != "" {
		metrics.Visits.WithLabelValues(cj.Namespace, d.VisitResult).Inc()
		if d.VisitResult != collection.ResultFailed && !obs.Started.IsZero() {
			metrics.VisitDuration.WithLabelValues(cj.Namespace).Observe(now.Sub(obs.Started).Seconds())
		}
	}
	if d.Status.Phase.Finished() && !cj.Status.Phase.Finished() && d.Status.StartTime != nil {
		metrics.BuildingDuration.WithLabelValues(cj.Namespace, string(d.Status.Phase)).Observe(now.Sub(d.Status.StartTime.Time).Seconds())
	}
}
