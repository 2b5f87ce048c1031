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
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
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
	"github.com/masstesting/sweep/internal/expectations"
	"github.com/masstesting/sweep/internal/round"
)

// RoundFieldOwner is the field manager of everything the round controller
// writes with server-side apply.
const RoundFieldOwner = "sweep-round-controller"

// TestingRoundReconciler expands a TestingRound into one CollectionJob per
// selected building, admits them team by team, and rolls their status up
// into the round. The decisions are in internal/round; this type reads the
// world, calls them, and writes.
type TestingRoundReconciler struct {
	client.Client
	// APIReader reads from the API server, past the cache: the owner of a
	// job name that already exists (SetupWithManager sets it).
	APIReader client.Reader
	// cached reads jobs and Buildings from the manager's cache without
	// copies (SetupWithManager sets it).
	cached *cacheReader
	// pipeline sends the creates the decisions plan (SetupWithManager
	// makes it).
	pipeline *createPipeline
	// Clock is the round clock: start, deadline and TTL are read from it, so
	// tests can move time instead of sleeping.
	Clock clock.PassiveClock
	// Recorder publishes the round's events.
	Recorder events.EventRecorder
	// Workers is the number of job creates the manager has in flight at
	// most, for all rounds together (the create pipeline's workers).
	Workers int
	// StatusInterval is the least wall-clock time between two status writes
	// of one round that do not change its phase, so a round with thousands
	// of busy buildings writes about once a second, not once per job event.
	StatusInterval time.Duration
	// ExpansionBatch bounds the jobs of one round queued or in flight in
	// the create pipeline (default 1000): a 50,000-building round plans its
	// jobs a few hundred at a time as the creates go out, each reconcile
	// holding at most a thousand new objects rather than fifty thousand,
	// and its status shows the expansion as it goes.
	ExpansionBatch int
	// JobEventDelay folds the job changes of one round that arrive within
	// it into one reconcile (default 200ms). A job that finishes is not
	// delayed: it frees a team for the next building.
	JobEventDelay time.Duration

	// Memory is what the manager knows that its cache does not show yet:
	// jobs created and admitted, deleted jobs, the last status write, the
	// last reconcile's cost. It must be the collection controller's Store
	// too: that controller starts the jobs admitted in it
	// (SetupWithManager makes one when nil, for a manager without it).
	Memory *expectations.Store
}

// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=testingrounds,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=testingrounds/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=collectionjobs,verbs=get;list;watch;create;patch
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=buildings,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// Jobs carry a controller reference with blockOwnerDeletion, which needs
// update on the owner's finalizers where OwnerReferencesPermissionEnforcement is on.
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=testingrounds/finalizers,verbs=update

