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

package lab

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testobjects"
)

// TestDemoLabSeed keeps `make demo` showing a positive pool: the drill lab
// of hack/demo.sh (its seed and per mille, read from the script) marks
// exactly one pooled tube of the demo district positive, tube 0 of
// xinjiang-6, a Controlled building admitted in the first wave, so the pool
// and its retest appear while buildings are still queued. lab.Drill is
// pure: whether a tube is positive depends on the seed, the round, the
// building and the tube's index only.
func TestDemoLabSeed(t *testing.T) {
	script, err := os.ReadFile("../../hack/demo.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`lab:\s+source: drill\s+drill: \{seed: (\d+), positivePermille: (\d+)`).FindSubmatch(script)
	if m == nil {
		t.Fatal("hack/demo.sh has no drill lab with a seed and positivePermille")
	}
	seed, _ := strconv.ParseInt(string(m[1]), 10, 64)
	p, _ := strconv.ParseInt(string(m[2]), 10, 32)
	permille := int32(p)

	data, err := os.ReadFile("../../config/samples/sweep_demo_district.yaml")
	if err != nil {
		t.Fatal(err)
	}
	done := metav1.Now()
	var jobs []*sweepv1alpha1.CollectionJob
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var b sweepv1alpha1.Building
		if err := yaml.Unmarshal([]byte(doc), &b); err != nil || b.Name == "" {
			continue
		}
		// Every building swept whole: every tube it could fill with the
		// residents it expects (round.NewJob: less the exempt).
		n := b.Spec.Residents - b.Spec.Exempt
		jobs = append(jobs, testobjects.Job("", "").Building(b.Name).Expected(n).Households(b.Spec.Households).
			Layout(b.Spec.Units, b.Spec.Floors).PoolSize(10).
			Phase(sweepv1alpha1.JobCompleted).Sampled(n).Tubes((n+9)/10).Completed(done.Time).Obj())
	}
	if len(jobs) != 64 {
		t.Fatalf("%d buildings in the demo district, want 64", len(jobs))
	}
	tr := &sweepv1alpha1.TestingRound{ObjectMeta: metav1.ObjectMeta{Name: "demo-round"}, Spec: sweepv1alpha1.TestingRoundSpec{
		Lab: &sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceDrill,
			Drill: &sweepv1alpha1.LabDrill{Seed: seed, PositivePermille: &permille, Turnaround: sweepv1alpha1.NewDuration(5 * time.Second)}}}}
	var positive []string
	for _, r := range Drill(tr, jobs, done.Add(time.Minute)) {
		if r.Positive {
			positive = append(positive, r.Building+"/"+r.Tube)
		}
	}
	want := "xinjiang-6/" + drillTube(seed, "demo-round", "xinjiang-6", fmt.Sprint(0), "tube")
	if len(positive) != 1 || positive[0] != want {
		t.Errorf("seed %d at %d per mille: positive tubes %v, want only %s (tube 0 of xinjiang-6)", seed, permille, positive, want)
	}
}
