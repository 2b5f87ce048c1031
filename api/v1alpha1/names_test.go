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

package v1alpha1_test

import (
	"bufio"
	"os"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// resourceNames is what kubectl matches a word against: plural, singular
// and short names, and the categories a resource belongs to.
type resourceNames struct {
	id         string // group/plural, for the messages
	names      []string
	categories []string
}

// TestNamesDoNotCollide reads the real API server's discovery with Sweep's
// CRDs installed. A short name (or plural, or singular) that another
// resource also has is not refused by the API server: kubectl picks one,
// built-ins first, and only warns, so `kubectl get cj` listed CronJobs
// instead of CollectionJobs. Sweep's names must therefore be unique among
// every resource the server serves, and among the CRDs of common operators
// (testdata/operator-crd-names.txt: the server here does not have those);
// and no other resource may be in a category Sweep uses, or `kubectl get
// sweep` would list it too.
func TestNamesDoNotCollide(t *testing.T) {
	apiServer(t)
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil {
		t.Fatalf("reading discovery: %v", err)
	}
	var sweep, others []resourceNames
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // a subresource: kubectl never resolves a word to one
			}
			n := discovered(gv.Group, r)
			if gv.Group == sweepv1alpha1.GroupVersion.Group {
				sweep = append(sweep, n)
			} else {
				others = append(others, n)
			}
		}
	}
	if len(sweep) != 5 {
		t.Fatalf("discovery lists %d Sweep resources, want 5 (Building, TestingRound, CollectionJob, TestingSchedule, PositivePool): %+v", len(sweep), sweep)
	}
	if len(others) < 40 {
		t.Fatalf("discovery lists only %d other resources: not a real API server's?", len(others))
	}
	for _, c := range collisions(sweep, others) {
		t.Errorf("with the built-in resources: %s", c)
	}
	for _, c := range collisions(sweep, operatorCRDs(t)) {
		t.Errorf("with common operators' CRDs (testdata/operator-crd-names.txt): %s", c)
	}
	// Sweep's names among themselves: the same word for two of its own
	// resources would make kubectl pick one of them too.
	for i := range sweep {
		rest := append(append([]resourceNames{}, sweep[:i]...), sweep[i+1:]...)
		for _, c := range collisions(sweep[i:i+1], rest) {
			if !strings.HasPrefix(c, "category") { // sharing the sweep category is the point
				t.Errorf("among Sweep's own resources: %s", c)
			}
		}
	}
}

// discovered is the names discovery gives for one resource. Discovery leaves
// singularName empty for some resources; kubectl then uses the lower-case
// kind, and so does this.
func discovered(group string, r metav1.APIResource) resourceNames {
	singular := r.SingularName
	if singular == "" {
		singular = strings.ToLower(r.Kind)
	}
	return resourceNames{
		id:         r.Name + "." + group,
		names:      append([]string{r.Name, singular}, r.ShortNames...),
		categories: r.Categories,
	}
}

// collisions lists, in words, each word of sweep's that names or
// categorises one of others, and each category of sweep's that one of
// others belongs to or that is also a resource's name (kubectl would then
// read `kubectl get sweep` as that resource).
func collisions(sweep, others []resourceNames) []string {
	names := map[string][]string{}
	categories := map[string][]string{}
	for _, o := range others {
		for _, n := range o.names {
			names[n] = append(names[n], o.id)
		}
		for _, c := range o.categories {
			categories[c] = append(categories[c], o.id)
		}
	}
	var out []string
	for _, s := range sweep {
		for _, n := range s.names {
			for _, o := range names[n] {
				out = append(out, "name "+q(n)+" of "+s.id+" is also a name of "+o)
			}
			for _, o := range categories[n] {
				out = append(out, "name "+q(n)+" of "+s.id+" is also a category of "+o)
			}
		}
		for _, c := range s.categories {
			for _, o := range categories[c] {
				out = append(out, "category "+q(c)+" of "+s.id+" also holds "+o)
			}
			for _, o := range names[c] {
				out = append(out, "category "+q(c)+" of "+s.id+" is also a name of "+o)
			}
		}
	}
	sort.Strings(out)
	return out
}

func q(s string) string { return `"` + s + `"` }

// operatorCRDs reads testdata/operator-crd-names.txt: one CRD a line,
// "group kind plural singular shortNames categories", "-" for none.
func operatorCRDs(t *testing.T) []resourceNames {
	t.Helper()
	f, err := os.Open("testdata/operator-crd-names.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	list := func(s string) []string {
		if s == "-" {
			return nil
		}
		return strings.Split(s, ",")
	}
	var out []resourceNames
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 6 {
			t.Fatalf("testdata/operator-crd-names.txt:%d: %d fields, want 6 (group kind plural singular shortNames categories)", line, len(fields))
		}
		out = append(out, resourceNames{
			id:         fields[2] + "." + fields[0],
			names:      append([]string{fields[2], fields[3]}, list(fields[4])...),
			categories: list(fields[5]),
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("testdata/operator-crd-names.txt lists %d CRDs: cut short?", len(out))
	}
	return out
}
