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
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/round"
)

// fieldTeams stands in for the collection controller and the collectors in
// these tests: told of the round's admissions as the collection controller
// is (expectations.Store.OnAdmit, when no collection controller runs), it
// writes each admitted job's first status, Active, as the collection
// controller does before a visit Job starts. It watches a namespace's
// CollectionJobs and, from the same ordered event stream,
//   - checks the team bound at every event: admitted (round.Admitted) and
//     unfinished jobs never exceed teams;
//   - records the order in which jobs were admitted;
//   - finishes admitted jobs, but only once every team is busy (or nothing
//     is left in the queue), so the bound is tested at its edge.
type fieldTeams struct {
	t      *testing.T
	ns     string
	teams  int
	finish bool

	mu sync.Mutex
	// maxTeams is the highest teams in force since the start: no event may
	// ever show more jobs holding a team. It is teams unless the test
	// changes spec.teams (setTeams, lowerTeams).
	maxTeams int
	// After a job version newer than lowerAfter, teams becomes lowerTo.
	lowerAfter int64
	lowerTo    int
	// noAdmissionAfter, when set, is a round version after which nothing
	// may be admitted (the controller has seen the round suspended).
	noAdmissionAfter int64
	state            map[string]sweepv1alpha1.CollectionJob
	admitted         []string // building names, in admission order
	// inMemory holds the jobs the round admitted in memory while a real
	// collection controller runs (admittedInMemory): their admission is
	// checked when it is made, not when the API shows it.
	inMemory map[string]bool
	peak     int
	finished int
}

func startFieldTeams(t *testing.T, ns string, teams int, finish bool) *fieldTeams {
	t.Helper()
	f := &fieldTeams{t: t, ns: ns, teams: teams, maxTeams: teams, finish: finish, state: map[string]sweepv1alpha1.CollectionJob{}}
	fieldTeamsOf.Store(ns, f)
	t.Cleanup(func() { fieldTeamsOf.Delete(ns) })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// Every version, also after the API server ends a watch (it closes
	// one whose reader falls behind): a checker that stopped silently
	// would let the bound break unseen.
	watchEveryVersion(t, ns, &sweepv1alpha1.CollectionJobList{}, func(ev watch.EventType, obj runtime.Object) {
		if j, ok := obj.(*sweepv1alpha1.CollectionJob); ok {
			f.observe(ctx, ev, j)
		}
	})
	return f
}

func (f *fieldTeams) observe(ctx context.Context, typ watch.EventType, j *sweepv1alpha1.CollectionJob) {
	f.mu.Lock()
	prev, seen := f.state[j.Name]
	if typ == watch.Deleted {
		delete(f.state, j.Name)
	} else {
		f.state[j.Name] = *j
	}
	rv, _ := strconv.ParseInt(j.ResourceVersion, 10, 64)
	if f.lowerAfter > 0 && rv > f.lowerAfter {
		f.teams, f.lowerAfter = f.lowerTo, 0
	}
	admission := round.Admitted(j) && (!seen || !round.Admitted(&prev)) && typ != watch.Deleted && !f.inMemory[j.Name]
	if admission {
		f.admitted = append(f.admitted, j.Spec.Building)
		if f.noAdmissionAfter > 0 && rv > f.noAdmissionAfter {
			f.t.Errorf("%s admitted while the round is suspended", j.Spec.Building)
		}
	}
	busy, queued := 0, 0
	var holding []string
	for _, s := range f.state {
		switch {
		case round.HoldsTeam(&s):
			busy++
			holding = append(holding, s.Name)
		case !round.Admitted(&s) && !s.Status.Phase.Finished():
			queued++
		}
	}
	f.peak = max(f.peak, busy)
	// Lowering spec.teams stops no building under way: more may hold a
	// team than the new teams for a while, but none may be admitted then.
	if busy > f.maxTeams || (admission && busy > f.teams) {
		f.t.Errorf("team bound broken: %d jobs admitted and unfinished, teams = %d", busy, f.teams)
	}
	var toFinish string
	if f.finish && len(holding) > 0 && (busy == f.teams || queued == 0) {
		toFinish = holding[rand.IntN(len(holding))]
	}
	f.mu.Unlock()
	if toFinish != "" {
		f.complete(ctx, toFinish)
	}
}

