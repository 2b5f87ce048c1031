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

// Package expectations is what the manager knows between reconciles that
// its cache does not show yet: jobs it created, jobs it admitted, visits it
// started, status it wrote. Every decision counts them, so a cache that
// lags behind the API server never makes the manager create, admit or
// start a thing twice (kube-controller-manager's expectations and Kueue's
// assumed workloads are the models). One Store is shared by the round and
// collection controllers of a manager; it is lost with the process, and
// docs/rounds.md says why a restarted manager loses nothing by that.
package expectations

import (
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
)

// Store is safe for concurrent use. The zero value is ready.
type Store struct {
	mu     sync.Mutex
	rounds map[types.NamespacedName]*roundMemory
	// admitted holds the jobs admitted in memory whose admission the API
	// does not show yet (round.Admitted), by job.
	admitted map[types.NamespacedName]admission
	// starts holds the visits started without a status write (Start).
	starts map[types.NamespacedName]Start
	// writes holds, per object, the resourceVersion an own status write
	// replaced, until the cache shows a newer one.
	writes map[ObjectKey]string
	// creates holds objects created that the cache may not show yet
	// (CreatedObject), with the time of their creation.
	creates map[ObjectKey]time.Time
	// onAdmit are told of every admission (OnAdmit).
	onAdmit []func([]types.NamespacedName)
}

// ObjectKey names an object of any kind.
type ObjectKey struct {
	Kind string
	types.NamespacedName
}

type admission struct {
	round types.NamespacedName
	uid   types.UID
}

type roundMemory struct {
	// unseen are jobs created, or being created, that the cache does not
	// show yet.
	unseen map[string]*sweepv1alpha1.CollectionJob
	// creating are the names of the unseen jobs whose create is in flight.
	creating sets.Set[string]
	// deleted are jobs the watch saw deleted, so that recreating one is
	// said in an event.
	deleted sets.Set[string]
	// lastStatusWrite is the wall-clock time of the round's last status
	// write, for StatusWriteWait.
	lastStatusWrite time.Time
	// cost is how long the round's last reconcile took (Pace).
	cost time.Duration
	// held are buildings whose job's create failed in a way a retry at
	// once cannot fix (Hold), by building.
	held map[string]Hold
	// createErr is the last create that failed for a reason that may pass
	// (TakeCreateError).
	createErr error
}

// Hold is why a building's job is not created again before Until: its name
// is held by an object the round does not control (Taken), or the API
// server refused it as invalid.
type Hold struct {
	Taken bool
	Until time.Time
}

func (s *Store) round(key types.NamespacedName) *roundMemory {
	if s.rounds == nil {
		s.rounds = map[types.NamespacedName]*roundMemory{}
	}
	m := s.rounds[key]
	if m == nil {
		m = &roundMemory{}
		s.rounds[key] = m
	}
	return m
}

// Created remembers jobs a round creates until the cache shows them. It is
// called before the creates are sent (an expectation, as the Job controller
// raises its expectations before creating pods), so that no decision taken
// while they are in flight plans them again; CreateFailed lowers it.
func (s *Store) Created(roundKey types.NamespacedName, jobs []*sweepv1alpha1.CollectionJob) {
	if len(jobs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.round(roundKey)
	if m.unseen == nil {
		m.unseen = map[string]*sweepv1alpha1.CollectionJob{}
	}
	if m.creating == nil {
		m.creating = sets.New[string]()
	}
	for _, j := range jobs {
		m.unseen[j.Name] = j
		m.creating.Insert(j.Name)
	}
}

// CreateDone records that the create of a job expected by Created was
// answered: created is the job as the API server stored it (with its UID),
// in place of the one expected until the cache shows it; nil when the
// create failed, which forgets the job so that the round plans it again
// unless the building is held (HoldBuilding).
func (s *Store) CreateDone(roundKey types.NamespacedName, job string, created *sweepv1alpha1.CollectionJob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.rounds[roundKey]
	if m == nil {
		return
	}
	m.creating.Delete(job)
	m.creating = released(m.creating)
	if _, ok := m.unseen[job]; ok && created != nil {
		m.unseen[job] = created
	} else if created == nil {
		delete(m.unseen, job)
		m.unseen = released(m.unseen)
	}
}

// Expects says whether the round created the job, or is creating it, and
// its cache has not shown it since.
func (s *Store) Expects(roundKey types.NamespacedName, job string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.rounds[roundKey]
	if m == nil {
		return false
	}
	_, ok := m.unseen[job]
	return ok
}

// InCreation returns the names of the round's jobs whose create was sent
// and not answered yet.
func (s *Store) InCreation(roundKey types.NamespacedName) sets.Set[string] {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.rounds[roundKey]; m != nil && m.creating.Len() > 0 {
		return m.creating.Clone()
	}
	return nil
}

// HoldBuilding keeps a round from planning a building's job again until
// h.Until.
func (s *Store) HoldBuilding(roundKey types.NamespacedName, building string, h Hold) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.round(roundKey)
	if m.held == nil {
		m.held = map[string]Hold{}
	}
	m.held[building] = h
}

