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
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// header is the header TestSoak (test/e2e/soak_test.go, soakWrite) writes.
const header = "seconds,heap_inuse_bytes,rss_bytes,goroutines,open_fds,rounds,collection_jobs,visit_jobs,rounds_completed\n"

func TestDrawsTheSoakCSVAsAPNG(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "soak.csv"), filepath.Join(dir, "soak.png")
	csv := header
	for _, row := range []string{
		"0.1,8536064,75530240,123,13,0,0,0,0",
		"10.0,9536064,76530240,130,13,1,24,0,0",
		"20.0,10536064,77530240,131,14,1,24,3,0",
		"30.0,10036064,77030240,129,13,2,48,3,1",
		"40.0,10236064,77130240,128,13,2,48,0,1",
		"50.0,10136064,77230240,130,13,2,48,0,2",
	} {
		csv += row + "\n"
	}
	if err := os.WriteFile(in, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(in, out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", out, err)
	}
	if b := img.Bounds(); b.Dx() >= b.Dy() || b.Dx() < 500 {
		t.Errorf("the chart is %dx%d pixels, want four panels stacked on a page at least 500 wide", b.Dx(), b.Dy())
	}
}

func TestRefusesACSVWithoutAColumnItDraws(t *testing.T) {
	in := strings.Replace(header, "rss_bytes", "rss", 1) + "0.1,1,2,3,4,0,0,0,0\n10,1,2,3,4,0,0,0,0\n20,1,2,3,4,0,0,0,0\n"
	_, err := read(strings.NewReader(in))
	if err == nil || !strings.Contains(err.Error(), `"rss_bytes"`) {
		t.Errorf("read of a CSV without rss_bytes: %v, want an error naming the column", err)
	}
}
