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

package collector

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// FieldOwner is the collector's field manager. It owns status.report and
// nothing else, so the collector's reports and the operator's status fields
// never overwrite each other.
const FieldOwner = "sweep-collector"

// NewClient is the collector's client: it reads and writes CollectionJobs
// and nothing else, so it knows their REST mapping instead of asking the
// API server's discovery. A discovery request is one more thing that can
// fail while the API server restarts (refused with 403 until its RBAC
// caches are loaded), and one more request per visit pod.
func NewClient(cfg *rest.Config) (client.Client, error) {
	scheme := runtime.NewScheme()
	if err := sweepv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(sweepv1alpha1.GroupVersion.WithKind("CollectionJob"), meta.RESTScopeNamespace)
	return client.New(cfg, client.Options{Scheme: scheme, Mapper: mapper})
}

// Reporter writes a visit's report.
type Reporter interface {
	Report(ctx context.Context, a Assignment, o Outcome, final bool) error
}

// StatusReporter writes reports to the CollectionJob's status subresource
// with server-side apply.
type StatusReporter struct {
	Client client.Client
	Now    func() time.Time
	// FinalTimeout bounds how long a final report is retried; 0 means
	// DefaultFinalTimeout. The visit's deadline bounds it too: the visit
	// Job's activeDeadlineSeconds ends the pod, and the local executor
	// cancels the context.
	FinalTimeout time.Duration
}

const (
	// DefaultFinalTimeout outlasts an API server restart or a 30 s outage
	// with room to spare; a visit's result is worth the wait.
	DefaultFinalTimeout = 2 * time.Minute
	// reportBackoff and reportMaxBackoff are the first and the longest
	// pause between tries of a final report.
	reportBackoff    = 200 * time.Millisecond
	reportMaxBackoff = 5 * time.Second
	// reportAttemptTimeout bounds one try, so that a connection that hangs
	// (a partition, not a refusal) is given up and tried again.
	reportAttemptTimeout = 15 * time.Second
)

// ReportFor is the report of visit a.Visit with outcome o: the one place
// that turns what a source counts into counts against the roster. A
// registry counts everyone it registered; Sweep expects the roster's
// residents minus the exempt, and cannot tell who is who, so it counts by
// number: sampled is capped at expected (the surplus is extraSampled),
// missed is the rest, and the missed households are the knock list while
// anyone is outstanding, none once nobody is (docs/collector-api.md,
// "Counts and the roster"). The source's residents by reason are fitted to
// missed (MissedReasonCounts.FitTo: a surplus is trimmed, a shortfall is
// unknown), so they always add up to it ("Missed reasons"). Tubes follow
// from pool size; at most MaxMissedHouseholds households are kept.
func ReportFor(a Assignment, o Outcome, final bool, now time.Time) *sweepv1alpha1.VisitReport {
	expected := max(a.Expected, 0)
	sampled := min(max(o.Sampled, 0), expected)
	missed := expected - sampled
	pool := max(a.PoolSize, 1)
	r := &sweepv1alpha1.VisitReport{
		Visit:        a.Visit,
		Sampled:      sampled,
		Missed:       missed,
		ExtraSampled: max(o.Sampled, 0) - sampled,
		HomeVisited:  min(max(o.HomeVisited, 0), sampled),
		Tubes:        (sampled + pool - 1) / pool,
		Final:        final,
		Time:         metav1.NewTime(now.UTC().Truncate(time.Second)),
	}
	if missed == 0 {
		// The households left are exempt residents' or people the
		// roster does not know: nobody Sweep expects is behind their doors.
		return r
	}
	var byReason sweepv1alpha1.MissedReasonCounts
	reasons := map[string]sweepv1alpha1.MissedReason{}
	households := slices.Clone(o.MissedHouseholds)
	listed := make(map[string]bool, len(households))
	for _, h := range households {
		listed[h] = true
	}
	for _, m := range o.Missed {
		byReason.Add(m.Reason, m.Residents)
		if _, given := reasons[m.Household]; !given && m.Reason.Valid() && m.Reason != sweepv1alpha1.MissedUnknown {
			reasons[m.Household] = m.Reason
		}
		if !listed[m.Household] {
			// A household with residents not sampled is on the knock
			// list, whether or not the source also listed it there.
			listed[m.Household] = true
			households = append(households, m.Household)
		}
	}
	fitted := byReason.FitTo(missed)
	r.MissedByReason = &fitted
	if len(households) > sweepv1alpha1.MaxMissedHouseholds {
		households = households[:sweepv1alpha1.MaxMissedHouseholds]
	}
	r.MissedHouseholds = households
	for _, h := range households {
		if reason, ok := reasons[h]; ok {
			r.MissedHouseholdReasons = append(r.MissedHouseholdReasons, sweepv1alpha1.HouseholdReason{Household: h, Reason: reason})
			delete(reasons, h) // a household listed twice gets one entry
		}
	}
	return r
}