// Held returns the round's held buildings, those whose job's name is taken
// and those refused, and forgets the holds that ended by now.
func (s *Store) Held(roundKey types.NamespacedName, now time.Time) (taken, refused sets.Set[string]) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.rounds[roundKey]
	if m == nil {
		return nil, nil
	}
	for b, h := range m.held {
		switch {
		case !now.Before(h.Until):
			delete(m.held, b)
		case h.Taken:
			if taken == nil {
				taken = sets.New[string]()
			}
			taken.Insert(b)
		default:
			if refused == nil {
				refused = sets.New[string]()
			}
			refused.Insert(b)
		}
	}
	m.held = released(m.held)
	return taken, refused
}

// CreateError remembers a create of the round's jobs that failed for a
// reason that may pass (the API server unreachable, overloaded, the
// namespace terminating), for the round's next reconcile to return.
func (s *Store) CreateError(roundKey types.NamespacedName, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.round(roundKey).createErr = err
}

// TakeCreateError returns the error CreateError remembered, and forgets it.
func (s *Store) TakeCreateError(roundKey types.NamespacedName) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.rounds[roundKey]
	if m == nil {
		return nil
	}
	err := m.createErr
	m.createErr = nil
	return err
}

// WithUnseen returns the cached jobs plus the created jobs the cache does
// not show yet, and forgets those it now shows. Created jobs that keep
// refuses (jobs of an earlier round of the same name) are forgotten.
func (s *Store) WithUnseen(roundKey types.NamespacedName, cached []*sweepv1alpha1.CollectionJob, keep func(*sweepv1alpha1.CollectionJob) bool) []*sweepv1alpha1.CollectionJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.rounds[roundKey]
	if m == nil || len(m.unseen) == 0 {
		return cached
	}
	for _, j := range cached {
		delete(m.unseen, j.Name)
	}
	for name, j := range m.unseen {
		if !keep(j) {
			delete(m.unseen, name)
			continue
		}
		cached = append(cached, j)
	}
	m.unseen = released(m.unseen)
	return cached
}

// Admit remembers jobs a round admitted: until the API shows them admitted
// (their first status write), IsAdmitted says so to the collection
// controller, and Admissions counts them as holding a team.
func (s *Store) Admit(roundKey types.NamespacedName, jobs []*sweepv1alpha1.CollectionJob) {
	if len(jobs) == 0 {
		return // most reconciles admit nobody: no listener is called
	}
	keys := make([]types.NamespacedName, len(jobs))
	s.mu.Lock()
	if s.admitted == nil {
		s.admitted = map[types.NamespacedName]admission{}
	}
	for i, j := range jobs {
		keys[i] = types.NamespacedName{Namespace: j.Namespace, Name: j.Name}
		s.admitted[keys[i]] = admission{round: roundKey, uid: j.UID}
	}
	listeners := s.onAdmit
	s.mu.Unlock()
	for _, notify := range listeners {
		notify(keys)
	}
}

// OnAdmit adds a listener Admit tells of the jobs it admitted: the
// collection controller's wake-up, since no API write announces an
// admission. Listeners are called in the admitting reconcile, after the
// store records the admissions.
func (s *Store) OnAdmit(notify func([]types.NamespacedName)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onAdmit = append(s.onAdmit, notify)
}