// Reconcile brings one round one step closer to its spec: it reads, calls
// round.Decide, and writes.
func (r *TestingRoundReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var tr sweepv1alpha1.TestingRound
	if err := r.Get(ctx, req.NamespacedName, &tr); err != nil {
		if apierrors.IsNotFound(err) {
			r.Memory.ForgetRound(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if tr.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	if err := r.Memory.TakeCreateError(req.NamespacedName); err != nil {
		if namespaceTerminating(err) {
			// The namespace controller is deleting the jobs (which brings
			// the round here to recreate them) and the round itself.
			logger.Info("not creating jobs: the namespace is being deleted")
			return ctrl.Result{}, nil
		}
		// The workqueue backs the round off before its next try.
		return ctrl.Result{}, err
	}
	now := r.Clock.Now()
	var wake round.Wakeup
	if done, after := r.expireByTTL(ctx, &tr, now); done {
		return ctrl.Result{}, nil
	} else if after > 0 {
		wake.At(after)
	}

	began := time.Now()
	obs, err := r.observe(ctx, &tr, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	d := round.Decide(obs)
	for _, w := range d.Warnings {
		r.Recorder.Eventf(&tr, nil, w.Type, w.Reason, "Reconcile", "%s", w.Message)
	}
	if len(d.Create) > 0 {
		// Expected before they are sent, so that no decision plans them
		// again while they are in flight; the pipeline records how each
		// create went, and wakes the round when it has room for more.
		r.Memory.Created(req.NamespacedName, d.Create)
		r.pipeline.Add(&tr, d.Create)
		logger.V(1).Info("jobs queued for creation", "queued", len(d.Create), "inFlight", r.pipeline.InFlight(req.NamespacedName))
	}
	// Admitted in memory: the collection controller starts them.
	r.Memory.Admit(req.NamespacedName, d.Admit)

	if st := d.Status; !equality.Semantic.DeepEqual(st, tr.Status) {
		if wait := r.Memory.StatusWriteWait(req.NamespacedName, r.StatusInterval, st.Phase != tr.Status.Phase, time.Now()); wait > 0 {
			wake.At(wait)
		} else {
			if err := r.writeStatus(ctx, &tr, st); err != nil {
				return ctrl.Result{}, err
			}
			for _, e := range d.Events {
				r.Recorder.Eventf(&tr, nil, e.Type, e.Reason, "Reconcile", "%s", e.Message)
			}
			if st.Phase != tr.Status.Phase {
				logger.Info("phase changed", "from", tr.Status.Phase, "to", st.Phase, "buildings", st.BuildingProgress)
			}
			logger.V(1).Info("status written", "phase", st.Phase, "buildings", st.BuildingProgress)
		}
	}
	r.Memory.SetCost(req.NamespacedName, time.Since(began))
	if d.RequeueAfter > 0 {
		wake.At(d.RequeueAfter)
	}
	return ctrl.Result{RequeueAfter: wake.After}, nil
}

// observe reads what round.Decide decides from, all from the cache and
// read-only, with what the manager knows that the cache does not show yet
// (r.Memory): jobs created, and jobs admitted in memory as admitted copies.
func (r *TestingRoundReconciler) observe(ctx context.Context, tr *sweepv1alpha1.TestingRound, now time.Time) (round.Observed, error) {
	key := client.ObjectKeyFromObject(tr)
	obs := round.Observed{Round: tr, Room: r.pipeline.Room(key), Now: now}
	obs.NamesTaken, obs.Refused = r.Memory.Held(key, time.Now())
	obs.Creating = r.Memory.InCreation(key)
	cached, err := r.cached.roundJobs(ctx, tr)
	if err != nil {
		return obs, err
	}
	all := r.Memory.WithUnseen(key, cached, func(j *sweepv1alpha1.CollectionJob) bool { return round.Controls(tr, j) })
	obs.Jobs = round.AsAdmitted(all, r.Memory.Admissions(key, all))
	if obs.Pools, err = r.cached.roundPools(ctx, tr); err != nil {
		return obs, err
	}
	if tr.Spec.MopUpOf != "" {
		base, err := r.readMopUpBase(ctx, tr)
		obs.Earlier, obs.EarlierJobs = base.round, base.jobs
		return obs, err
	}
	if round.ReadsBuildings(tr, now) {
		selector, err := round.Selector(tr)
		if err != nil {
			obs.SelectorError = err
			return obs, nil
		}
		obs.Buildings, err = r.cached.buildingsMatching(ctx, tr.Namespace, selector)
		return obs, err
	}
	return obs, nil
}

// expireByTTL deletes a finished round whose ttlSecondsAfterFinished has
// passed (its jobs go with it, through the garbage collector). Otherwise it
// says how long until then.
func (r *TestingRoundReconciler) expireByTTL(ctx context.Context, tr *sweepv1alpha1.TestingRound, now time.Time) (bool, time.Duration) {
	ttl := tr.Spec.TTLSecondsAfterFinished
	// Positive pools still being chased keep the round: deleting it would
	// delete them and their retests. Resolving the last one brings the
	// round back here (its pools are watched).
	if ttl == nil || !tr.Status.Phase.Finished() || tr.Status.CompletionTime == nil || round.PoolsUnresolved(tr.Status.PositivePools) {
		return false, 0
	}
	left := tr.Status.CompletionTime.Add(time.Duration(*ttl) * time.Second).Sub(now)
	if left > 0 {
		return false, left
	}
	err := r.Delete(ctx, tr, client.PropagationPolicy(metav1.DeletePropagationBackground),
		client.Preconditions{UID: &tr.UID})
	if err != nil && !apierrors.IsNotFound(err) {
		log.FromContext(ctx).Error(err, "deleting a round after its TTL")
		return false, time.Second
	}
	return true, 0
}

// mopUpBase is the round a mop-up round mops up, and its jobs (those it
// controls): nil when it does not exist or is being deleted.
type mopUpBase struct {
	round *sweepv1alpha1.TestingRound
	jobs  []*sweepv1alpha1.CollectionJob
}

// readMopUpBase reads the round tr mops up (spec.mopUpOf) and its jobs from
// the cache, read-only.
func (r *TestingRoundReconciler) readMopUpBase(ctx context.Context, tr *sweepv1alpha1.TestingRound) (mopUpBase, error) {
	var earlier sweepv1alpha1.TestingRound
	if err := r.Get(ctx, client.ObjectKey{Namespace: tr.Namespace, Name: tr.Spec.MopUpOf}, &earlier); err != nil {
		if apierrors.IsNotFound(err) {
			return mopUpBase{}, nil
		}
		return mopUpBase{}, fmt.Errorf("reading round %s, which round %s mops up: %w", tr.Spec.MopUpOf, tr.Name, err)
	}
	if earlier.DeletionTimestamp != nil {
		// Its jobs are going: what they missed can no longer be read.
		return mopUpBase{}, nil
	}
	jobs, err := r.cached.roundJobs(ctx, &earlier)
	return mopUpBase{round: &earlier, jobs: jobs}, err
}

// mopUpsOf maps a round to the mop-up rounds of its namespace that name it
// in spec.mopUpOf: they wait for it to exist and to finish.
func (r *TestingRoundReconciler) mopUpsOf(ctx context.Context, obj client.Object) []reconcile.Request {
	var rounds sweepv1alpha1.TestingRoundList
	if err := r.List(ctx, &rounds, client.InNamespace(obj.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "listing rounds for their mop-ups")
		return nil
	}
	var out []reconcile.Request
	for i := range rounds.Items {
		if m := &rounds.Items[i]; m.Spec.MopUpOf == obj.GetName() && m.Name != obj.GetName() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(m)})
		}
	}
	return out
}

// roundPhaseChanged passes the round events a mop-up round waits for: the
// round created, deleted, or its phase changed.
var roundPhaseChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*sweepv1alpha1.TestingRound)
		n, ok2 := e.ObjectNew.(*sweepv1alpha1.TestingRound)
		return !ok1 || !ok2 || o.Status.Phase != n.Status.Phase || (o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil)
	},
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// createJob sends one job's create (a createPipeline worker) and records
// how it went in r.Memory. A job that already exists counts as created only
// if this round controls it (round.Controls): names are deterministic, so
// after a restart or with a lagging cache the round finds its own jobs, but
// it never adopts one from an earlier round of its name or one made by
// hand. A building whose job's name is held by such an object, or whose job
// the API server refused as invalid, is held for NameTakenRetry; any other
// failure is returned by the round's next reconcile, which the workqueue
// then backs off.
func (r *TestingRoundReconciler) createJob(ctx context.Context, t createTask) {
	tr, j := t.owner, t.job
	key := client.ObjectKeyFromObject(tr)
	hold := func(taken bool) {
		r.Memory.CreateDone(key, j.Name, nil)
		r.Memory.HoldBuilding(key, j.Spec.Building, expectations.Hold{Taken: taken, Until: time.Now().Add(round.NameTakenRetry)})
	}
	obj := j.DeepCopy() // j is the expectation decisions read
	err := r.Create(ctx, obj)
	switch {
	case err == nil:
		r.Memory.CreateDone(key, j.Name, obj)
		if r.Memory.WasDeleted(key, j.Name) {
			r.Recorder.Eventf(tr, obj, corev1.EventTypeWarning, "CollectionJobRecreated", "Reconcile",
				"CollectionJob %s was deleted while the round ran; building %s still matches, so it was created again and is swept from its first visit. Results it reported before the deletion are no longer counted.",
				j.Name, j.Spec.Building)
		}
	case apierrors.IsInvalid(err):
		// Retrying at once cannot help; say which building and why, and go
		// on with the others.
		r.Recorder.Eventf(tr, nil, corev1.EventTypeWarning, "InvalidCollectionJob", "Reconcile",
			"Cannot create the job of building %s: %v", j.Spec.Building, err)
		hold(false)
	case apierrors.IsAlreadyExists(err):
		mine, err := r.ownsExisting(ctx, tr, j)
		switch {
		case err != nil:
			r.Memory.CreateDone(key, j.Name, nil)
			r.Memory.CreateError(key, err)
		case !mine:
			hold(true)
		default:
			r.Memory.CreateDone(key, j.Name, j)
		}
	default:
		r.Memory.CreateDone(key, j.Name, nil)
		r.Memory.CreateError(key, fmt.Errorf("creating CollectionJob %s: %w", j.Name, err))
	}
}