// Report applies status.report for visit a.Visit. A final report is retried
// on transient errors: it is the visit's result, and the operator counts a
// visit without one as failed.
func (r StatusReporter) Report(ctx context.Context, a Assignment, o Outcome, final bool) error {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	report := ReportFor(a, o, final, now())
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(report)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"report": obj}}}
	u.SetGroupVersionKind(sweepv1alpha1.GroupVersion.WithKind("CollectionJob"))
	u.SetNamespace(a.Namespace)
	u.SetName(a.CollectionJob)
	apply := func(ctx context.Context) error {
		return r.Client.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership)
	}
	if !final {
		return apply(ctx)
	}
	if err := r.retry(ctx, apply, func(ctx context.Context) (bool, error) { return r.stored(ctx, a, report) }); err != nil {
		return fmt.Errorf("reporting visit %d of %s/%s: %w", a.Visit, a.Namespace, a.CollectionJob, err)
	}
	return nil
}

// stored says whether the CollectionJob already holds report: a try that
// timed out may have been written, and the operator may have finished the
// visit on it before the next try, which is then refused (no visit under
// way). The result is in; the visit did not fail. It returns an error when
// the API server does not let the CollectionJob be read either (a
// CollectionJob that is gone is read: it holds no report).
func (r StatusReporter) stored(ctx context.Context, a Assignment, report *sweepv1alpha1.VisitReport) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, reportAttemptTimeout)
	defer cancel()
	var job sweepv1alpha1.CollectionJob
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: a.CollectionJob}, &job); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return job.Status.Report != nil && equality.Semantic.DeepEqual(*job.Status.Report, *report), nil
}

// retry tries a final report until it is written, the error is permanent,
// or FinalTimeout has passed, with a doubling pause capped at
// reportMaxBackoff. A refusal is believed only once the API server lets the
// CollectionJob be read: while it restarts it refuses everything (401, 403)
// until its token and RBAC caches are loaded, and a refusal then is no
// verdict on the report. A refusal is no error when stored says an earlier
// try was written after all.
func (r StatusReporter) retry(ctx context.Context, apply func(context.Context) error, stored func(context.Context) (bool, error)) error {
	bound := r.FinalTimeout
	if bound <= 0 {
		bound = DefaultFinalTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	wait := reportBackoff
	for tries := 1; ; tries++ {
		actx, acancel := context.WithTimeout(ctx, reportAttemptTimeout)
		err := apply(actx)
		acancel()
		if err == nil {
			return nil
		}
		if !transientReportError(err) {
			written, readErr := stored(ctx)
			if written {
				return nil
			}
			if readErr == nil {
				return err
			}
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("gave up after %d tries in %s: %w", tries, bound, err)
		case <-timer.C:
		}
		wait = min(2*wait, reportMaxBackoff)
	}
}

// transientReportError says whether a failed report may succeed when tried
// again: the API server was unreachable (refused, reset, EOF, timed out) or
// answered that it is busy, restarting or in conflict. Refusals that stay
// true (403, 404, 422, 400) are not retried.
func transientReportError(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		// No answer from the API server: a connection error or a
		// timeout of this try.
		return true
	}
	code := status.Status().Code
	return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || code == http.StatusRequestTimeout || code >= 500
}

// Run performs one visit: asks the source, sends progress reports while it
// runs (best effort), and a final report at the end. It returns an error
// when the visit or its final report failed; a visit Job's pod then exits
// non-zero, and the operator counts the visit as failed.
func Run(ctx context.Context, a Assignment, src Source, rep Reporter) error {
	progress := func(o Outcome) { _ = rep.Report(ctx, a, o, false) }
	o, err := src.Visit(ctx, a, progress)
	if err != nil {
		return fmt.Errorf("visit %d of building %s: %w", a.Visit, a.Building, err)
	}
	return rep.Report(ctx, a, o, true)
}

// SourceFor returns the source an assignment names.
func SourceFor(a Assignment) (Source, error) {
	switch a.Source {
	case "", "drill":
		return DrillSource{}, nil
	case "http":
		return NewHTTPSource(), nil
	case "csv":
		return CSVSource{}, nil
	}
	return nil, fmt.Errorf("unknown source %q", a.Source)
}