// Admissions returns the names of the round's jobs admitted in memory that
// jobs (every job of the round, created ones not cached yet included) do
// not show admitted yet. An admission the API shows, of a job that
// finished, is gone, or was created again under its name (another UID) is
// forgotten.
func (s *Store) Admissions(roundKey types.NamespacedName, jobs []*sweepv1alpha1.CollectionJob) sets.Set[string] {
	s.mu.Lock()
	defer s.mu.Unlock()
	still := sets.New[string]()
	seen := 0
	for _, j := range jobs {
		key := types.NamespacedName{Namespace: j.Namespace, Name: j.Name}
		a, ok := s.admitted[key]
		if !ok || a.round != roundKey {
			continue
		}
		seen++
		if !a.sameJob(j) || round.Admitted(j) || j.Status.Phase.Finished() {
			delete(s.admitted, key)
			continue
		}
		still.Insert(j.Name)
	}
	if seen < s.countRound(roundKey) {
		// Some admitted jobs are gone: forget them.
		for key, a := range s.admitted {
			if a.round == roundKey && !still.Has(key.Name) {
				delete(s.admitted, key)
			}
		}
	}
	s.admitted = released(s.admitted)
	return still
}

func (s *Store) countRound(roundKey types.NamespacedName) int {
	n := 0
	for _, a := range s.admitted {
		if a.round == roundKey {
			n++
		}
	}
	return n
}

// IsAdmitted says whether the round admitted job j in memory.
func (s *Store) IsAdmitted(j *sweepv1alpha1.CollectionJob) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.admitted[types.NamespacedName{Namespace: j.Namespace, Name: j.Name}]
	return ok && a.sameJob(j)
}

// sameJob says whether j is the job admitted, not another created under
// its name since. A job the round found already created (after a restart)
// was admitted without knowing its UID: it matches by name.
func (a admission) sameJob(j *sweepv1alpha1.CollectionJob) bool {
	return a.uid == "" || a.uid == j.UID
}

// Start is a visit the collection controller started without writing the
// status that records it: the local executor's visits, which run in the
// manager's process and die with it, so that a restart that forgets the
// start also stops the visit (docs/rounds.md). Status is what the
// controller would have written; it stands for the stored status while the
// stored one is still the one it was decided from (Phase and Visits).
type Start struct {
	UID    types.UID
	Phase  sweepv1alpha1.JobPhase
	Visits int32
	Status sweepv1alpha1.CollectionJobStatus
}

// Started remembers a visit started without a status write.
func (s *Store) Started(key types.NamespacedName, st Start) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.starts == nil {
		s.starts = map[types.NamespacedName]Start{}
	}
	s.starts[key] = st
}

// StartOf returns the status of the job's unrecorded visit start, if the
// stored job is still the one it was decided from; else it forgets it.
func (s *Store) StartOf(j *sweepv1alpha1.CollectionJob) (sweepv1alpha1.CollectionJobStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := types.NamespacedName{Namespace: j.Namespace, Name: j.Name}
	st, ok := s.starts[key]
	if !ok {
		return sweepv1alpha1.CollectionJobStatus{}, false
	}
	if st.UID != j.UID || st.Phase != j.Status.Phase || st.Visits != j.Status.Visits {
		delete(s.starts, key)
		s.starts = released(s.starts)
		return sweepv1alpha1.CollectionJobStatus{}, false
	}
	return *st.Status.DeepCopy(), true
}

// Wrote records an own status write that took an object from version from
// to version to; an unrecorded start of it is forgotten (the write
// recorded what it stood for). A reconcile that finds its cache still at
// from, woken by another watch before the write's own event arrived, would
// decide again from the status it has just replaced (a collection reconcile
// would start the same visit again): CacheBehind tells it to wait for the
// write's event, which always comes, since the write changed the version.
func (s *Store) Wrote(key ObjectKey, from, to string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.starts, key.NamespacedName)
	s.starts = released(s.starts)
	if from == to {
		return // nothing changed: no event will come
	}
	if s.writes == nil {
		s.writes = map[ObjectKey]string{}
	}
	s.writes[key] = from
}

// CacheBehind says whether the cache still shows the version the last own
// write replaced; once it shows another, the write is seen and forgotten.
func (s *Store) CacheBehind(key ObjectKey, resourceVersion string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	from, ok := s.writes[key]
	if !ok {
		return false
	}
	if from == resourceVersion {
		return true
	}
	delete(s.writes, key)
	s.writes = released(s.writes)
	return false
}

