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

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

func buildings(t *testing.T, ns string) map[string]sweepv1alpha1.Building {
	t.Helper()
	var l sweepv1alpha1.BuildingList
	if err := k8s.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]sweepv1alpha1.Building{}
	for _, b := range l.Items {
		out[b.Name] = b
	}
	return out
}

func TestImportDryRunApplyIdempotentAndUpdate(t *testing.T) {
	const ns = "pingfang"
	createNamespace(t, ns)
	small, changed := filepath.Join("testdata", "ledger_small.csv"), filepath.Join("testdata", "ledger_changed.csv")
	lbl := "--label=sweep.masstesting.io/district=pingfang"

	out, _, err := sweep(t, adminConf, "import", "-n", ns, "--dry-run", lbl, small)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "import_dry_run.golden", out)
	if n := len(buildings(t, ns)); n != 0 {
		t.Fatalf("--dry-run stored %d buildings", n)
	}

	out, _, err = sweep(t, adminConf, "import", "-n", ns, lbl, small)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "import_apply.golden", out)
	got := buildings(t, ns)
	b2 := got["xinjiang-2"]
	if len(got) != 4 || b2.Spec.Residents != 120 || b2.Spec.Exempt != 2 || b2.Spec.ControlLevel != sweepv1alpha1.ControlLevelSealed ||
		b2.Labels[sweepv1alpha1.LabelCommunity] != "xinjiang" || b2.Labels["sweep.masstesting.io/district"] != "pingfang" ||
		b2.Spec.Community != "Xinjiang Community" || got["xinjiang-3"].Spec.ControlLevel != sweepv1alpha1.ControlLevelControlled {
		t.Fatalf("stored buildings: %+v", got)
	}
	rv := b2.ResourceVersion

	// Importing the same ledger again changes nothing, not even a
	// resourceVersion.
	out, _, err = sweep(t, adminConf, "import", "-n", ns, lbl, small)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "import_again.golden", out)
	if got := buildings(t, ns)["xinjiang-2"].ResourceVersion; got != rv {
		t.Errorf("a repeated import wrote xinjiang-2: resourceVersion %s -> %s", rv, got)
	}

	// A label ops added by hand survives a later import.
	b := buildings(t, ns)["xinjiang-1"]
	b.Labels["ops.example/note"] = "gate-b"
	if err := k8s.Update(context.Background(), &b); err != nil {
		t.Fatal(err)
	}

	out, _, err = sweep(t, adminConf, "import", "-n", ns, "--dry-run", lbl, changed)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "import_changed_dry_run.golden", out)
	out, _, err = sweep(t, adminConf, "import", "-n", ns, lbl, changed)
	if err != nil || !strings.Contains(out, "1 created, 1 updated, 3 unchanged") {
		t.Fatalf("import of the changed ledger: %v\n%s", err, out)
	}
	got = buildings(t, ns)
	if len(got) != 5 || got["xinjiang-2"].Spec.Exempt != 4 || got["xinjiang-2"].Spec.ControlLevel != sweepv1alpha1.ControlLevelControlled {
		t.Errorf("after the changed ledger: %+v", got["xinjiang-2"].Spec)
	}
	if got["xinjiang-1"].Labels["ops.example/note"] != "gate-b" {
		t.Errorf("import removed a label it does not own: %v", got["xinjiang-1"].Labels)
	}
	// Buildings missing from a ledger are reported and left alone.
	out, _, err = sweep(t, adminConf, "import", "-n", ns, lbl, small)
	if err != nil || !strings.Contains(out, "1 Buildings in pingfang are not in the ledger and were left alone: xinjiang-5") {
		t.Errorf("%v\n%s", err, out)
	}
	if _, ok := buildings(t, ns)["xinjiang-5"]; !ok {
		t.Errorf("import deleted a building missing from the ledger")
	}
}

func TestImportBadRowsApplyNothingUnlessSkipped(t *testing.T) {
	const ns = "baicheng"
	createNamespace(t, ns)
	bad := filepath.Join("testdata", "ledger_bad.csv")
	out, stderr, err := sweep(t, adminConf, "import", "-n", ns, bad)
	if err == nil || !strings.Contains(err.Error(), "5 bad rows; nothing was applied") {
		t.Fatalf("err = %v", err)
	}
	golden(t, "import_bad_rows.golden", strings.ReplaceAll(stderr, string(filepath.Separator), "/"))
	if out != "" || len(buildings(t, ns)) != 0 {
		t.Fatalf("a ledger with bad rows applied something: %q, %d buildings", out, len(buildings(t, ns)))
	}

	out, _, err = sweep(t, adminConf, "import", "-n", ns, "--skip-bad-rows", bad)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "import_skip_bad_rows.golden", out)
	got := buildings(t, ns)
	if len(got) != 2 || got["anju-1"].Spec.Residents != 440 || got["anju-6"].Spec.HomeVisit != 3 {
		t.Errorf("--skip-bad-rows stored %+v", got)
	}
}

func TestImportUsageErrorsPure(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import"}, "exactly one ledger file"},
		{[]string{"import", "--label", "district", "x.csv"}, `--label "district": want key=value`},
		{[]string{"import", "--label", "a=b c", "x.csv"}, `--label "a=b c"`},
		{[]string{"import", "no-such-file.csv"}, "no-such-file.csv"},
	} {
		if _, _, err := sweep(t, "", tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// A district of 5,000 buildings imports in one command; a second import
// of the same ledger writes nothing. The figures are logged: on this
// 2-core machine a plain client creates about 2,000 objects/s at most, and
// an import costs two requests per changed row (dry run, then apply).
func TestImportOf5000Buildings(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test imports 5,000 buildings (about a minute); make test runs it without -short")
	}
	const ns, n = "district-5000", 5000
	createNamespace(t, ns)
	var b strings.Builder
	b.WriteString("building,street,community,residents,exempt,home_visit,control_level\n")
	for i := range n {
		fmt.Fprintf(&b, "b-%04d,pingfang,c-%02d,%d,%d,%d,%s\n", i, i%50, 100+i%50, i%4, i%3, []string{"Precaution", "Controlled", "Sealed"}[i%3])
	}
	path := filepath.Join(t.TempDir(), "ledger.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	out, _, err := sweep(t, adminConf, "import", "-n", ns, path)
	first := time.Since(start)
	if err != nil || !strings.Contains(out, fmt.Sprintf("%d created, 0 updated, 0 unchanged", n)) {
		t.Fatalf("%v\n%s", err, out[max(0, len(out)-300):])
	}
	if got := len(buildings(t, ns)); got != n {
		t.Fatalf("%d buildings stored, want %d", got, n)
	}
	start = time.Now()
	out, _, err = sweep(t, adminConf, "import", "-n", ns, path)
	again := time.Since(start)
	if err != nil || !strings.Contains(out, fmt.Sprintf("0 created, 0 updated, %d unchanged", n)) {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("import of %d buildings: %s (%.0f buildings/s); again, unchanged: %s", n, first.Round(time.Millisecond), n/first.Seconds(), again.Round(time.Millisecond))
}
