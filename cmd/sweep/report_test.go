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
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/testobjects"
)

// The city of the report tests: three districts of Harbin on 3 December
// 2026 (Asia/Shanghai). Daoli runs its scheduled daily round, late, with
// positive pools, and a drill; Nangang's round ended at its deadline with
// residents missed; Xiangfang had a round two days before and none that
// day. Each round's status is as the operator would have written it.
const (
	daoli, nangang, xiangfang = "rpt-daoli", "rpt-nangang", "rpt-xiangfang"
	reportDate                = "2026-12-03"
)

var (
	cityOnce sync.Once
	cityErr  error
)

// cst is a time on the report's day in Asia/Shanghai (UTC+8), "15:04".
func cst(t *testing.T, hhmm string) *metav1.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, reportDate+"T"+hhmm+":00+08:00")
	if err != nil {
		t.Fatal(err)
	}
	return &metav1.Time{Time: v}
}

func reportCity(t *testing.T) {
	t.Helper()
	cityOnce.Do(func() { cityErr = makeReportCity(t) })
	if cityErr != nil {
		t.Fatal(cityErr)
	}
}

func makeReportCity(t *testing.T) error {
	ctx := context.Background()
	for _, ns := range []string{daoli, nangang, xiangfang} {
		createNamespace(t, ns)
	}
	httpSource := sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceHTTP, HTTP: &sweepv1alpha1.HTTPSource{URL: "https://samples.harbin.example/api"}}
	type roundSpec struct {
		ns, name string
		start    *metav1.Time
		mut      func(*sweepv1alpha1.TestingRound)
	}
	for _, rs := range []roundSpec{
		{daoli, "daoli-daily-202612030600", cst(t, "06:00"), func(tr *sweepv1alpha1.TestingRound) {
			// Made by a TestingSchedule: its day is the scheduled time's.
			tr.Annotations = map[string]string{sweepv1alpha1.AnnotationScheduledTime: reportDate + "T06:00:00+08:00"}
			tr.Labels = map[string]string{sweepv1alpha1.LabelSchedule: "daoli-daily"}
			tr.Spec.Lab = &sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceDrill}
			tr.Status = sweepv1alpha1.TestingRoundStatus{
				Phase:     sweepv1alpha1.RoundRunning,
				Buildings: sweepv1alpha1.BuildingCounts{Total: 36, Queued: 10, Active: 4, Waiting: 2, Completed: 20},
				Residents: sweepv1alpha1.ResidentCounts{Expected: 4321, Sampled: 2650, Outstanding: 1602, Missed: 69, Exempt: 57, HomeVisited: 31,
					MissedByReason: sweepv1alpha1.MissedReasonTotals{NotHome: 40, Refused: 3, Unknown: 26}},
				Tubes:    sweepv1alpha1.TubeCounts{Forecast: 434, Used: 267},
				Supplies: sweepv1alpha1.Supplies{Forecast: sweepv1alpha1.SupplyCounts{Tubes: 478, Swabs: 4754, TubeBags: 10}, Used: sweepv1alpha1.SupplyCounts{Tubes: 267, Swabs: 2650, TubeBags: 6}},
				PositivePools: &sweepv1alpha1.PoolCounts{Open: 1, Retesting: 1, Resolved: 2, HouseholdsToSeal: 3,
					OldestOpenResultTime: cst(t, "13:40")},
				StartTime:               cst(t, "06:00"),
				EstimatedCompletionTime: cst(t, "19:10"),
			}
		}},
		{daoli, "daoli-drill", cst(t, "09:00"), func(tr *sweepv1alpha1.TestingRound) {
			tr.Spec.Collector.CollectorSource = sweepv1alpha1.CollectorSource{Source: sweepv1alpha1.SourceDrill}
			tr.Status = sweepv1alpha1.TestingRoundStatus{
				Phase:     sweepv1alpha1.RoundRunning,
				Buildings: sweepv1alpha1.BuildingCounts{Total: 4, Active: 4},
				Residents: sweepv1alpha1.ResidentCounts{Expected: 400, Outstanding: 400},
				Tubes:     sweepv1alpha1.TubeCounts{Forecast: 40},
				Supplies:  sweepv1alpha1.Supplies{Forecast: sweepv1alpha1.SupplyCounts{Tubes: 44, Swabs: 440, TubeBags: 1}},
				StartTime: cst(t, "09:00"),
			}
		}},
		{nangang, "nangang-1203", cst(t, "06:00"), func(tr *sweepv1alpha1.TestingRound) {
			tr.Status = sweepv1alpha1.TestingRoundStatus{
				Phase:     sweepv1alpha1.RoundDeadlineExceeded,
				Buildings: sweepv1alpha1.BuildingCounts{Total: 40, Completed: 38, Expired: 2},
				Residents: sweepv1alpha1.ResidentCounts{Expected: 5210, Sampled: 5104, Missed: 106, Exempt: 83, HomeVisited: 58,
					MissedByReason: sweepv1alpha1.MissedReasonTotals{NotHome: 61, Refused: 9, Away: 14, InHospital: 3, MovedOut: 6, Vacant: 4, Unreachable: 5, Unknown: 4}},
				Tubes:          sweepv1alpha1.TubeCounts{Forecast: 522, Used: 517},
				Supplies:       sweepv1alpha1.Supplies{Forecast: sweepv1alpha1.SupplyCounts{Tubes: 574, Swabs: 5731, TubeBags: 12}, Used: sweepv1alpha1.SupplyCounts{Tubes: 517, Swabs: 5104, TubeBags: 11}},
				StartTime:      cst(t, "06:00"),
				CompletionTime: cst(t, "18:00"),
			}
		}},
		// The day before, in Nangang; two days before, in Xiangfang: not
		// rounds of the report's day.
		{nangang, "nangang-1202", &metav1.Time{Time: cst(t, "06:00").Add(-24 * time.Hour)}, nil},
		{xiangfang, "xiangfang-1201", &metav1.Time{Time: cst(t, "06:00").Add(-48 * time.Hour)}, nil},
	} {
		tr := testobjects.Round(rs.ns, rs.name).Start(rs.start.Time).Deadline(rs.start.Add(12 * time.Hour)).
			Collector(httpSource).Obj()
		if rs.mut != nil {
			rs.mut(tr)
		}
		st := tr.Status
		if err := k8s.Create(ctx, tr); err != nil {
			return err
		}
		tr.Status = st
		if err := k8s.Status().Update(ctx, tr); err != nil {
			return err
		}
	}
	return nil
}

