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
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/lab"
	"github.com/masstesting/sweep/internal/metrics"
	"github.com/masstesting/sweep/internal/round"
)

// LabFieldOwner is the field manager of the lab controller's writes.
const LabFieldOwner = "sweep-lab-controller"

// labPagesPerPoll bounds the pages one poll reads, so that a lab with a
// long backlog cannot hold a worker; the rest comes at the next poll.
const labPagesPerPoll = 20

// labKeepPolling is how long after its round finished a round's lab is
// still asked for results: pooled results come hours after the swab.
const labKeepPolling = 48 * time.Hour

// LabReconciler follows up a round's lab results (docs/positive-pools.md):
// it polls the round's lab source, creates a PositivePool and its retest
// CollectionJob for each positive pooled tube, computes each pool's status
// from its retest and the single-tube results, and records the households
// to seal on their Building. The round controller admits the retests (ahead
// of every queued building) and counts the pools.
type LabReconciler struct {
	client.Client
	// APIReader reads the csv source's ConfigMap, which is not cached.
	APIReader client.Reader
	Clock     clock.PassiveClock
	Recorder  events.EventRecorder
	// Sources returns the lab source of a round whose source is http or
	// csv; the drill lab needs none.
	Sources func(ctx context.Context, tr *sweepv1alpha1.TestingRound) (lab.Source, error)
	// Rounds is the round controller, whose cache index of jobs by round
	// this controller shares.
	Rounds *TestingRoundReconciler

	cached *cacheReader
	mu     sync.Mutex
	// labs is what each round's lab has said, kept between polls. A
	// restarted manager starts empty and reads the lab from the start: a
	// tally counts each tube once, and pool statuses only add up.
	labs map[types.UID]*labState
}

type labState struct {
	tally    *lab.Tally
	cursor   string
	nextPoll time.Time
	lastErr  string
	ignored  map[string]bool
	// retestObserved are the pools whose time to retest was observed.
	retestObserved map[string]bool
}

// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=positivepools,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=positivepools/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=buildings,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=sweep.masstesting.io,resources=buildings/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get

