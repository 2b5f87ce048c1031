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
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const testVersion = "v1.2.3"

// packed packs stand-in binaries for every platform with the real template
// and returns the dist directory and the LICENSE's path.
func packed(t *testing.T) (string, string) {
	t.Helper()
	dist := t.TempDir()
	license := filepath.Join(dist, "LICENSE.src")
	if err := os.WriteFile(license, []byte("license text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range Platforms {
		p, _ := newPlatform(s)
		if err := os.MkdirAll(p.dir(dist), 0o755); err != nil {
			t.Fatal(err)
		}
		bin := "binary for " + s
		if s == runtime.GOOS+"/"+runtime.GOARCH {
			// The host's stands in for sweep when run: `version`.
			bin = "#!/bin/sh\necho " + testVersion + "\n"
		}
		if err := os.WriteFile(filepath.Join(p.dir(dist), p.Bin), []byte(bin), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := pack(dist, testVersion, license, "sweep.yaml.tmpl", Platforms); err != nil {
		t.Fatal(err)
	}
	return dist, license
}

func checkErr(dist, license string) error {
	return checker{dist: dist, version: testVersion, license: license, platforms: Platforms, log: io.Discard}.check()
}

// The full manifest, every platform of Platforms, from the real template:
// with SWEEP_KREW_VALIDATOR, SWEEP_KREW and SWEEP_KUBECTL set (`make
// plugin-check` sets them) krew's validator checks it, krew installs every
// platform's archive and kubectl runs the host's as `kubectl sweep version`.
// `make plugin-check` builds the real binaries for fewer platforms
// (PLUGIN_CHECK_PLATFORMS); this is where the full manifest is validated.
func TestPackThenCheck(t *testing.T) {
	dist, license := packed(t)
	var log bytes.Buffer
	c := checker{dist: dist, version: testVersion, license: license, platforms: Platforms, log: &log,
		validator: os.Getenv("SWEEP_KREW_VALIDATOR"), krew: os.Getenv("SWEEP_KREW"), kubectl: os.Getenv("SWEEP_KUBECTL")}
	if c.validator == "" || c.krew == "" {
		t.Log("SWEEP_KREW_VALIDATOR or SWEEP_KREW unset: checking without krew's validator or krew install")
	}
	if err := c.check(); err != nil {
		t.Fatal(err)
	}
	t.Log(log.String())
	m, err := readManifest(filepath.Join(dist, manifestName))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Spec.Platforms) != len(Platforms) || m.Spec.Platforms[4].Bin != "kubectl-sweep.exe" {
		t.Fatalf("platforms: %+v", m.Spec.Platforms)
	}
	// Reproducible: packing again gives the same manifest.
	first, _ := os.ReadFile(filepath.Join(dist, manifestName))
	if err := pack(dist, testVersion, license, "sweep.yaml.tmpl", Platforms); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(filepath.Join(dist, manifestName)); !bytes.Equal(first, second) {
		t.Fatalf("packing twice gave two manifests:\n%s\n%s", first, second)
	}
}

// Each way a release could go wrong fails the check, naming what.
func TestCheckFails(t *testing.T) {
	for name, tc := range map[string]struct {
		tamper func(t *testing.T, dist string)
		want   string
	}{
		"an archive changed after packing": {func(t *testing.T, dist string) {
			appendTo(t, filepath.Join(dist, "kubectl-sweep_darwin_arm64.tar.gz"), "x")
		}, "sha256"},
		"a sha256 in the manifest wrong": {func(t *testing.T, dist string) {
			edit(t, filepath.Join(dist, manifestName), func(s string) string {
				i := strings.Index(s, "sha256: ") + len("sha256: ")
				return s[:i] + "0" + s[i+1:]
			})
		}, "the manifest says"},
		"an extra file in an archive": {func(t *testing.T, dist string) {
			repack(t, dist, "linux_arm64", "kubectl-sweep", "LICENSE", "README.md")
		}, "holds [LICENSE README.md kubectl-sweep], the manifest's files copy [LICENSE kubectl-sweep]"},
		"no LICENSE in an archive": {func(t *testing.T, dist string) {
			repack(t, dist, "linux_arm64", "kubectl-sweep")
		}, "holds [kubectl-sweep]"},
		"the binary in a subdirectory": {func(t *testing.T, dist string) {
			repack(t, dist, "linux_amd64", "sweep/kubectl-sweep", "LICENSE")
		}, "holds [LICENSE sweep/kubectl-sweep]"},
		"windows' bin without .exe": {func(t *testing.T, dist string) {
			edit(t, filepath.Join(dist, manifestName), func(s string) string {
				return strings.ReplaceAll(s, "kubectl-sweep.exe", "kubectl-sweep")
			})
		}, `bin "kubectl-sweep", want "kubectl-sweep.exe"`},
		"an archive of another build": {func(t *testing.T, dist string) {
			appendTo(t, filepath.Join(dist, "darwin_amd64", "kubectl-sweep"), "!")
		}, "kubectl-sweep differs from"},
		"a platform missing": {func(t *testing.T, dist string) {
			edit(t, filepath.Join(dist, manifestName), func(s string) string {
				i := strings.Index(s, "  - selector:")
				j := strings.Index(s[i+1:], "  - selector:") + i + 1
				return s[:i] + s[j:]
			})
		}, "platforms [linux/arm64 darwin/amd64 darwin/arm64 windows/amd64], want"},
		"a misspelt field": {func(t *testing.T, dist string) {
			edit(t, filepath.Join(dist, manifestName), func(s string) string {
				return strings.Replace(s, "sha256:", "sha265:", 1)
			})
		}, `unknown field "sha265"`},
		"another version": {func(t *testing.T, dist string) {
			edit(t, filepath.Join(dist, manifestName), func(s string) string {
				return strings.Replace(s, "version: "+testVersion, "version: v9.9.9", 1)
			})
		}, "want sweep " + testVersion},
	} {
		t.Run(name, func(t *testing.T) {
			dist, license := packed(t)
			tc.tamper(t, dist)
			err := checkErr(dist, license)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("check: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func appendTo(t *testing.T, file, s string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func edit(t *testing.T, file string, f func(string) string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(f(string(b))), 0o644); err != nil {
		t.Fatal(err)
	}
}

// repack rewrites a platform's archive with the given entries (the
// binary's content for names ending in kubectl-sweep, else the LICENSE's)
// and puts its new sha256 into the manifest, as a careless release would.
func repack(t *testing.T, dist, platform string, names ...string) {
	t.Helper()
	archive := filepath.Join(dist, "kubectl-sweep_"+platform+".tar.gz")
	old, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := readArchive(old)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range names {
		data := entries["LICENSE"].data
		if strings.HasSuffix(name, "kubectl-sweep") {
			data = entries["kubectl-sweep"].data
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	edit(t, filepath.Join(dist, manifestName), func(s string) string {
		return strings.Replace(s, sha256Hex(old), sha256Hex(buf.Bytes()), 1)
	})
}

// krew's own validator refuses what krew-index would (with
// SWEEP_KREW_VALIDATOR set, as `make plugin-check` does).
func TestValidatorRefuses(t *testing.T) {
	validator := os.Getenv("SWEEP_KREW_VALIDATOR")
	if validator == "" {
		t.Skip("SWEEP_KREW_VALIDATOR unset: krew's validator is built by `make krew-bin`; `make plugin-check` (part of make test) sets it and runs this test")
	}
	dist, license := packed(t)
	edit(t, filepath.Join(dist, manifestName), func(s string) string {
		return strings.Replace(s, "  shortDescription:", "  #shortDescription:", 1)
	})
	c := checker{dist: dist, version: testVersion, license: license, platforms: Platforms, log: io.Discard, validator: validator}
	if err := c.check(); err == nil || !strings.Contains(err.Error(), "should have a short description") {
		t.Fatalf("check: %v, want validate-krew-manifest's refusal", err)
	}
}
