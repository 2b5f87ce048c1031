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
	"slices"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/expectations"
	"github.com/masstesting/sweep/internal/schedule"
)

// ScheduleFieldOwner is the field manager of the schedule controller's
// status writes.
const ScheduleFieldOwner = "sweep-schedule-controller"

// TestingScheduleReconciler creates a TestingSchedule's rounds at their
// scheduled times, applies its concurrency policy and history limits, and
// reports what it did. The decisions are in internal/schedule; this type
// reads the world, calls them, and writes.
type TestingScheduleReconciler struct {
	client.Client
	// Clock is read for "now", so tests move time instead of sleeping.
	Clock clock.PassiveClock
	// Recorder publishes the schedule's events.
	Recorder events.EventRecorder

	mu sync.Mutex
	// forbidden remembers, per schedule, the scheduled time last reported as
	// waiting (Forbid), so the event is published once, not per reconcile.
	forbidden map[types.NamespacedName]time.Time
	// noted remembers, per schedule, the last mop-up problem said in an
	// event (firstNote).
	noted map[types.NamespacedName]string
	// Memory holds the versions the schedule's own status writes
	// replaced, until the cache shows the writes (expectations.Store): a
	// round's creation wakes this controller, often before the status
	// write that recorded it is in the cache. SetupWithManager makes one
	// when nil.
	Memory *expectations.Store
}

// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=testingschedules,verbs=get;list;watch
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=testingschedules/status,verbs=get;update;patch
// Rounds carry a controller reference with blockOwnerDeletion, which needs
// update on the owner's finalizers where OwnerReferencesPermissionEnforcement is on.
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=testingschedules/finalizers,verbs=update
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=testingrounds,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile creates the round that is due, if any, and records the
// schedule's status.
func (r *TestingScheduleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	var s sweepv1alpha1.TestingSchedule
	if err := r.Get(ctx, req.NamespacedName, &s); err != nil {
		if apierrors.IsNotFound(err) {
			r.mu.Lock()
			delete(r.forbidden, req.NamespacedName)
			delete(r.noted, req.NamespacedName)
			r.mu.Unlock()
			r.Memory.ForgetObject(scheduleKey(req.NamespacedName))
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if s.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	if r.Memory.CacheBehind(scheduleKey(req.NamespacedName), s.ResourceVersion) {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	st := *s.Status.DeepCopy()
	st.ObservedGeneration = s.Generation

	cron, loc, err := schedule.Parse(s.Spec.Schedule, s.Spec.TimeZone)
	if err == nil {
		err = s.Spec.InvalidDurations()
	}
	if err != nil {
		// Retrying cannot help: wait for the spec to change, and say why.
		st.NextScheduleTime = nil
		if r.setReady(&s, &st, metav1.ConditionFalse, sweepv1alpha1.ReasonInvalidSchedule, err.Error()+"; no round is created until it is fixed", now) {
			r.Recorder.Eventf(&s, nil, corev1.EventTypeWarning, sweepv1alpha1.ReasonInvalidSchedule, "Reconcile", "%v", err)
		}
		return ctrl.Result{}, r.writeStatus(ctx, &s, st)
	}

	var list sweepv1alpha1.TestingRoundList
	if err := r.List(ctx, &list, client.InNamespace(s.Namespace), client.MatchingFields{roundOwnerKey: s.Name}); err != nil {
		return ctrl.Result{}, err
	}
	rounds := make([]schedule.Round, 0, len(list.Items))
	for i := range list.Items {
		tr := &list.Items[i]
		if tr.DeletionTimestamp != nil {
			continue
		}
		at, ok := schedule.ScheduledTime(tr)
		if !ok {
			at = tr.CreationTimestamp.Time
		}
		sr := schedule.Round{Name: tr.Name, Scheduled: at, Phase: tr.Status.Phase, MopUpOf: tr.Spec.MopUpOf, Missed: tr.Status.Residents.Missed}
		if tr.Status.CompletionTime != nil {
			sr.CompletionTime = tr.Status.CompletionTime.Time
		}
		rounds = append(rounds, sr)
	}
	d := schedule.Decide(schedule.Input{Schedule: &s, Cron: cron, Location: loc, Rounds: rounds, Now: now})

	for _, name := range d.Prune {
		if err := r.deleteRound(ctx, s.Namespace, name); err != nil {
			return ctrl.Result{}, err
		}
		logger.V(1).Info("deleted a round beyond the history limit", "round", name)
	}
	if d.TooManyMissed {
		r.Recorder.Eventf(&s, nil, corev1.EventTypeWarning, "TooManyMissedSchedules", "Reconcile",
			"More than 1000 scheduled times passed without a round (was the operator down?); only the latest is considered.")
	}
	if !d.Missed.IsZero() && (st.LastMissedTime == nil || !st.LastMissedTime.Time.Equal(d.Missed)) {
		st.LastMissedTime = &metav1.Time{Time: d.Missed}
		why := "its round's window has already passed"
		if s.Spec.StartingDeadlineSeconds != nil && now.Sub(d.Missed) > time.Duration(*s.Spec.StartingDeadlineSeconds)*time.Second {
			why = fmt.Sprintf("it is more than startingDeadlineSeconds (%d) late", *s.Spec.StartingDeadlineSeconds)
		}
		r.Recorder.Eventf(&s, nil, corev1.EventTypeWarning, "MissedSchedule", "Reconcile",
			"No round for %s: %s.", d.Missed.In(loc).Format(time.RFC3339), why)
		logger.Info("missed a scheduled round", "scheduledTime", d.Missed)
	}
	if !d.Forbidden.IsZero() && r.firstForbidden(req.NamespacedName, d.Forbidden) {
		r.Recorder.Eventf(&s, nil, corev1.EventTypeNormal, "RoundWaiting", "Reconcile",
			"The round of %s waits: %v still running and concurrencyPolicy is Forbid.", d.Forbidden.In(loc).Format(time.RFC3339), d.Active)
	}

	active := d.Active
	if !d.Create.IsZero() {
		for _, name := range d.Replace {
			if err := r.deleteRound(ctx, s.Namespace, name); err != nil {
				return ctrl.Result{}, err
			}
			r.Recorder.Eventf(&s, nil, corev1.EventTypeNormal, "ReplacedRound", "Reconcile", "Deleted round %s to start the next (concurrencyPolicy Replace).", name)
		}
		if len(d.Replace) > 0 {
			active = nil
		}
		tr := schedule.NewRound(&s, d.Create, loc)
		err := r.Create(ctx, tr)
		switch {
		case err == nil:
			r.Recorder.Eventf(&s, nil, corev1.EventTypeNormal, "CreatedRound", "Reconcile", "Created round %s for %s.", tr.Name, d.Create.In(loc).Format(time.RFC3339))
			logger.Info("created round", "round", tr.Name, "scheduledTime", d.Create)
			active = append(active, tr.Name)
		case apierrors.IsAlreadyExists(err):
			// Created by an earlier reconcile whose status write was lost.
			// The cache may not show it yet, and a round's creation does not
			// wake this controller again: count it as active here.
			if !slices.Contains(active, tr.Name) {
				active = append(active, tr.Name)
			}
		case apierrors.IsInvalid(err):
			// The template is wrong in a way the schema let through; retrying
			// cannot help, so record the time as handled and say why.
			r.Recorder.Eventf(&s, nil, corev1.EventTypeWarning, "InvalidRound", "Reconcile", "Cannot create round %s: %v", tr.Name, err)
		default:
			return ctrl.Result{}, fmt.Errorf("creating round %s: %w", tr.Name, err)
		}
		st.LastScheduleTime = &metav1.Time{Time: d.Create}
	}

	if name, err := r.createMopUp(ctx, &s, d, loc); err != nil {
		return ctrl.Result{}, err
	} else if name != "" && !slices.Contains(active, name) {
		active = append(active, name)
	}

	st.Active = active
	st.NextMopUpTime = nil
	if !d.NextMopUp.IsZero() {
		st.NextMopUpTime = &metav1.Time{Time: d.NextMopUp}
	}
	if d.LastSuccessful != nil {
		st.LastSuccessfulRound = d.LastSuccessful.Name
		if !d.LastSuccessful.CompletionTime.IsZero() {
			st.LastSuccessfulTime = &metav1.Time{Time: d.LastSuccessful.CompletionTime}
		}
	}
	if s.Spec.Suspend {
		st.NextScheduleTime = nil
		r.setReady(&s, &st, metav1.ConditionTrue, sweepv1alpha1.ReasonSuspended, "spec.suspend is set: no round is created until it is cleared.", now)
	} else {
		st.NextScheduleTime = &metav1.Time{Time: d.Next}
		r.setReady(&s, &st, metav1.ConditionTrue, sweepv1alpha1.ReasonScheduled, fmt.Sprintf("The next round is due at %s.", d.Next.In(loc).Format(time.RFC3339)), now)
	}
	if err := r.writeStatus(ctx, &s, st); err != nil {
		return ctrl.Result{}, err
	}
	if s.Spec.Suspend {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: d.Wake(now)}, nil
}

// createMopUp creates the mop-up round Decide says is due, and returns
// its name ("" when none is due or it could not be created). A mop-up due
// too late, or whose name another round holds, is said once in an event.
func (r *TestingScheduleReconciler) createMopUp(ctx context.Context, s *sweepv1alpha1.TestingSchedule, d schedule.Decision, loc *time.Location) (string, error) {
	key := client.ObjectKeyFromObject(s)
	if mu := d.MopUpTooLate; mu != nil && r.firstNote(key, "late/"+mu.Name) {
		r.Recorder.Eventf(s, nil, corev1.EventTypeWarning, "MopUpTooLate", "Reconcile",
			"No mop-up round %s of %s: it was due at %s and its window ended at %s, before the schedule saw it (was the operator down?).",
			mu.Name, mu.Of, mu.Start.In(loc).Format(time.RFC3339), mu.Deadline.In(loc).Format(time.RFC3339))
	}
	mu := d.MopUp
	if mu == nil {
		return "", nil
	}
	tr := schedule.NewMopUpRound(s, mu)
	err := r.Create(ctx, tr)
	switch {
	case err == nil:
		r.Recorder.Eventf(s, nil, corev1.EventTypeNormal, "CreatedMopUpRound", "Reconcile",
			"Created mop-up round %s for the residents %s missed, from %s to %s.", tr.Name, mu.Of,
			mu.Start.In(loc).Format(time.RFC3339), mu.Deadline.In(loc).Format(time.RFC3339))
		log.FromContext(ctx).Info("created mop-up round", "round", tr.Name, "mopUpOf", mu.Of)
		return tr.Name, nil
	case apierrors.IsAlreadyExists(err):
		// Ours, from a reconcile the cache does not show yet; or another
		// object's, which the schedule does not adopt: said once.
		var existing sweepv1alpha1.TestingRound
		// Said once, but never counted as the schedule's: the note only
		// decides the event.
		if gerr := r.Get(ctx, client.ObjectKeyFromObject(tr), &existing); gerr == nil && !metav1.IsControlledBy(&existing, s) {
			if r.firstNote(key, "taken/"+tr.Name) {
				r.Recorder.Eventf(s, nil, corev1.EventTypeWarning, "MopUpNameTaken", "Reconcile",
					"Mop-up round %s of %s is not created: a round of that name not made by this schedule exists.", tr.Name, mu.Of)
			}
			return "", nil
		}
		return tr.Name, nil
	case apierrors.IsInvalid(err):
		if r.firstNote(key, "invalid/"+tr.Name) {
			r.Recorder.Eventf(s, nil, corev1.EventTypeWarning, "InvalidRound", "Reconcile", "Cannot create mop-up round %s: %v", tr.Name, err)
		}
		return "", nil
	}
	return "", fmt.Errorf("creating mop-up round %s: %w", tr.Name, err)
}

// firstNote reports whether note is new for the schedule, and remembers it
// as the last one, so that a condition that lasts is said once.
func (r *TestingScheduleReconciler) firstNote(key types.NamespacedName, note string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.noted == nil {
		r.noted = map[types.NamespacedName]string{}
	}
	if r.noted[key] == note {
		return false
	}
	r.noted[key] = note
	return true
}

// setReady sets the Ready condition and reports whether it changed.
func (r *TestingScheduleReconciler) setReady(s *sweepv1alpha1.TestingSchedule, st *sweepv1alpha1.TestingScheduleStatus, status metav1.ConditionStatus, reason, msg string, now time.Time) bool {
	return sweepv1alpha1.SetCondition(&st.Conditions, metav1.Condition{
		Type: sweepv1alpha1.ConditionReady, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: s.Generation, LastTransitionTime: metav1.Time{Time: now},
	})
}

func (r *TestingScheduleReconciler) firstForbidden(key types.NamespacedName, at time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.forbidden == nil {
		r.forbidden = map[types.NamespacedName]time.Time{}
	}
	if r.forbidden[key].Equal(at) {
		return false
	}
	r.forbidden[key] = at
	return true
}

// deleteRound deletes a round in the background: its CollectionJobs go
// with it through the garbage collector.
func (r *TestingScheduleReconciler) deleteRound(ctx context.Context, ns, name string) error {
	tr := &sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	err := r.Delete(ctx, tr, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting round %s: %w", name, err)
	}
	return nil
}

func (r *TestingScheduleReconciler) writeStatus(ctx context.Context, s *sweepv1alpha1.TestingSchedule, st sweepv1alpha1.TestingScheduleStatus) error {
	if equality.Semantic.DeepEqual(st, s.Status) {
		return nil
	}
	rv, err := applyStatus(ctx, r.Client, "TestingSchedule", s, &st, ScheduleFieldOwner, "")
	if err == nil {
		r.Memory.Wrote(scheduleKey(client.ObjectKeyFromObject(s)), s.ResourceVersion, rv)
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// scheduleKey is a TestingSchedule's key in the expectations store.
func scheduleKey(key client.ObjectKey) expectations.ObjectKey {
	return expectations.ObjectKey{Kind: "TestingSchedule", NamespacedName: key}
}

// roundOwnerKey indexes TestingRounds by the TestingSchedule that controls
// them.
const roundOwnerKey = ".metadata.controller"

// roundOwnerIndex is the roundOwnerKey index: the name of the
// TestingSchedule that controls a round. Named, so that the table tests'
// fake client indexes rounds as the manager's cache does.
func roundOwnerIndex(obj client.Object) []string {
	owner := metav1.GetControllerOf(obj)
	if owner == nil || owner.APIVersion != sweepv1alpha1.GroupVersion.String() || owner.Kind != "TestingSchedule" {
		return nil
	}
	return []string{owner.Name}
}

// roundFinished passes round events that matter to its schedule: created,
// deleted, or its phase changed. A running round writes its status about
// once a second; the schedule need not hear of each write.
var roundFinished = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, ok1 := e.ObjectOld.(*sweepv1alpha1.TestingRound)
		n, ok2 := e.ObjectNew.(*sweepv1alpha1.TestingRound)
		return !ok1 || !ok2 || o.Status.Phase != n.Status.Phase || o.DeletionTimestamp != n.DeletionTimestamp
	},
}

// SetupWithManager registers the controller and the owner index.
func (r *TestingScheduleReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Memory == nil {
		r.Memory = &expectations.Store{}
	}
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &sweepv1alpha1.TestingRound{}, roundOwnerKey, roundOwnerIndex)
	if err != nil {
		return err
	}
	base := mgr.GetLogger().WithValues("controller", "testingschedule", "controllerGroup", sweepv1alpha1.GroupVersion.Group, "controllerKind", "TestingSchedule")
	return ctrl.NewControllerManagedBy(mgr).
		For(&sweepv1alpha1.TestingSchedule{}).
		Owns(&sweepv1alpha1.TestingRound{}, builder.WithPredicates(roundFinished)).
		WithLogConstructor(func(req *reconcile.Request) logr.Logger {
			if req == nil {
				return base
			}
			return base.WithValues("TestingSchedule", klog.KRef(req.Namespace, req.Name), "namespace", req.Namespace, "schedule", req.Name)
		}).
		Named("testingschedule").
		Complete(requeueOnConflict(r))
}