// Reconcile polls one round's lab when it is time, and brings its pools,
// retests and buildings up to date.
func (r *LabReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var tr sweepv1alpha1.TestingRound
	if err := r.Get(ctx, req.NamespacedName, &tr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if tr.Spec.Lab == nil || tr.DeletionTimestamp != nil {
		r.forget(tr.UID)
		return ctrl.Result{}, nil
	}
	metrics.InitLab(tr.Namespace)
	now := r.Clock.Now()
	st := r.state(tr.UID)

	all, err := r.cached.roundJobs(ctx, &tr)
	if err != nil {
		return ctrl.Result{}, err
	}
	var jobs, retests []*sweepv1alpha1.CollectionJob
	for _, j := range all {
		if round.IsRetest(j) {
			retests = append(retests, j)
		} else {
			jobs = append(jobs, j)
		}
	}
	if !now.Before(st.nextPoll) {
		r.poll(ctx, &tr, st, all, jobs, now)
		st.nextPoll = now.Add(tr.Spec.Lab.PollIntervalOrDefault())
	}

	pools, err := r.cached.roundPools(ctx, &tr)
	if err != nil {
		return ctrl.Result{}, err
	}
	d := lab.Decide(lab.Observed{Round: &tr, Tally: st.tally, Pools: pools, Retests: retests, Jobs: jobs, Now: now})
	if err := r.apply(ctx, &tr, st, d, pools); err != nil {
		return ctrl.Result{}, err
	}

	// Poll again while the round runs, while a pool is unresolved, and for
	// a while after the round ended: late results are the normal case.
	unresolved := len(d.NewPools) > 0
	for _, p := range pools {
		unresolved = unresolved || p.Status.Phase != sweepv1alpha1.PoolResolved
	}
	if tr.Status.Phase.Finished() && !unresolved && tr.Status.CompletionTime != nil &&
		now.After(tr.Status.CompletionTime.Add(labKeepPolling)) {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{RequeueAfter: max(st.nextPoll.Sub(now), time.Second)}, nil
}

func (r *LabReconciler) state(uid types.UID) *labState {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.labs == nil {
		r.labs = map[types.UID]*labState{}
	}
	st := r.labs[uid]
	if st == nil {
		st = &labState{tally: lab.NewTally(), ignored: map[string]bool{}, retestObserved: map[string]bool{}}
		r.labs[uid] = st
	}
	return st
}

func (r *LabReconciler) forget(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.labs, uid)
}

// poll reads what the lab has said since the last poll and folds it into
// the round's tally. A result that cannot be taken is reported once, with
// the reason, and the rest are taken; a lab that cannot be reached is
// reported once per distinct error, and nothing already known is lost.
func (r *LabReconciler) poll(ctx context.Context, tr *sweepv1alpha1.TestingRound, st *labState, all, jobs []*sweepv1alpha1.CollectionJob, now time.Time) {
	results, err := r.read(ctx, tr, st, all, now)
	if err != nil {
		msg := err.Error()
		metrics.LabPollErrors.WithLabelValues(tr.Namespace).Inc()
		if msg != st.lastErr {
			st.lastErr = msg
			log.FromContext(ctx).Info("lab source unavailable", "error", msg)
			r.Recorder.Eventf(tr, nil, corev1.EventTypeWarning, "LabUnavailable", "PollLab",
				"Lab results could not be read; what was read before is kept: %s", truncate(msg, 800))
		}
	} else if st.lastErr != "" {
		st.lastErr = ""
		r.Recorder.Eventf(tr, nil, corev1.EventTypeNormal, "LabAvailable", "PollLab", "Lab results are read again.")
	}
	buildings := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		buildings[j.Spec.Building] = true
	}
	// Pooled before single: a retest's results name their pool.
	sort.SliceStable(results, func(a, b int) bool {
		return results[a].Kind == lab.Pooled && results[b].Kind != lab.Pooled
	})
	for _, res := range results {
		problem := lab.Problem(res, buildings)
		if problem == "" {
			problem = st.tally.SingleProblem(res)
		}
		if problem != "" {
			if !st.ignored[res.Tube] {
				st.ignored[res.Tube] = true
				metrics.LabResultsIgnored.WithLabelValues(tr.Namespace).Inc()
				r.Recorder.Eventf(tr, nil, corev1.EventTypeWarning, "LabResultIgnored", "PollLab",
					"Ignored a lab result: %s. The other results are taken.", truncate(problem, 800))
			}
			continue
		}
		if st.tally.Add(res) {
			if d, ok := res.Turnaround(); ok && d >= 0 {
				metrics.LabTurnaround.WithLabelValues(tr.Namespace).Observe(d.Seconds())
			}
		}
	}
}

// read returns the results the source has after the round's cursor, and
// moves the cursor past them.
func (r *LabReconciler) read(ctx context.Context, tr *sweepv1alpha1.TestingRound, st *labState, all []*sweepv1alpha1.CollectionJob, now time.Time) ([]lab.TubeResult, error) {
	if tr.Spec.Lab.Source.Effective() == sweepv1alpha1.SourceDrill {
		return lab.Drill(tr, all, now), nil
	}
	if r.Sources == nil {
		return nil, fmt.Errorf("lab source %q is not available in this manager", tr.Spec.Lab.Source)
	}
	src, err := r.Sources(ctx, tr)
	if err != nil {
		return nil, err
	}
	var out []lab.TubeResult
	q := lab.Query{Namespace: tr.Namespace, Round: tr.Name}
	for range labPagesPerPoll {
		page, err := src.Results(ctx, q, st.cursor)
		if err != nil {
			return out, err
		}
		out = append(out, page.Results...)
		if page.Next != "" {
			st.cursor = page.Next
		}
		if !page.More {
			break
		}
	}
	return out, nil
}

