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
	"encoding/json"
	"strings"
	"testing"
)

// maxErrorLen bounds a source's error message: it becomes the message of
// a condition and an event.
const maxErrorLen = 4096

// fuzzCanaries are resident data a lab answer may carry; no error and no
// result may repeat them. The labtest package has the same canaries for
// tests outside this package.
var fuzzCanaries = []string{"张三CANARY", "230102199001011234", "13800138000"}

// checkResults checks what a source accepted: every result passes Check,
// and Problem against a round holding its building, so the controller can
// take it; nothing of a canary is in it unless the canary is a valid id
// the lab chose to put in an id field.
func checkResults(t *testing.T, results []TubeResult) {
	t.Helper()
	for _, r := range results {
		if p := Check(r); p != nil {
			t.Fatalf("accepted result %+v fails Check: %s", r, p)
		}
		if p := Problem(r, map[string]bool{r.Building: true}); p != "" {
			t.Fatalf("accepted result %+v fails Problem: %s", r, p)
		}
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), "张三") {
			t.Fatalf("accepted result carries a name: %s", b)
		}
	}
}

func checkError(t *testing.T, err error, data []byte, mustName ...string) {
	t.Helper()
	msg := err.Error()
	if len(msg) > maxErrorLen {
		t.Fatalf("error is %d bytes long, more than %d", len(msg), maxErrorLen)
	}
	named := false
	for _, s := range mustName {
		named = named || strings.Contains(msg, s)
	}
	if !named {
		t.Fatalf("error %q names none of %q", msg, mustName)
	}
	for _, c := range fuzzCanaries {
		if strings.Contains(string(data), c) && strings.Contains(msg, c) {
			t.Fatalf("error repeats resident data %q: %s", c, msg)
		}
	}
}

func FuzzParseCSV(f *testing.F) {
	f.Add([]byte(goodCSV))
	f.Add([]byte("tube,building,kind,positive,result_time,name,id_number,phone\nP-1,b-1,pooled,false,2026-11-26T18:05:00Z,张三CANARY,230102199001011234,13800138000\n"))
	f.Add([]byte("tube,building,kind,positive,result_time,swabs,households\nP-1,b-1,pooled,true,2026-11-26T18:05:00Z,13800138000,张三CANARY\n"))
	f.Add([]byte("张三CANARY,13800138000\n"))
	f.Add([]byte("tube,building,kind,positive,result_time,pool,household\nS-1,b-1,single,true,2026-11-26T18:05:00Z,P-1,230102199001011234X\n"))
	f.Add([]byte("tube,building,kind,positive,result_time\nP-1,b-1,pooled,false,2026-11-26T18:05:00Z\nP-\"2,b-1\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		results, err := ParseCSV(data, "results.csv")
		if err != nil {
			// Every error points into the file.
			checkError(t, err, data, "results.csv line ", "results.csv is larger than")
			return
		}
		checkResults(t, results)
	})
}

func FuzzDecodePage(f *testing.F) {
	f.Add([]byte(goodPage), "")
	f.Add([]byte(`{"results":[{"tube":"P-1","building":"b-1","kind":"pooled","positive":false,"resultTime":"2026-11-26T18:05:00Z","name":"张三CANARY","idNumber":"230102199001011234","phone":"13800138000"}],"patients":[{"name":"张三CANARY"}]}`), "")
	f.Add([]byte(`{"results":[{"tube":"张三CANARY","building":"b-1","kind":"pooled","positive":false,"resultTime":"2026-11-26T18:05:00Z"}]}`), "")
	f.Add([]byte(`{"results":[{"tube":"P-1","building":"b-1","kind":"pooled","positive":true,"resultTime":"2026-11-26T18:05:00Z","swabs":13800138000,"households":["张三CANARY"]}]}`), "")
	f.Add([]byte(`{"results":[{"tube":"S-1","building":"b-1","kind":"single","positive":true,"resultTime":"2026-11-26T18:05:00Z","pool":"P-1","household":230102199001011234}]}`), "c-1")
	f.Add([]byte(`{"results":[],"next":"张三CANARY","more":true}`), "c-1")
	f.Add([]byte(`13800138000`), "")
	f.Add([]byte(`null`), "")
	f.Fuzz(func(t *testing.T, body []byte, cursor string) {
		if !validCursor(cursor) {
			return // the source refuses such a cursor before asking
		}
		page, err := DecodePage(body, cursor, MaxPage)
		if err != nil {
			checkError(t, err, body, "field ", "not a JSON object")
			return
		}
		checkResults(t, page.Results)
		if len(page.Results) > MaxPage || !validCursor(page.Next) || (page.More && (len(page.Results) == 0 || page.Next == cursor)) {
			t.Fatalf("page %+v after cursor %q", page, cursor)
		}
	})
}