// ownsExisting reads the object that holds a job's name from the API server
// (the cache may not show it yet) and says whether the round controls it.
// One it does not control is not adopted; the round says so and waits for
// it to go.
func (r *TestingRoundReconciler) ownsExisting(ctx context.Context, tr *sweepv1alpha1.TestingRound, j *sweepv1alpha1.CollectionJob) (bool, error) {
	var existing sweepv1alpha1.CollectionJob
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(j), &existing); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil // deleted in between: created at the next try
		}
		return false, fmt.Errorf("reading CollectionJob %s: %w", j.Name, err)
	}
	if round.Controls(tr, &existing) {
		return true, nil
	}
	r.Recorder.Eventf(tr, &existing, corev1.EventTypeWarning, "JobNameTaken", "Reconcile",
		"CollectionJob %s, the name of building %s's job, belongs to another owner (controller UID %q, not this round's %s). It is not counted; building %s waits until that object is gone.",
		j.Name, j.Spec.Building, round.ControllerUID(&existing), tr.UID, j.Spec.Building)
	log.FromContext(ctx).Info("job name taken by an object this round does not control", "job", j.Name, "building", j.Spec.Building, "controllerUID", round.ControllerUID(&existing))
	return false, nil
}

// writeStatus applies the round's status with server-side apply: the round
// controller owns the fields it computes, and nothing else.
func (r *TestingRoundReconciler) writeStatus(ctx context.Context, tr *sweepv1alpha1.TestingRound, st sweepv1alpha1.TestingRoundStatus) error {
	_, err := applyStatus(ctx, r.Client, "TestingRound", tr, &st, RoundFieldOwner, "")
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// roundsForBuilding maps a Building to the rounds of its namespace that
// select it and still take in buildings, so a building that starts matching
// mid-round joins it.
func (r *TestingRoundReconciler) roundsForBuilding(ctx context.Context, obj client.Object) []reconcile.Request {
	var rounds sweepv1alpha1.TestingRoundList
	if err := r.List(ctx, &rounds, client.InNamespace(obj.GetNamespace())); err != nil {
		log.FromContext(ctx).Error(err, "listing rounds for a building")
		return nil
	}
	now := r.Clock.Now()
	var out []reconcile.Request
	for i := range rounds.Items {
		tr := &rounds.Items[i]
		if tr.Spec.MopUpOf != "" {
			continue // its buildings are its earlier round's, not a selector's
		}
		sel, err := round.Selector(tr)
		if err != nil || !round.Expanding(tr, now) || !sel.Matches(labels.Set(obj.GetLabels())) {
			continue
		}
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(tr)})
	}
	return out
}