// apply creates what the decision asks for and writes the pools' statuses.
func (r *LabReconciler) apply(ctx context.Context, tr *sweepv1alpha1.TestingRound, lst *labState, d lab.Decision, pools []*sweepv1alpha1.PositivePool) error {
	var errs []error
	byName := map[string]*sweepv1alpha1.PositivePool{}
	for _, p := range pools {
		byName[p.Name] = p
	}
	for _, p := range d.NewPools {
		if err := r.Create(ctx, p); err != nil && !apierrors.IsAlreadyExists(err) {
			errs = append(errs, fmt.Errorf("creating PositivePool %s: %w", p.Name, err))
			continue
		}
		byName[p.Name] = p
	}
	for _, j := range d.NewRetests {
		if err := r.Create(ctx, j); err != nil && !apierrors.IsAlreadyExists(err) {
			errs = append(errs, fmt.Errorf("creating the retest CollectionJob %s: %w", j.Name, err))
		}
	}
	for _, e := range d.Events {
		if p := byName[e.Pool]; p != nil {
			r.Recorder.Eventf(p, tr, e.Type, e.Reason, "FollowUp", "%s", e.Message)
		}
	}
	names := make([]string, 0, len(d.Statuses))
	for n := range d.Statuses {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p, st := byName[n], d.Statuses[n]
		if p == nil || p.UID == "" {
			continue // created just now: its status is written next time
		}
		if _, err := applyStatus(ctx, r.Client, "PositivePool", p, &st, LabFieldOwner, ""); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("writing the status of PositivePool %s: %w", n, err))
			}
			continue
		}
		// Once per pool: the cache may still show the status before this
		// controller's last write.
		if done := st.RetestCompletionTime; done != nil && p.Status.RetestCompletionTime == nil && !lst.retestObserved[p.Name] {
			lst.retestObserved[p.Name] = true
			metrics.PoolRetestDone.WithLabelValues(tr.Namespace).Observe(done.Sub(p.Spec.ResultTime.Time).Seconds())
		}
		if st.Phase == sweepv1alpha1.PoolResolved && p.Status.Phase != sweepv1alpha1.PoolResolved && len(st.HouseholdsToSeal) > 0 {
			if err := r.seal(ctx, tr, p, st); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// seal records a resolved pool's households to seal on its Building and,
// under the Automatic policy, sets the Building's control level to Sealed
// so the next round sweeps it first and door to door.
func (r *LabReconciler) seal(ctx context.Context, tr *sweepv1alpha1.TestingRound, p *sweepv1alpha1.PositivePool, st sweepv1alpha1.PositivePoolStatus) error {
	var b sweepv1alpha1.Building
	if err := r.Get(ctx, types.NamespacedName{Namespace: tr.Namespace, Name: p.Spec.Building}, &b); err != nil {
		if apierrors.IsNotFound(err) {
			r.Recorder.Eventf(p, tr, corev1.EventTypeWarning, "BuildingGone", "Seal",
				"Building %s is no longer on the roster: households to seal %v are on this pool only.", p.Spec.Building, st.HouseholdsToSeal)
			return nil
		}
		return err
	}
	automatic := tr.Spec.Lab.Sealing == sweepv1alpha1.SealingAutomatic
	if automatic && b.Spec.ControlLevel != sweepv1alpha1.ControlLevelSealed {
		patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"controlLevel":"Sealed"}}`))
		if err := r.Patch(ctx, &b, patch, client.FieldOwner(LabFieldOwner)); err != nil {
			return fmt.Errorf("sealing Building %s: %w", b.Name, err)
		}
		r.Recorder.Eventf(&b, p, corev1.EventTypeWarning, "Sealed", "Seal",
			"Control level set to Sealed: pool %s found households %v positive (sealing policy Automatic).", p.Name, st.HouseholdsToSeal)
	} else if !automatic {
		r.Recorder.Eventf(&b, p, corev1.EventTypeWarning, "SealRequested", "Seal",
			"Pool %s found households %v positive: set spec.controlLevel to Sealed once approved (sealing policy Approval).", p.Name, st.HouseholdsToSeal)
	}
	for _, req := range b.Status.SealRequests {
		if req.Pool == p.Name {
			return nil
		}
	}
	reqs := append(slices.Clone(b.Status.SealRequests), sweepv1alpha1.SealRequest{
		Round: tr.Name, Pool: p.Name, Households: slices.Clone(st.HouseholdsToSeal),
		Time: metav1.Time{Time: st.ResolvedTime.Time}, Sealed: automatic || b.Spec.ControlLevel == sweepv1alpha1.ControlLevelSealed,
	})
	if len(reqs) > 20 {
		reqs = reqs[len(reqs)-20:]
	}
	bst := sweepv1alpha1.BuildingStatus{SealRequests: reqs}
	if _, err := applyStatus(ctx, r.Client, "Building", &b, &bst, LabFieldOwner, ""); err != nil {
		return fmt.Errorf("recording households to seal on Building %s: %w", b.Name, err)
	}
	return nil
}

// SetupWithManager registers the controller: rounds with a lab, woken by
// their jobs (a retest's progress) and pools.
func (r *LabReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if r.Rounds == nil || r.Rounds.cached == nil {
		return errors.New("the lab controller needs the round controller set up first")
	}
	r.cached = r.Rounds.cached
	return ctrl.NewControllerManagedBy(mgr).
		For(&sweepv1alpha1.TestingRound{}).
		Watches(&sweepv1alpha1.CollectionJob{}, enqueueRoundOf(time.Second, func(types.NamespacedName) time.Duration { return 0 }, nil, nil)).
		Watches(&sweepv1alpha1.PositivePool{}, enqueueRoundOf(time.Second, func(types.NamespacedName) time.Duration { return 0 }, nil, nil)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("lab").
		Complete(requeueOnConflict(r))
}

// truncate cuts an error message to n bytes for an event (the API caps an
// event's note at 1 kB), on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// LabSources returns the Sources function of a manager: the http source
// with the operator's own token and URL prefixes (opts), and the csv
// source reading its ConfigMap through reader (not cached: the operator
// reads only the ConfigMaps rounds name, when it polls them).
func LabSources(reader client.Reader, opts lab.HTTPOptions) func(ctx context.Context, tr *sweepv1alpha1.TestingRound) (lab.Source, error) {
	return func(ctx context.Context, tr *sweepv1alpha1.TestingRound) (lab.Source, error) {
		l := tr.Spec.Lab
		switch l.Source {
		case sweepv1alpha1.SourceHTTP:
			if l.HTTP == nil {
				return nil, errors.New("spec.lab.http is required when spec.lab.source is http")
			}
			if err := opts.CheckURL(l.HTTP.URL); err != nil {
				return nil, fmt.Errorf("spec.lab.http.url: %w", err)
			}
			src := lab.NewHTTPSource(l.HTTP, opts)
			// One poll must not hold a worker for minutes: a lab that
			// does not answer is asked again at the next poll.
			src.Retries = 1
			return src, nil
		case sweepv1alpha1.SourceCSV:
			if l.CSV == nil {
				return nil, errors.New("spec.lab.csv is required when spec.lab.source is csv")
			}
			var cm corev1.ConfigMap
			if err := reader.Get(ctx, types.NamespacedName{Namespace: tr.Namespace, Name: l.CSV.ConfigMapName}, &cm); err != nil {
				return nil, fmt.Errorf("spec.lab.csv.configMapName %s: %w", l.CSV.ConfigMapName, err)
			}
			key := l.CSV.Key
			if key == "" {
				key = "results.csv"
			}
			data, ok := cm.Data[key]
			if !ok {
				return nil, fmt.Errorf("spec.lab.csv.key: ConfigMap %s has no key %q", cm.Name, key)
			}
			return &lab.CSVSource{Data: []byte(data), Name: cm.Name + "/" + key}, nil
		}
		return nil, fmt.Errorf("spec.lab.source %q is not a lab source", l.Source)
	}
}