// ForgetObject drops what is remembered of one object that finished or is
// gone.
func (s *Store) ForgetObject(key ObjectKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.writes, key)
	if key.Kind == "CollectionJob" {
		delete(s.starts, key.NamespacedName)
		delete(s.admitted, key.NamespacedName)
		// Its visit Jobs (<job>-v<N>…) need no awaiting any more.
		for c := range s.creates {
			if c.Kind == "Job" && c.Namespace == key.Namespace && strings.HasPrefix(c.Name, key.Name+"-v") {
				delete(s.creates, c)
			}
		}
	}
	s.writes, s.starts = released(s.writes), released(s.starts)
	s.admitted, s.creates = released(s.admitted), released(s.creates)
}

// CreatedObject remembers an object just created (a visit Job), so that a
// reconcile that does not find it in the cache yet does not create it again.
func (s *Store) CreatedObject(key ObjectKey, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.creates == nil {
		s.creates = map[ObjectKey]time.Time{}
	}
	s.creates[key] = at
}

// CreatedNotCached says whether an object the cache does not show was
// created less than ttl before now; otherwise it forgets it (an object
// deleted before the cache ever showed it is created again after ttl, as
// kube-controller-manager's expectations expire). Call ObjectCached once
// the cache shows it.
func (s *Store) CreatedNotCached(key ObjectKey, now time.Time, ttl time.Duration) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.creates[key]
	if ok && now.Sub(at) < ttl {
		return at, true
	}
	delete(s.creates, key)
	s.creates = released(s.creates)
	return time.Time{}, false
}

// ObjectCached forgets a created object the cache now shows.
func (s *Store) ObjectCached(key ObjectKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.creates, key)
	s.creates = released(s.creates)
}

// JobDeleted remembers that a round's job was seen deleted.
func (s *Store) JobDeleted(roundKey types.NamespacedName, job string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.round(roundKey)
	if m.deleted == nil {
		m.deleted = sets.New[string]()
	}
	m.deleted.Insert(job)
	delete(m.unseen, job)
}

// WasDeleted says whether the job was seen deleted, and forgets it.
func (s *Store) WasDeleted(roundKey types.NamespacedName, job string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.rounds[roundKey]
	if m == nil || !m.deleted.Has(job) {
		return false
	}
	m.deleted.Delete(job)
	m.deleted = released(m.deleted)
	return true
}

// StatusWriteWait says how long to hold back a round's status write so
// that it writes at most once per interval; a change of phase is never
// held. A zero answer counts as a write at now.
func (s *Store) StatusWriteWait(roundKey types.NamespacedName, interval time.Duration, phaseChanged bool, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.round(roundKey)
	if !phaseChanged && !m.lastStatusWrite.IsZero() {
		if wait := interval - now.Sub(m.lastStatusWrite); wait > 0 {
			return wait
		}
	}
	m.lastStatusWrite = now
	return 0
}

// SetCost records how long a round's reconcile took.
func (s *Store) SetCost(roundKey types.NamespacedName, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.round(roundKey).cost = d
}

// Pace is the least delay before a round is reconciled again for a job
// event: its last reconcile's duration, so that a city round's back-to-back
// reconciles take at most about half of one CPU.
func (s *Store) Pace(roundKey types.NamespacedName) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.rounds[roundKey]; m != nil {
		return m.cost
	}
	return 0
}

// ForgetRound drops everything remembered of a round that is gone,
// admissions of its jobs included.
func (s *Store) ForgetRound(roundKey types.NamespacedName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.rounds, roundKey)
	for key, a := range s.admitted {
		if a.round == roundKey {
			delete(s.admitted, key)
		}
	}
	s.rounds, s.admitted = released(s.rounds), released(s.admitted)
}

// released returns m, or nil once it is empty. A Go map keeps the buckets
// of the most entries it ever held: one that held a city round's 100,000
// writes in flight would keep their memory for the manager's life (about
// 8 MB after a 50,000-building round, docs/performance.md); nil gives it
// back, and the next write makes a small map again.
func released[K comparable, V any](m map[K]V) map[K]V {
	if len(m) == 0 {
		return nil
	}
	return m
}
