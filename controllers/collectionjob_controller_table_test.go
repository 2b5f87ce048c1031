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
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/expectations"
)

// The collection job of the table: building "b" of round "r", 100
// residents expected, up to 3 visits an hour apart, the round's deadline
// 12 hours after tableNow.
const (
	tableRoundUID = types.UID("round-r-uid")
	tableJob      = "r-b"
	tableExpected = 100
)

var tableDeadline = tableNow.Add(12 * time.Hour)

func tableVisits() sweepv1alpha1.VisitPolicy {
	return sweepv1alpha1.VisitPolicy{Max: 3, Interval: &sweepv1alpha1.Duration{Duration: time.Hour}}
}

// tableRound is round "r", which controls tableJob; mod changes it.
func tableRound(mod func(*sweepv1alpha1.TestingRound)) *sweepv1alpha1.TestingRound {
	tr := &sweepv1alpha1.TestingRound{
		ObjectMeta: metav1.ObjectMeta{Namespace: tableNamespace, Name: "r", UID: tableRoundUID},
		Spec: sweepv1alpha1.TestingRoundSpec{
			Deadline:  metav1.Time{Time: tableDeadline},
			Teams:     1,
			Visits:    tableVisits(),
			Collector: sweepv1alpha1.CollectorSpec{CollectorSource: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill}},
		},
	}
	if mod != nil {
		mod(tr)
	}
	return tr
}

// tableCollectionJob is tableJob as round "r" (tableRoundUID) expanded it.
func tableCollectionJob(mod func(*sweepv1alpha1.CollectionJob)) *sweepv1alpha1.CollectionJob {
	cj := &sweepv1alpha1.CollectionJob{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: tableNamespace, Name: tableJob, UID: "job-r-b-uid",
			Labels: map[string]string{sweepv1alpha1.LabelRound: "r"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(
				&sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Name: "r", UID: tableRoundUID}},
				sweepv1alpha1.GroupVersion.WithKind("TestingRound"))},
		},
		Spec: sweepv1alpha1.CollectionJobSpec{
			Round: "r", Building: "b", Expected: tableExpected, Households: 40,
			Visits:    tableVisits(),
			Deadline:  metav1.Time{Time: tableDeadline},
			Collector: sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill},
		},
	}
	if mod != nil {
		mod(cj)
	}
	return cj
}

// visitJob is a visit Job of tableJob as the job executor made it, with
// the given condition (none: running).
func tableVisitJob(name string, cond batchv1.JobConditionType, reason, message string) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: tableNamespace, Name: name,
			Labels: map[string]string{LabelCollectionJob: tableJob},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(
				&sweepv1alpha1.CollectionJob{ObjectMeta: metav1.ObjectMeta{Name: tableJob, UID: "job-r-b-uid"}},
				sweepv1alpha1.GroupVersion.WithKind("CollectionJob"))},
			CreationTimestamp: metav1.Time{Time: tableNow.Add(-30 * time.Minute)},
		},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "collector", Image: "sweep:test"}}}}},
	}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, Reason: reason, Message: message}}
	}
	return j
}

// onFirstVisit is the status of a job admitted an hour ago, on its first
// visit (attempt activeJob), nobody sampled yet.
func onFirstVisit(activeJob string) sweepv1alpha1.CollectionJobStatus {
	return sweepv1alpha1.CollectionJobStatus{
		Phase: sweepv1alpha1.JobActive, Visits: 1, ActiveJob: activeJob,
		Outstanding: tableExpected, NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: tableExpected},
		StartTime: &metav1.Time{Time: tableNow.Add(-time.Hour)},
	}
}

// at is t as a status time.
func at(t time.Time) *metav1.Time { return &metav1.Time{Time: t} }

// visitJobSummary is what the table compares of a visit Job: its name,
// labels and controller. Its activeDeadlineSeconds is left out: the job
// executor counts it from the wall clock (metav1.Now), not the
// reconciler's clock.
type visitJobSummary struct {
	Name       string
	Labels     map[string]string
	Controller string
}

