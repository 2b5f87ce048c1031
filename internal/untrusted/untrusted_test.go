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

package untrusted

import (
	"fmt"
	"strings"
	"testing"
)

func TestSnippetMasksTheTokenAcrossTheCut(t *testing.T) {
	token := "s3cr3t-t0ken"
	// The token straddles the 200th character: cutting first would leave
	// half of it in the message.
	body := []byte(strings.Repeat("x", snippetLength-5) + token + "\n\ttail")
	got := Snippet(body, token)
	if strings.Contains(got, token[:4]) {
		t.Fatalf("Snippet = %q: holds the start of the token", got)
	}
	if len(got) > snippetLength {
		t.Fatalf("Snippet is %d characters, want at most %d", len(got), snippetLength)
	}
	if got := Snippet([]byte(" \n "), token); got != "(empty body)" {
		t.Fatalf("Snippet of blanks = %q", got)
	}
}

func TestDescribeBodyNeverQuotesIt(t *testing.T) {
	for body, want := range map[string]string{
		"":                        "empty",
		`"Zhang San 13800138000"`: "JSON, a string",
		`[1,2]`:                   "JSON, a list",
		"<html>Zhang San</html>":  "not JSON, looks like an HTML or XML page",
		"Zhang San":               "not JSON",
	} {
		if got := DescribeBody([]byte(body)); got != want {
			t.Errorf("DescribeBody(%q) = %q, want %q", body, got, want)
		}
	}
}

func TestLineProblemsListsTwentyThenCounts(t *testing.T) {
	p := NewLineProblems("ConfigMap d/visits.csv")
	if p.Err() != nil || !p.Empty() {
		t.Fatal("a new LineProblems has a problem")
	}
	for line := 1; line <= 23; line++ {
		p.Add(line, fmt.Sprintf(", column household: bad %d", line))
	}
	err := p.Err().Error()
	if !strings.HasPrefix(err, "ConfigMap d/visits.csv line 1, column household: bad 1; ") ||
		!strings.Contains(err, "line 20, column household: bad 20; and 3 more bad lines") || strings.Contains(err, "line 21") {
		t.Fatalf("Err = %q", err)
	}
	if p.Err().Error() != err {
		t.Fatal("Err changes what it reports when called twice")
	}
}