// start writes the first status of jobs the round admitted in memory, as
// the collection controller does when it starts their visits. It runs in
// the round's reconcile (expectations.Store.OnAdmit), before the round
// writes the status that counts them: so the event stream shows every
// admission before a round status that depends on it.
func (f *fieldTeams) start(keys []types.NamespacedName) {
	for _, k := range keys {
		obj := &sweepv1alpha1.CollectionJob{}
		obj.Namespace, obj.Name = k.Namespace, k.Name
		patch := []byte(`{"status":{"phase":"Active","visits":1}}`)
		if err := k8s.Status().Patch(context.Background(), obj, client.RawPatch(types.MergePatchType, patch)); err != nil && !apierrors.IsNotFound(err) {
			f.t.Errorf("starting %s: %v", k.Name, err)
		}
	}
}

// admittedInMemory checks and records admissions as the round makes them,
// when a real collection controller starts them: with the local executor
// the API shows such an admission only with the visit's final status,
// after edits the admission came before.
func (f *fieldTeams) admittedInMemory(keys []types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inMemory == nil {
		f.inMemory = map[string]bool{}
	}
	for _, k := range keys {
		f.inMemory[k.Name] = true
		if j, ok := f.state[k.Name]; ok {
			f.admitted = append(f.admitted, j.Spec.Building)
		}
		if f.noAdmissionAfter > 0 {
			f.t.Errorf("%s admitted while the round is suspended", k.Name)
		}
	}
}

// fieldTeamsOf holds the fieldTeams of each test namespace, for
// startManagerWith to connect to the manager's store.
var fieldTeamsOf sync.Map

// complete reports a job finished as its collector and the collection
// controller would: all but one in twenty residents sampled.
func (f *fieldTeams) complete(ctx context.Context, name string) {
	f.mu.Lock()
	j := f.state[name]
	f.mu.Unlock()
	sampled := j.Spec.Expected - j.Spec.Expected/20
	patch := fmt.Appendf(nil, `{"status":{"phase":"Completed","visits":1,"sampled":%d,"missed":%d,"homeVisited":%d,"tubes":%d}}`,
		sampled, j.Spec.Expected-sampled, min(j.Spec.HomeVisit, sampled), (sampled+9)/10)
	obj := &sweepv1alpha1.CollectionJob{}
	obj.Namespace, obj.Name = f.ns, name
	if err := k8s.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch)); err != nil && ctx.Err() == nil {
		f.t.Errorf("finishing %s: %v", name, err)
		return
	}
	f.mu.Lock()
	f.finished++
	f.mu.Unlock()
}

func (f *fieldTeams) snapshot() (admitted []string, peak int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.admitted...), f.peak
}

// finishActive finishes every job that holds a team now.
func (f *fieldTeams) finishActive(ctx context.Context) {
	f.mu.Lock()
	var names []string
	for _, s := range f.state {
		if round.HoldsTeam(&s) {
			names = append(names, s.Name)
		}
	}
	f.mu.Unlock()
	for _, n := range names {
		f.complete(ctx, n)
	}
}

// raiseTeams raises the bound before the test raises spec.teams.
func (f *fieldTeams) raiseTeams(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.teams, f.maxTeams, f.lowerAfter = n, max(f.maxTeams, n), 0
}

// lowerTeams lowers the bound for admissions after job version
// afterVersion: the test lowered spec.teams and saw the controller take the
// new spec in a round status of that version or older. Admissions decided
// before then, on the old spec, are within the old bound.
func (f *fieldTeams) lowerTeams(n int, afterVersion string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lowerTo = n
	f.lowerAfter, _ = strconv.ParseInt(afterVersion, 10, 64)
}

// suspended says that from the given version on, nothing may be admitted
// (0: admissions allowed again).
func (f *fieldTeams) suspended(afterVersion string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noAdmissionAfter, _ = strconv.ParseInt(afterVersion, 10, 64)
}
