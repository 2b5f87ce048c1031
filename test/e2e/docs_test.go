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

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
	"github.com/masstesting/sweep/internal/lab"
	"github.com/masstesting/sweep/internal/round"
	"github.com/masstesting/sweep/internal/testobjects"
)

// The docs' placeholders and what they stand for here: the round and the
// district the docs' examples use (docs/operations.md), which the test
// creates before running anything.
const (
	docsNamespace = "pingfang"
	docsRound     = "baoguo-daily-202611270600"
)

// docsPlaceholders is the one table of the docs' placeholders: job is the
// CollectionJob the test creates for the docs' round, activeJob the visit
// Job it names, pool a PositivePool of the round and retestJob its retest.
// A placeholder left unfilled fails the test.
func docsPlaceholders(job, activeJob, pool, retestJob string) *strings.Replacer {
	return strings.NewReplacer(
		"$NS", docsNamespace,
		"$ROUND", docsRound,
		"<namespace of the round>", docsNamespace,
		"<namespace>", docsNamespace,
		"<round>", docsRound,
		"<job>", job,
		"<activeJob>", activeJob,
		"<pool>", pool,
		"<retestJob>", retestJob,
	)
}

// unfilled finds a placeholder the table does not fill.
var unfilled = regexp.MustCompile(`<[A-Za-z][^<>]*>`)

// Markers the docs carry for commands this test must treat differently;
// they are visible in the docs on purpose, so a reader sees the exception.
const (
	// On a command line (as a shell comment), or on the line before a
	// fenced block for all of its commands: the command is not run.
	markerNotRun = "not run by TestDocsKubectlCommands"
	// On the line before a fenced block: its commands show a refusal, and
	// must exit non-zero.
	markerFails = "TestDocsKubectlCommands: exits non-zero"
)

// docCommand is one kubectl command of the docs, as written.
type docCommand struct {
	file   string // relative to the repository
	line   int
	text   string // continuation lines joined
	fails  bool
	inline bool // a code span in prose, not a line of a fenced block
}

func (c docCommand) String() string { return c.file + ":" + strconv.Itoa(c.line) + ": " + c.text }