// SetupWithManager registers the controller and the round index of the
// jobs' cache.
func (r *TestingRoundReconciler) SetupWithManager(mgr ctrl.Manager, concurrency int) error {
	if r.Workers <= 0 {
		r.Workers = 16
	}
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.ExpansionBatch <= 0 {
		r.ExpansionBatch = 1000
	}
	if r.JobEventDelay <= 0 {
		r.JobEventDelay = 200 * time.Millisecond
	}
	if r.Memory == nil {
		r.Memory = &expectations.Store{}
	}
	cached, err := newCacheReader(context.Background(), mgr)
	if err != nil {
		return err
	}
	r.cached = cached
	r.pipeline = newCreatePipeline(r.Workers, r.ExpansionBatch, r.createJob)
	if err := mgr.Add(r.pipeline); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&sweepv1alpha1.TestingRound{}).
		// Not Owns: a round with thousands of jobs would be reconciled (and
		// its jobs listed) once per job change. Job changes are folded into
		// one reconcile per JobEventDelay instead, except a job that finished.
		Watches(&sweepv1alpha1.CollectionJob{}, enqueueRoundOf(r.JobEventDelay, r.Memory.Pace, r.Memory.JobDeleted, r.Memory.Expects)).
		// A pool's phase changes the round's pool counts.
		Watches(&sweepv1alpha1.PositivePool{}, enqueueRoundOf(r.JobEventDelay, r.Memory.Pace, nil, nil)).
		Watches(&sweepv1alpha1.Building{}, handler.EnqueueRequestsFromMapFunc(r.roundsForBuilding),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		// A mop-up round waits for the round it mops up to exist and finish.
		Watches(&sweepv1alpha1.TestingRound{}, handler.EnqueueRequestsFromMapFunc(r.mopUpsOf),
			builder.WithPredicates(roundPhaseChanged)).
		// The create pipeline wakes a round that has room for more jobs.
		WatchesRawSource(source.Channel(r.pipeline.wake, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: concurrency}).
		WithLogConstructor(roundLogger(mgr)).
		Named("testinground").
		Complete(requeueOnConflict(r))
}

