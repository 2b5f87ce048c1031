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

package round

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// roundAPIVersion is a TestingRound's apiVersion, built once: a round's
// reconcile asks ControllerUID of each of its jobs, up to 100,000.
var roundAPIVersion = sweepv1alpha1.GroupVersion.String()

// ControllerUID is the UID of the TestingRound that controls obj (its
// controller owner reference), or "" when no round controls it.
func ControllerUID(obj metav1.Object) types.UID {
	owner := metav1.GetControllerOfNoCopy(obj)
	if owner == nil || owner.APIVersion != roundAPIVersion || owner.Kind != "TestingRound" {
		return ""
	}
	return owner.UID
}

// Controls is the one rule for which jobs are a round's: those whose
// controller reference names the round's UID. Names and labels are not
// enough: a round deleted and created again under its name is another
// round, its predecessor's jobs (still being deleted) are not its own, and
// a job anyone made with the round's label or owner name is counted by
// nobody. The round controller, the collection controller, the metrics
// and `sweep status` and `sweep missed` all decide by it.
func Controls(r *sweepv1alpha1.TestingRound, obj metav1.Object) bool {
	return r.UID != "" && obj.GetNamespace() == r.Namespace && ControllerUID(obj) == r.UID
}

// Controlled returns the jobs of the list that r controls.
func Controlled(r *sweepv1alpha1.TestingRound, jobs []sweepv1alpha1.CollectionJob) []sweepv1alpha1.CollectionJob {
	out := jobs[:0:0]
	for i := range jobs {
		if Controls(r, &jobs[i]) {
			out = append(out, jobs[i])
		}
	}
	return out
}