// docsCommands returns every kubectl command (kubectl sweep included) in
// the fenced code blocks of path, in document order, without the ones
// marked not run. A console block's commands are its `$ ` lines; a shell
// block's are its lines that start with kubectl.
func docsCommands(t *testing.T, rel string) []docCommand {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	out := docsSpans(rel, lines)
	inBlock, console, blockNotRun, blockFails := false, false, false, false
	var cur *docCommand // a command continued with a trailing backslash
	continued := false  // the previous line (of any command) ended in a backslash
	for i, l := range lines {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "```") {
			if !inBlock {
				console = strings.TrimPrefix(trimmed, "```") == "console"
				prev := ""
				if i > 0 {
					prev = lines[i-1]
				}
				blockNotRun = strings.Contains(prev, markerNotRun)
				blockFails = strings.Contains(prev, markerFails)
			}
			inBlock, cur, continued = !inBlock, nil, false
			continue
		}
		if !inBlock {
			continue
		}
		wasContinued := continued
		continued = strings.HasSuffix(trimmed, `\`)
		if wasContinued {
			if cur != nil {
				cur.text += " " + strings.TrimSuffix(trimmed, `\`)
			}
			continue
		}
		cur = nil
		cmd := trimmed
		if console {
			if !strings.HasPrefix(cmd, "$ ") {
				continue
			}
			cmd = strings.TrimPrefix(cmd, "$ ")
		}
		if !strings.HasPrefix(cmd, "kubectl ") || blockNotRun || strings.Contains(cmd, markerNotRun) {
			continue
		}
		out = append(out, docCommand{file: rel, line: i + 1, text: strings.TrimSuffix(cmd, `\`), fails: blockFails})
		cur = &out[len(out)-1]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}

// codeSpan is a markdown code span; its text may wrap across lines of the
// source.
var codeSpan = regexp.MustCompile("`([^`]+)`")

// notRunAfter matches the marker of a span not run: an HTML comment right
// after the span's closing backtick (blanks and line ends between).
var notRunAfter = regexp.MustCompile(`^\s*<!--\s*` + markerNotRun + `:[^>]+-->`)

// docsSpans returns the kubectl commands written as code spans in the prose
// of a file's lines (outside fenced blocks): every span that starts with
// "kubectl ", its line ends joined with a blank as markdown renders them,
// but for syntax and for spans marked not run. A span is syntax, not a
// command, when it is kubectl and one word (`kubectl apply`, `kubectl
// explain`: the name of a command, in a sentence about it) or shows a
// grammar (`...`, `<command>`); every other span runs. A span is marked not
// run by `<!-- not run by TestDocsKubectlCommands: <reason> -->` right after
// it.
func docsSpans(rel string, lines []string) []docCommand {
	prose := make([]string, len(lines))
	inBlock := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			prose[i] = l
		}
	}
	text := strings.Join(prose, "\n")
	var out []docCommand
	for _, m := range codeSpan.FindAllStringSubmatchIndex(text, -1) {
		span := strings.Join(strings.Fields(text[m[2]:m[3]]), " ")
		if !strings.HasPrefix(span, "kubectl ") || notRunAfter.MatchString(text[m[1]:]) {
			continue
		}
		if len(strings.Fields(span)) < 3 || strings.Contains(span, "...") || strings.Contains(span, "<command>") {
			continue
		}
		out = append(out, docCommand{file: rel, line: strings.Count(text[:m[0]], "\n") + 1, text: span, inline: true})
	}
	return out
}

// TestDocsKubectlCommands runs every kubectl command of README.md and
// docs/*.md against a local cluster, as written but for the placeholders
// (docsPlaceholders), each file's commands in document order (commands
// that delete Sweep's CRDs after all others): the lines of fenced blocks
// (docsCommands) and the code spans of prose and tables that start with
// "kubectl " (docsSpans, which says which spans are syntax rather than
// commands), in a kubeconfig whose context names the district's namespace,
// as the docs assume for commands without -n. A command marked
// `not run by TestDocsKubectlCommands: <reason>` is one the local cluster
// cannot answer (a pod's log: kwok runs no containers) or one quoted as a
// mistake. A command
// that the docs give and that fails, or a Sweep short name that kubectl
// resolves to another resource, is a wrong instruction in the middle of an
// alert. Every `kubectl get` must also list at least one object, and only
// Sweep's when it names Sweep's resources, since `kubectl get cj` answered
// "No resources found" with exit 0 when `cj` meant CronJob.
func TestDocsKubectlCommands(t *testing.T) {
	cl := startCluster(t, nil)
	ctx := context.Background()

	// What the docs' examples name: the district's namespace with one
	// Baoguo building, the daily round of 27 November with that building's
	// CollectionJob, finished (so that `sweep status --watch` returns).
	cl.namespace(t, docsNamespace)
	cl.namespace(t, "baicheng")
	b := testobjects.Building(docsNamespace, "hangxing-1").Label(sweepv1alpha1.LabelStreet, "baoguo").
		Label(sweepv1alpha1.LabelCommunity, "hangxing").Households(132).Residents(377).HomeVisit(13).Layout(6, 11).Obj()
	if err := cl.c.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	var r sweepv1alpha1.TestingRound
	sample, err := os.ReadFile(filepath.Join(root, "config", "samples", "sweep_v1alpha1_testinground.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(sample, &r); err != nil {
		t.Fatal(err)
	}
	r.Name, r.Namespace = docsRound, docsNamespace
	// A lab, as the runbook's lab alerts assume (nothing polls it here).
	r.Spec.Lab = &sweepv1alpha1.LabSpec{Source: sweepv1alpha1.SourceDrill}
	if err := cl.c.Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	job := round.NewJob(&r, b)
	if err := cl.c.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	// The job's visit under way (a stand-in for the visit Job the job
	// executor creates, run by kwok) and the collector's ServiceAccount
	// the executor creates in the round's namespace.
	activeJob := job.Name + "-v1"
	visit := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: docsNamespace, Name: activeJob},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "collect", Image: "sweep:docs"}},
		}}},
	}
	if err := cl.c.Create(ctx, visit); err != nil {
		t.Fatal(err)
	}
	if err := cl.c.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: docsNamespace, Name: "sweep-collector"}}); err != nil {
		t.Fatal(err)
	}
	job.Status.Phase = sweepv1alpha1.JobActive
	job.Status.ActiveJob = activeJob
	if err := cl.c.Status().Update(ctx, job); err != nil {
		t.Fatal(err)
	}
	// A positive pool of the round and its retest, as the lab controller
	// records them, and the events of the lab's follow-up the runbook
	// searches for (the manager is not running here to record them).
	pool := lab.NewPool(&r, lab.TubeResult{Tube: "HB20261126-0418", Building: b.Name, Kind: lab.Pooled, Positive: true,
		ResultTime: time.Date(2026, 11, 27, 2, 5, 0, 0, time.UTC), Swabs: 3, Households: []string{"2-1203", "2-1204", "3-0401"}})
	if err := cl.c.Create(ctx, pool); err != nil {
		t.Fatal(err)
	}
	retest := lab.NewRetest(&r, pool, job)
	if err := cl.c.Create(ctx, retest); err != nil {
		t.Fatal(err)
	}
	for i, ev := range []struct {
		about  corev1.ObjectReference
		reason string
	}{
		{corev1.ObjectReference{Kind: "PositivePool", APIVersion: sweepv1alpha1.GroupVersion.String(), Namespace: docsNamespace, Name: pool.Name, UID: pool.UID}, "RetestStarted"},
		{corev1.ObjectReference{Kind: "TestingRound", APIVersion: sweepv1alpha1.GroupVersion.String(), Namespace: docsNamespace, Name: r.Name, UID: r.UID}, "LabUnavailable"},
		{corev1.ObjectReference{Kind: "TestingRound", APIVersion: sweepv1alpha1.GroupVersion.String(), Namespace: docsNamespace, Name: r.Name, UID: r.UID}, "LabResultIgnored"},
	} {
		e := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: docsNamespace, Name: fmt.Sprintf("docs-%d", i)},
			InvolvedObject: ev.about, Reason: ev.reason, Type: corev1.EventTypeNormal, Message: "as the docs show", Count: 1,
			FirstTimestamp: metav1.Now(), LastTimestamp: metav1.Now(), Source: corev1.EventSource{Component: "docs-test"}}
		if err := cl.c.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	placeholders := docsPlaceholders(job.Name, activeJob, pool.Name, retest.Name)
	r.Status.Phase = sweepv1alpha1.RoundCompleted
	if err := cl.c.Status().Update(ctx, &r); err != nil {
		t.Fatal(err)
	}

	// The files the docs' commands read, in the directory they run in.
	work := t.TempDir()
	schedule := docsBlock(t, "docs/operations.md", "yaml", "name: baoguo-daily")
	for name, content := range map[string]string{
		"ledger.csv": "building,street,community,residents,households\n" +
			"xinjiang-1,baoguo,xinjiang,106,40\nxinjiang-2,baoguo,xinjiang,120,48\n" +
			"xinjiang-3,baoguo,xinjiang,56,20\nxinjiang-4,baoguo,xinjiang,63,24\n",
		"ledger_bad.csv": "building,community,residents,exempt,control_level\n" +
			"anju-1,anju,300,0,Precaution\nanju-2,anju,four hundred,0,Precaution\n" +
			"anju-3,安居,300,0,Precaution\nanju-4,anju,300,301,Precaution\n" +
			"anju-5,anju,300,0,Lockdown\nanju-1,anju,300,0,Precaution\n",
		"samples.csv":       "building,unit_room,sampled\nhangxing-1,1-101,2\n",
		"baoguo-daily.yaml": schedule,
		// The lab's result list of docs/lab-api.md, as its example gives it.
		"results.csv": docsBlock(t, "docs/lab-api.md", "csv", "tube,building,kind"),
	} {
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The repository's files the docs name, as from its root.
	if err := os.Symlink(filepath.Join(root, "charts"), filepath.Join(work, "charts")); err != nil {
		t.Fatal(err)
	}
	// The reader's context names the district's namespace: commands without
	// -n use it (docs/operations.md).
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if data, err := os.ReadFile(cl.kubeconfig); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(kubeconfig, data, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, filepath.Join(k8sBin, "kubectl"), "--kubeconfig", kubeconfig, "config", "set-context", "--current", "--namespace", docsNamespace)
	// The docs' schedule, which README.md and docs/collection.md list
	// before docs/operations.md applies it.
	run(t, filepath.Join(k8sBin, "kubectl"), "--kubeconfig", kubeconfig, "apply", "-f", filepath.Join(work, "baoguo-daily.yaml"))
	// kubectl finds `kubectl sweep` as kubectl-sweep on the PATH.
	pathDir := t.TempDir()
	if err := os.Symlink(sweepBin, filepath.Join(pathDir, "kubectl-sweep")); err != nil {
		t.Fatal(err)
	}
	// A cache of its own: kubectl caches discovery by server address, and
	// another cluster on the same port may have served other Sweep kinds.
	env := append(os.Environ(), "KUBECONFIG="+kubeconfig, "KUBECACHEDIR="+t.TempDir(), "PATH="+pathDir+":"+k8sBin+":"+os.Getenv("PATH"))
	sh := func(text string) (string, error) {
		// A shell, since the docs pipe and redirect.
		cmd := exec.Command("bash", "-o", "pipefail", "-c", text)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	sweepWords, sweepPlurals := sweepResourceWords(t, cl)
	files := []string{"README.md"}
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	for _, d := range docs {
		files = append(files, filepath.Join("docs", filepath.Base(d)))
	}
	sort.Strings(files[1:])
	// Each file's commands in document order, but commands that delete
	// Sweep's CRDs last: they delete everything the others read.
	var commands, last []docCommand
	for _, f := range files {
		for _, c := range docsCommands(t, f) {
			if strings.HasPrefix(c.text, "kubectl delete crd") {
				last = append(last, c)
			} else {
				commands = append(commands, c)
			}
		}
	}
	ran, inline := 0, 0
	for _, c := range append(commands, last...) {
		text := placeholders.Replace(withoutComment(c.text))
		if p := unfilled.FindString(text); p != "" {
			t.Errorf("%s: %s is not in the test's table of placeholders (docsPlaceholders)", c, p)
			continue
		}
		out, err := sh(text)
		if c.inline {
			inline++
		}
		result := "ok"
		if err != nil {
			result = err.Error()
		}
		t.Logf("%s: %s", c, result)
		ran++
		switch {
		case c.fails && err == nil:
			t.Errorf("%s: the docs show it refused, it exited 0:\n%s", c, out)
			continue
		case c.fails:
			continue
		case err != nil:
			t.Errorf("%s: %v\n%s", c, err, out)
			continue
		}
		resource, ok := getResource(text)
		if !ok {
			continue
		}
		names, err := sh(text + " -o name")
		if err != nil {
			t.Errorf("%s: with -o name: %v\n%s", c, err, names)
			continue
		}
		listed := strings.Fields(names)
		if len(listed) == 0 {
			t.Errorf("%s: lists no object (the test created what the docs name; does %q mean another resource?):\n%s", c, resource, out)
			continue
		}
		if !allSweep(resource, sweepWords) {
			continue
		}
		for _, n := range listed {
			if !sweepPlurals.MatchString(n) {
				t.Errorf("%s: lists %s, not a Sweep object: %q names another resource for kubectl", c, n, resource)
			}
		}
	}
	t.Logf("ran %d kubectl commands (%d inline) from %d files", ran, inline, len(files))
	if ran < 15 || inline < 25 {
		t.Errorf("ran %d commands from the docs, %d of them inline: the extraction missed some?", ran, inline)
	}
}

// docsBlock returns the fenced block in lang of rel that contains marker:
// a file the docs tell the reader to save and apply.
func docsBlock(t *testing.T, rel, lang, marker string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range strings.Split(string(data), "```"+lang+"\n")[1:] {
		block = strings.SplitN(block, "```", 2)[0]
		if strings.Contains(block, marker) {
			return block
		}
	}
	t.Fatalf("%s has no %s block with %q", rel, lang, marker)
	return ""
}

// sweepResourceWords reads from the cluster's discovery every word kubectl
// resolves to a Sweep resource (plural, singular, short names, categories),
// and a pattern for the names `-o name` prints for Sweep objects.
func sweepResourceWords(t *testing.T, cl *cluster) (map[string]bool, *regexp.Regexp) {
	t.Helper()
	list, err := cl.cs.Discovery().ServerResourcesForGroupVersion(sweepv1alpha1.GroupVersion.String())
	if err != nil {
		t.Fatal(err)
	}
	words := map[string]bool{}
	for _, r := range list.APIResources {
		if strings.Contains(r.Name, "/") {
			continue
		}
		for _, w := range append(append([]string{r.Name, r.SingularName}, r.ShortNames...), r.Categories...) {
			words[w] = true
		}
	}
	return words, regexp.MustCompile(`^[a-z]+\.` + regexp.QuoteMeta(sweepv1alpha1.GroupVersion.Group) + `/`)
}

// getResource returns the resource argument of a plain `kubectl get`
// (no pipe, no redirect), such as "round" or "job,pod".
func getResource(cmd string) (string, bool) {
	if strings.ContainsAny(cmd, "|>") {
		return "", false
	}
	f := strings.Fields(cmd)
	if len(f) < 3 || f[0] != "kubectl" || f[1] != "get" {
		return "", false
	}
	for i := 2; i < len(f); i++ {
		switch {
		case f[i] == "-n" || f[i] == "-l" || f[i] == "-o" || f[i] == "--namespace" || f[i] == "--selector":
			i++ // the flag's value
		case strings.HasPrefix(f[i], "-"):
		default:
			return f[i], true
		}
	}
	return "", false
}

// withoutComment cuts a shell comment off cmd (a `#` after a blank,
// outside quotes), so that flags can be appended.
func withoutComment(cmd string) string {
	var quote rune
	for i, r := range cmd {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '#' && i > 0 && (cmd[i-1] == ' ' || cmd[i-1] == '\t'):
			return strings.TrimSpace(cmd[:i])
		}
	}
	return cmd
}

// allSweep says whether every resource in a comma-separated list is one
// of Sweep's words.
func allSweep(resource string, words map[string]bool) bool {
	for _, r := range strings.Split(resource, ",") {
		if !words[r] {
			return false
		}
	}
	return true
}