// enqueueRoundOf enqueues the round that controls a CollectionJob. A job
// that just finished frees a team, and a deleted job must be recreated, so
// their round is enqueued at once and the next building is admitted without
// delay. Any other change (a report, a visit starting, a job created by
// expansion) is enqueued delay later, and the changes that arrive within
// delay of each other are one reconcile: the workqueue keeps one entry per
// round. The creation of a job the manager is creating itself (expected) is
// not enqueued. Either way a round waits at least pace(round), its last reconcile's
// cost, so a very large round does not reconcile back to back.
func enqueueRoundOf(delay time.Duration, pace func(types.NamespacedName) time.Duration, deleted func(round types.NamespacedName, job string), expected func(round types.NamespacedName, job string) bool) handler.EventHandler {
	roundOf := func(obj client.Object) (types.NamespacedName, bool) {
		name := controllingRound(obj)
		return types.NamespacedName{Namespace: obj.GetNamespace(), Name: name}, name != ""
	}
	add := func(obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request], now bool) {
		key, ok := roundOf(obj)
		if !ok {
			return
		}
		wait := pace(key)
		if !now {
			wait = max(wait, delay)
		}
		q.AddAfter(reconcile.Request{NamespacedName: key}, wait)
	}
	finished := func(obj client.Object) bool {
		j, ok := obj.(*sweepv1alpha1.CollectionJob)
		return ok && j.Status.Phase.Finished()
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			// A job this manager is creating tells its round nothing new:
			// the create pipeline wakes the round as its creates are
			// answered, and a reconcile per 200 ms of expansion would take
			// the manager's CPU from the creates.
			if key, ok := roundOf(e.Object); ok && expected != nil && expected(key, e.Object.GetName()) {
				return
			}
			add(e.Object, q, false)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(e.ObjectNew, q, finished(e.ObjectNew) && !finished(e.ObjectOld))
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if key, ok := roundOf(e.Object); ok && deleted != nil {
				deleted(key, e.Object.GetName())
			}
			add(e.Object, q, true)
		},
	}
}