func visitJobs(t *testing.T, c client.Client) []visitJobSummary {
	t.Helper()
	var list batchv1.JobList
	if err := c.List(context.Background(), &list, client.InNamespace(tableNamespace)); err != nil {
		t.Fatal(err)
	}
	var out []visitJobSummary
	for _, j := range list.Items {
		s := visitJobSummary{Name: j.Name, Labels: j.Labels}
		if ref := metav1.GetControllerOf(&j); ref != nil {
			s.Controller = ref.Kind + "/" + ref.Name
		}
		out = append(out, s)
	}
	return out
}

// labelsOfVisit are the labels the job executor puts on visit v's Job.
func labelsOfVisit(v string) map[string]string {
	return map[string]string{LabelCollectionJob: tableJob, sweepv1alpha1.LabelRound: "r", LabelVisit: v}
}

// TestCollectionJobReconcileTable runs one collection reconcile per case,
// with the real job executor, and compares the result, the job's status,
// its visit Jobs and the events. A new case is a stored state and what
// one reconcile must make of it.
func TestCollectionJobReconcileTable(t *testing.T) {
	report := func(v, sampled int32, final bool, households ...string) *sweepv1alpha1.VisitReport {
		return &sweepv1alpha1.VisitReport{Visit: v, Sampled: sampled, Missed: tableExpected - sampled, MissedHouseholds: households,
			Final: final, Time: metav1.Time{Time: tableNow.Add(-time.Minute)}}
	}
	cases := map[string]struct {
		round *sweepv1alpha1.TestingRound // nil: no round
		job   *sweepv1alpha1.CollectionJob
		// status is the job's stored status (the operator's fields) and
		// report the collector's report, each written by its owner.
		status *sweepv1alpha1.CollectionJobStatus
		report *sweepv1alpha1.VisitReport
		visits []*batchv1.Job // visit Jobs stored before
		funcs  interceptor.Funcs
		// admittedInMemory: the round admitted the job in the manager's
		// memory (expectations.Store), with no API write.
		admittedInMemory bool
		wantRes          ctrl.Result
		wantErr          bool
		// wantStatus is the job's whole status after (report included);
		// nil: the job is not there.
		wantStatus *sweepv1alpha1.CollectionJobStatus
		wantVisits []visitJobSummary
		wantEvents []string
	}{
		"admitted job starts its first visit": {
			round: tableRound(nil),
			job:   tableCollectionJob(nil),
			wantStatus: &sweepv1alpha1.CollectionJobStatus{
				Phase: sweepv1alpha1.JobActive, Visits: 1, ActiveJob: "r-b-v1",
				Outstanding: tableExpected, NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: tableExpected},
				StartTime: at(tableNow),
			},
			wantVisits: []visitJobSummary{{Name: "r-b-v1", Labels: labelsOfVisit("1"), Controller: "CollectionJob/r-b"}},
			wantRes:    ctrl.Result{RequeueAfter: 12 * time.Hour}, // the deadline, which no watch reports
		},
		"queued job the round admitted in memory starts its first visit; the status records the admission": {
			round:            tableRound(nil),
			job:              tableCollectionJob(func(cj *sweepv1alpha1.CollectionJob) { cj.Spec.Suspend = true }),
			admittedInMemory: true,
			wantStatus: &sweepv1alpha1.CollectionJobStatus{
				Phase: sweepv1alpha1.JobActive, Visits: 1, ActiveJob: "r-b-v1",
				Outstanding: tableExpected, NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: tableExpected},
				StartTime: at(tableNow),
			},
			wantVisits: []visitJobSummary{{Name: "r-b-v1", Labels: labelsOfVisit("1"), Controller: "CollectionJob/r-b"}},
			wantRes:    ctrl.Result{RequeueAfter: 12 * time.Hour},
		},
		"job waiting for a team stays without a phase": {
			round:      tableRound(nil),
			job:        tableCollectionJob(func(cj *sweepv1alpha1.CollectionJob) { cj.Spec.Suspend = true }),
			wantStatus: &sweepv1alpha1.CollectionJobStatus{},
			wantRes:    ctrl.Result{RequeueAfter: 12 * time.Hour},
		},
		"admitted job of a suspended round starts no visit": {
			round:      tableRound(func(tr *sweepv1alpha1.TestingRound) { tr.Spec.Suspend = true }),
			job:        tableCollectionJob(nil),
			status:     &sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobQueued},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobQueued},
			wantRes:    ctrl.Result{RequeueAfter: 12 * time.Hour},
		},
		"visit under way: nothing to do until it reports": {
			round:      tableRound(nil),
			job:        tableCollectionJob(nil),
			status:     ptr.To(onFirstVisit("r-b-v1")),
			visits:     []*batchv1.Job{tableVisitJob("r-b-v1", "", "", "")},
			wantStatus: ptr.To(onFirstVisit("r-b-v1")),
			wantVisits: []visitJobSummary{{Name: "r-b-v1", Labels: map[string]string{LabelCollectionJob: tableJob}, Controller: "CollectionJob/r-b"}},
			wantRes:    ctrl.Result{RequeueAfter: 12 * time.Hour},
		},
		"final report with residents missed: waits to knock again": {
			round:  tableRound(nil),
			job:    tableCollectionJob(nil),
			status: ptr.To(onFirstVisit("r-b-v1")),
			report: report(1, 90, true, "3-201", "5-402"),
			visits: []*batchv1.Job{tableVisitJob("r-b-v1", batchv1.JobComplete, "", "")},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{
				Phase: sweepv1alpha1.JobWaiting, Visits: 1, Sampled: 90, Outstanding: 10,
				MissedHouseholds: []string{"3-201", "5-402"}, NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: 10},
				StartTime: at(tableNow.Add(-time.Hour)), NextVisitTime: at(tableNow.Add(time.Hour)),
				Report: report(1, 90, true, "3-201", "5-402"),
			},
			wantVisits: []visitJobSummary{{Name: "r-b-v1", Labels: map[string]string{LabelCollectionJob: tableJob}, Controller: "CollectionJob/r-b"}},
			wantRes:    ctrl.Result{RequeueAfter: time.Hour}, // the re-knock
		},
		"final report with everyone sampled completes": {
			round:  tableRound(nil),
			job:    tableCollectionJob(nil),
			status: ptr.To(onFirstVisit("r-b-v1")),
			report: report(1, tableExpected, true),
			visits: []*batchv1.Job{tableVisitJob("r-b-v1", batchv1.JobComplete, "", "")},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{
				Phase: sweepv1alpha1.JobCompleted, Visits: 1, Sampled: tableExpected,
				StartTime: at(tableNow.Add(-time.Hour)), CompletionTime: at(tableNow),
				Report: report(1, tableExpected, true),
			},
			wantVisits: []visitJobSummary{{Name: "r-b-v1", Labels: map[string]string{LabelCollectionJob: tableJob}, Controller: "CollectionJob/r-b"}},
			wantRes:    ctrl.Result{},
		},
		"re-knock not due yet: sleeps until it is": {
			round: tableRound(nil),
			job:   tableCollectionJob(nil),
			status: &sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobWaiting, Visits: 1, Sampled: 90, Outstanding: 10,
				NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: 10},
				StartTime:          at(tableNow.Add(-time.Hour)), NextVisitTime: at(tableNow.Add(20 * time.Minute))},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobWaiting, Visits: 1, Sampled: 90, Outstanding: 10,
				NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: 10},
				StartTime:          at(tableNow.Add(-time.Hour)), NextVisitTime: at(tableNow.Add(20 * time.Minute))},
			wantRes: ctrl.Result{RequeueAfter: 20 * time.Minute},
		},
		"re-knock due: the second visit starts": {
			round: tableRound(nil),
			job:   tableCollectionJob(nil),
			status: &sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobWaiting, Visits: 1, Sampled: 90, Outstanding: 10,
				NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: 10},
				StartTime:          at(tableNow.Add(-time.Hour)), NextVisitTime: at(tableNow)},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobActive, Visits: 2, ActiveJob: "r-b-v2", Sampled: 90, Outstanding: 10,
				NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: 10},
				StartTime:          at(tableNow.Add(-time.Hour))},
			wantVisits: []visitJobSummary{{Name: "r-b-v2", Labels: labelsOfVisit("2"), Controller: "CollectionJob/r-b"}},
			wantRes:    ctrl.Result{RequeueAfter: 12 * time.Hour},
		},
		"re-knock due in a suspended round is held": {
			round: tableRound(func(tr *sweepv1alpha1.TestingRound) { tr.Spec.Suspend = true }),
			job:   tableCollectionJob(nil),
			status: &sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobWaiting, Visits: 1, Sampled: 90, Outstanding: 10,
				NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: 10},
				StartTime:          at(tableNow.Add(-time.Hour)), NextVisitTime: at(tableNow)},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobWaiting, Visits: 1, Sampled: 90, Outstanding: 10,
				NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: 10},
				StartTime:          at(tableNow.Add(-time.Hour)), NextVisitTime: at(tableNow)},
			wantRes: ctrl.Result{RequeueAfter: 12 * time.Hour},
		},
		"failed visit Job: tried again after a pause, its Job deleted": {
			round:  tableRound(nil),
			job:    tableCollectionJob(nil),
			status: ptr.To(onFirstVisit("r-b-v1")),
			visits: []*batchv1.Job{tableVisitJob("r-b-v1", batchv1.JobFailed, "BackoffLimitExceeded", "Job has reached the specified backoff limit")},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{
				Phase: sweepv1alpha1.JobActive, Visits: 1, FailedAttempts: 1, Outstanding: tableExpected,
				NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: tableExpected},
				StartTime:          at(tableNow.Add(-time.Hour)), NextVisitTime: at(tableNow.Add(10 * time.Second)),
			},
			wantEvents: []string{"Warning VisitFailed Attempt 1 of visit 1: r-b-v1 failed: BackoffLimitExceeded: Job has reached the specified backoff limit; trying again in 10s."},
			wantRes:    ctrl.Result{RequeueAfter: 10 * time.Second},
		},
		"third failed attempt fails the job, a condition says why": {
			round: tableRound(nil),
			job:   tableCollectionJob(nil),
			status: func() *sweepv1alpha1.CollectionJobStatus {
				st := onFirstVisit("r-b-v1-r2")
				st.FailedAttempts = 2
				return &st
			}(),
			visits: []*batchv1.Job{tableVisitJob("r-b-v1-r2", batchv1.JobFailed, "DeadlineExceeded", "Job was active longer than specified deadline")},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{
				Phase: sweepv1alpha1.JobFailed, Visits: 1, FailedAttempts: 3, Missed: tableExpected,
				NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: tableExpected},
				StartTime:          at(tableNow.Add(-time.Hour)), CompletionTime: at(tableNow),
				Conditions: []metav1.Condition{{Type: sweepv1alpha1.ConditionFailed, Status: metav1.ConditionTrue, Reason: sweepv1alpha1.ReasonVisitFailed,
					Message:            "Gave up after 3 attempts of visit 1; last: visit 1: r-b-v1-r2 failed: DeadlineExceeded: Job was active longer than specified deadline. Residents not sampled (100) count as missed.",
					LastTransitionTime: metav1.Time{Time: tableNow}}},
			},
			wantEvents: []string{"Warning Failed Gave up after 3 attempts of visit 1; last: visit 1: r-b-v1-r2 failed: DeadlineExceeded: Job was active longer than specified deadline. Residents not sampled (100) count as missed."},
			wantRes:    ctrl.Result{},
		},
		"visit Job ended without a final report: counted as a failed attempt": {
			round:  tableRound(nil),
			job:    tableCollectionJob(nil),
			status: ptr.To(onFirstVisit("r-b-v1")),
			report: report(1, 40, false),
			visits: []*batchv1.Job{tableVisitJob("r-b-v1", batchv1.JobComplete, "", "")},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{
				Phase: sweepv1alpha1.JobActive, Visits: 1, FailedAttempts: 1, Sampled: 40, Outstanding: 60,
				NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: 60},
				StartTime:          at(tableNow.Add(-time.Hour)), NextVisitTime: at(tableNow.Add(10 * time.Second)),
				Report: report(1, 40, false),
			},
			wantEvents: []string{"Warning NoFinalReport Attempt 1 of visit 1: r-b-v1 finished without a final report from the collector; trying again in 10s."},
			wantRes:    ctrl.Result{RequeueAfter: 10 * time.Second},
		},
		"deadline reached mid-visit: Expired, the visit stopped": {
			round:  tableRound(func(tr *sweepv1alpha1.TestingRound) { tr.Spec.Deadline = metav1.Time{Time: tableNow} }),
			job:    tableCollectionJob(nil),
			status: ptr.To(onFirstVisit("r-b-v1")),
			report: report(1, 30, false),
			visits: []*batchv1.Job{tableVisitJob("r-b-v1", "", "", "")},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{
				Phase: sweepv1alpha1.JobExpired, Visits: 1, Sampled: 30, Missed: 70,
				NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: 70},
				StartTime:          at(tableNow.Add(-time.Hour)), CompletionTime: at(tableNow),
				Report: report(1, 30, false),
			},
			wantEvents: []string{"Normal Expired Deadline reached after 1 visits: 30 of 100 residents sampled, 70 missed."},
			wantRes:    ctrl.Result{},
		},
		"the round's deadline, moved earlier, ends a job whose copy is later": {
			round: tableRound(func(tr *sweepv1alpha1.TestingRound) { tr.Spec.Deadline = metav1.Time{Time: tableNow.Add(-time.Minute)} }),
			job:   tableCollectionJob(nil),
			wantStatus: &sweepv1alpha1.CollectionJobStatus{
				Phase: sweepv1alpha1.JobExpired, Missed: tableExpected,
				NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: tableExpected},
				CompletionTime:     at(tableNow),
			},
			wantEvents: []string{"Normal Expired Deadline reached after 0 visits: 0 of 100 residents sampled, 100 missed."},
			wantRes:    ctrl.Result{},
		},
		"impossible report: ignored, a condition and an event say what is wrong": {
			round:  tableRound(nil),
			job:    tableCollectionJob(nil),
			status: ptr.To(onFirstVisit("r-b-v1")),
			report: &sweepv1alpha1.VisitReport{Visit: 1, Sampled: 120, Missed: 0, Final: true, Time: metav1.Time{Time: tableNow.Add(-time.Minute)}},
			visits: []*batchv1.Job{tableVisitJob("r-b-v1", "", "", "")},
			wantStatus: func() *sweepv1alpha1.CollectionJobStatus {
				st := onFirstVisit("r-b-v1")
				st.Report = &sweepv1alpha1.VisitReport{Visit: 1, Sampled: 120, Missed: 0, Final: true, Time: metav1.Time{Time: tableNow.Add(-time.Minute)}}
				st.Conditions = []metav1.Condition{{Type: sweepv1alpha1.ConditionReportIgnored, Status: metav1.ConditionTrue, Reason: sweepv1alpha1.ReasonImpossibleReport,
					Message:            "Ignored the report for visit 1: 120 sampled but only 100 residents are expected (count the surplus in extraSampled). Results reported earlier are kept.",
					LastTransitionTime: metav1.Time{Time: tableNow}}}
				return &st
			}(),
			wantVisits: []visitJobSummary{{Name: "r-b-v1", Labels: map[string]string{LabelCollectionJob: tableJob}, Controller: "CollectionJob/r-b"}},
			wantEvents: []string{"Warning ImpossibleReport Ignored the report for visit 1: 120 sampled but only 100 residents are expected (count the surplus in extraSampled). Results reported earlier are kept."},
			wantRes:    ctrl.Result{RequeueAfter: 12 * time.Hour},
		},
		"visit Job not created: the error is returned, the decision already written": {
			round: tableRound(nil),
			job:   tableCollectionJob(nil),
			funcs: interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
				if _, ok := obj.(*batchv1.Job); ok {
					return apierrors.NewServiceUnavailable("etcd leader changed")
				}
				return c.Create(ctx, obj, opts...)
			}},
			// Written first, so that the collector's report for this
			// attempt is accepted once it runs; the next reconcile
			// starts the attempt (collection.VisitUnknown).
			wantStatus: &sweepv1alpha1.CollectionJobStatus{
				Phase: sweepv1alpha1.JobActive, Visits: 1, ActiveJob: "r-b-v1",
				Outstanding: tableExpected, NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: tableExpected},
				StartTime: at(tableNow),
			},
			wantErr: true,
		},
		// The namespace controller deletes the job soon; retrying until
		// then only fills the log.
		"namespace being deleted: no visit, and no error to retry": {
			round: tableRound(nil),
			job:   tableCollectionJob(nil),
			funcs: interceptor.Funcs{Create: func(context.Context, client.WithWatch, client.Object, ...client.CreateOption) error {
				return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden,
					Message: "namespace baoguo is being terminated",
					Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: corev1.NamespaceTerminatingCause}}}}}
			}},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{
				Phase: sweepv1alpha1.JobActive, Visits: 1, ActiveJob: "r-b-v1",
				Outstanding: tableExpected, NotSampledByReason: &sweepv1alpha1.MissedReasonCounts{Unknown: tableExpected},
				StartTime: at(tableNow),
			},
			wantRes: ctrl.Result{},
		},
		// Each retry would read the same cache, write again and log
		// another "Reconciler error" until the cache saw the deletion.
		"job deleted after the cache showed it: no visit, and no error to retry": {
			round: tableRound(nil),
			job:   tableCollectionJob(nil),
			funcs: interceptor.Funcs{SubResourceApply: func(context.Context, client.Client, string, runtime.ApplyConfiguration, ...client.SubResourceApplyOption) error {
				return apierrors.NewNotFound(sweepv1alpha1.GroupVersion.WithResource("collectionjobs").GroupResource(), tableJob)
			}},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{},
		},
		"round deleted: the job runs nothing": {
			job:        tableCollectionJob(nil),
			wantStatus: &sweepv1alpha1.CollectionJobStatus{},
		},
		"a new round of the same name does not take the old round's job": {
			round:      tableRound(func(tr *sweepv1alpha1.TestingRound) { tr.UID = "round-r-again" }),
			job:        tableCollectionJob(nil),
			wantStatus: &sweepv1alpha1.CollectionJobStatus{},
		},
		"finished job is left alone": {
			round: tableRound(nil),
			job:   tableCollectionJob(nil),
			status: &sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobCompleted, Visits: 1, Sampled: tableExpected,
				StartTime: at(tableNow.Add(-time.Hour)), CompletionTime: at(tableNow.Add(-time.Minute))},
			wantStatus: &sweepv1alpha1.CollectionJobStatus{Phase: sweepv1alpha1.JobCompleted, Visits: 1, Sampled: tableExpected,
				StartTime: at(tableNow.Add(-time.Hour)), CompletionTime: at(tableNow.Add(-time.Minute))},
		},
		"job gone: nothing to do, no error": {
			round: tableRound(nil),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var objs []seeded
			if tc.round != nil {
				objs = append(objs, seeded{kind: "TestingRound", obj: tc.round})
			}
			if tc.job != nil {
				job := seeded{kind: "CollectionJob", obj: tc.job}
				if tc.status != nil {
					job.status = append(job.status, ownedStatus{CollectionFieldOwner, tc.status})
				}
				if tc.report != nil {
					job.status = append(job.status, ownedStatus{"sweep-collector", &sweepv1alpha1.CollectionJobStatus{Report: tc.report}})
				}
				objs = append(objs, job)
			}
			for _, j := range tc.visits {
				objs = append(objs, seeded{kind: "Job", obj: j})
			}
			c := newTableClient(t, tc.funcs, objs...)
			rec := events.NewFakeRecorder(10)
			memory := &expectations.Store{}
			if tc.admittedInMemory {
				memory.Admit(types.NamespacedName{Namespace: tableNamespace, Name: "r"}, []*sweepv1alpha1.CollectionJob{tc.job})
			}
			r := &CollectionJobReconciler{Client: c, Clock: clocktesting.NewFakePassiveClock(tableNow), Recorder: rec, Memory: memory,
				Executor: &JobExecutor{Client: c, Image: "sweep:test"}}

			res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: tableNamespace, Name: tableJob}})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Reconcile error %v, want error: %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantRes, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			var got sweepv1alpha1.CollectionJob
			err = c.Get(context.Background(), types.NamespacedName{Namespace: tableNamespace, Name: tableJob}, &got)
			switch {
			case tc.wantStatus == nil && !apierrors.IsNotFound(err):
				t.Errorf("job after: %v, want none", err)
			case tc.wantStatus != nil && err != nil:
				t.Fatal(err)
			case tc.wantStatus != nil:
				// Nothing is ignored: every time is the fixed clock's.
				if diff := cmp.Diff(*tc.wantStatus, got.Status); diff != "" {
					t.Errorf("status (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tc.wantVisits, visitJobs(t, c)); diff != "" {
				t.Errorf("visit Jobs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantEvents, drainEvents(rec)); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}