// reportNow is when the report is printed in the golden files: 15:00 in
// Harbin, so Daoli's oldest open pool has waited 1h20m.
func reportNow(t *testing.T) *time.Time {
	return &cst(t, "15:00").Time
}

func TestReportOutputs(t *testing.T) {
	reportCity(t)
	args := []string{"report", "--date", reportDate, "--time-zone", "Asia/Shanghai", "--districts", strings.Join([]string{daoli, nangang, xiangfang}, ",")}
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"report_table.golden", nil},
		{"report_csv.golden", []string{"-o", "csv"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			out, stderr, err := sweepAt(t, reportNow(t), adminConf, append(args, tc.args...)...)
			if err != nil || stderr != "" {
				t.Fatalf("%v %s", err, stderr)
			}
			golden(t, tc.golden, out)
		})
	}

	// The CSV's figures are the rounds' status, and its reasons add up to
	// missed.
	out, _, _ := sweepAt(t, reportNow(t), adminConf, append(args, "-o", "csv")...)
	rows := readCSV(t, out)
	if len(rows) != 4 {
		t.Fatalf("want 3 rounds and Xiangfang without one, got %d rows:\n%s", len(rows), out)
	}
	for _, row := range rows {
		if row["round"] == "" {
			continue
		}
		sum := 0
		for _, r := range sweepv1alpha1.MissedReasons {
			sum += atoi(t, row["missed_"+strings.ReplaceAll(string(r), "-", "_")])
		}
		if sum != atoi(t, row["missed"]) {
			t.Errorf("%s: reasons add up to %d, missed is %s", row["round"], sum, row["missed"])
		}
	}

	// -n picks one district, as in every kubectl command.
	out, _, err := sweepAt(t, reportNow(t), adminConf, "report", "--date", reportDate, "--time-zone", "Asia/Shanghai", "-n", nangang, "-o", "csv")
	if err != nil {
		t.Fatal(err)
	}
	if rows := readCSV(t, out); len(rows) != 1 || rows[0]["round"] != "nangang-1203" {
		t.Errorf("-n %s: %v", nangang, rows)
	}
	// The day before has Nangang's round of that day only.
	out, _, _ = sweepAt(t, reportNow(t), adminConf, "report", "--date", "2026-12-02", "--time-zone", "Asia/Shanghai", "--districts", nangang+","+daoli)
	if !strings.Contains(out, "nangang-1202") || strings.Contains(out, "nangang-1203") || !strings.Contains(out, "No round that day: "+daoli) {
		t.Errorf("report of 2026-12-02:\n%s", out)
	}

	for _, bad := range []struct{ args []string }{
		{[]string{"--date", "3.12.2026"}},
		{[]string{"--time-zone", "Asia/Harbin-Daoli"}},
		{[]string{"-o", "json"}},
		{[]string{"today"}},
	} {
		_, _, err := sweep(t, adminConf, append([]string{"report"}, bad.args...)...)
		if err == nil || !strings.Contains(err.Error(), bad.args[0]) {
			t.Errorf("report %v: %v, want an error naming %s", bad.args, err, bad.args[0])
		}
	}
}

// Without --date the report is of today, in the time zone given.
func TestReportDefaultsToToday(t *testing.T) {
	const ns = "rpt-today"
	createNamespace(t, ns)
	ctx := context.Background()
	now := time.Now()
	tr := testobjects.Round(ns, "now").Start(now).Deadline(now.Add(12 * time.Hour)).Drill().Obj()
	if err := k8s.Create(ctx, tr); err != nil {
		t.Fatal(err)
	}
	for _, zone := range []string{"Local", "Pacific/Kiritimati", "Pacific/Pago_Pago"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := sweep(t, adminConf, "report", "--districts", ns, "--time-zone", zone, "-o", "csv")
		if err != nil {
			t.Fatal(err)
		}
		rows := readCSV(t, out)
		if len(rows) != 1 || rows[0]["round"] != "now" || rows[0]["date"] != now.In(loc).Format("2006-01-02") {
			t.Errorf("--time-zone %s: want today's round, got %v", zone, rows)
		}
	}
}

// A district's ops team, or a commander with access to some districts
// only, gets the report of those: the namespaces it may not read are
// skipped, and the report says which districts it asked for but may not
// read.
func TestReportForACallerWhoMayReadSomeDistricts(t *testing.T) {
	reportCity(t)
	ctx := context.Background()
	reader := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "sweep-report-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{sweepv1alpha1.GroupVersion.Group},
			Resources: []string{"testingrounds", "testingschedules"}, Verbs: []string{"get", "list"}}},
	}
	lister := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "namespace-lister"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list"}}},
	}
	for _, o := range []*rbacv1.ClusterRole{reader, lister} {
		if err := k8s.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	user := func(name string) rbacv1.Subject {
		return rbacv1.Subject{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: name}
	}
	// Two users may read Daoli's and Nangang's rounds; only the first may
	// list namespaces.
	for _, ns := range []string{daoli, nangang} {
		if err := k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "report"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: reader.Name},
			Subjects:   []rbacv1.Subject{user("songbei-office"), user("hulan-office")},
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := k8s.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "songbei-office-lists-namespaces"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: lister.Name},
		Subjects:   []rbacv1.Subject{user("songbei-office")},
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	songbei, err := writeKubeconfig(dir, envtest.User{Name: "songbei-office"})
	if err != nil {
		t.Fatal(err)
	}
	hulan, err := writeKubeconfig(dir, envtest.User{Name: "hulan-office"})
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "report_csv.golden"))
	if err != nil {
		t.Fatal(err)
	}
	// The admin's CSV but Xiangfang's row, which this user may not read.
	var wantLines []string
	for _, l := range strings.SplitAfter(string(want), "\n") {
		if !strings.Contains(l, ","+xiangfang+",") {
			wantLines = append(wantLines, l)
		}
	}

	// Listing rounds across namespaces is forbidden; namespace by namespace
	// finds the two districts.
	out, stderr, err := sweepAt(t, reportNow(t), songbei, "report", "--date", reportDate, "--time-zone", "Asia/Shanghai", "-o", "csv")
	if err != nil {
		t.Fatal(err)
	}
	if out != strings.Join(wantLines, "") {
		t.Errorf("report of the districts the user may read:\n%s\nwant:\n%s", out, strings.Join(wantLines, ""))
	}
	if !strings.Contains(stderr, "namespaces whose rounds you may not list") || !strings.Contains(stderr, xiangfang) {
		t.Errorf("the skipped namespaces are not noted: %q", stderr)
	}

	// Without list on namespaces, the user names its districts; one it may
	// not read is in the report as such.
	if _, _, err := sweep(t, hulan, "report", "--date", reportDate); err == nil || !strings.Contains(err.Error(), "--districts") {
		t.Errorf("without list on namespaces: %v, want an error pointing to --districts", err)
	}
	out, _, err = sweepAt(t, reportNow(t), hulan, "report", "--date", reportDate, "--time-zone", "Asia/Shanghai", "--districts", daoli+","+xiangfang)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"daoli-daily-202612030600", "Not readable (you may not list their rounds): " + xiangfang} {
		if !strings.Contains(out, s) {
			t.Errorf("report lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "nangang") {
		t.Errorf("a district not asked for is in the report:\n%s", out)
	}

	// A city command centre that may read everything lists every round at
	// once and finds every district, Xiangfang without a round included.
	out, _, err = sweepAt(t, reportNow(t), adminConf, "report", "--date", reportDate, "--time-zone", "Asia/Shanghai", "-o", "csv")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, row := range readCSV(t, out) {
		seen[row["district"]] += row["round"] + row["phase"] + ";"
	}
	if seen[daoli] != "daoli-daily-202612030600Running;daoli-drillRunning;" || seen[nangang] != "nangang-1203DeadlineExceeded;" || seen[xiangfang] != "NoRound;" {
		t.Errorf("cluster-wide report: %v", seen)
	}
}

// readCSV reads the report's CSV into rows by column name.
func readCSV(t *testing.T, s string) []map[string]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("csv: %v\n%s", err, s)
	}
	var out []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = rec[i]
		}
		out = append(out, row)
	}
	return out
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("%q is not a count", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}
