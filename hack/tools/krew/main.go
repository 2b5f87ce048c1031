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

// Command krew packs the cross-built kubectl-sweep binaries into krew
// archives and writes the plugin manifest (pack), and checks the result
// (check). The Makefile runs both: `make plugin` and `make plugin-check`.
//
//	go run . pack  -dist DIR -version V -license FILE -template sweep.yaml.tmpl
//	go run . check -dist DIR -version V -license FILE [-make-build BIN]
//	               [-validator BIN] [-krew BIN] [-kubectl BIN]
//
// DIR holds one directory per platform, DIR/<os>_<arch>/kubectl-sweep[.exe];
// pack writes DIR/kubectl-sweep_<os>_<arch>.tar.gz and DIR/sweep.yaml.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"sigs.k8s.io/krew/pkg/index"
	"sigs.k8s.io/yaml"
)

// Platforms are the ones krew users expect a plugin to ship for.
var Platforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}

const (
	binName      = "kubectl-sweep"
	licenseName  = "LICENSE"
	manifestName = "sweep.yaml"
	releaseURL   = "https://github.com/masstesting/sweep/releases/download/"
)

// mtime is every archive entry's modification time, so that the same
// binary and LICENSE always give the same archive and checksum.
var mtime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Platform is one entry of the manifest as the template sees it.
type Platform struct {
	OS, Arch, Bin, Archive, Sha256 string
}

func newPlatform(p string) (Platform, error) {
	osName, arch, ok := strings.Cut(p, "/")
	if !ok || osName == "" || arch == "" {
		return Platform{}, fmt.Errorf("platform %q: want os/arch", p)
	}
	bin := binName
	if osName == "windows" {
		bin += ".exe"
	}
	return Platform{OS: osName, Arch: arch, Bin: bin, Archive: fmt.Sprintf("%s_%s_%s.tar.gz", binName, osName, arch)}, nil
}

// dir is where the Makefile cross-builds the platform's binary.
func (p Platform) dir(dist string) string { return filepath.Join(dist, p.OS+"_"+p.Arch) }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: krew pack|check [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	dist := fs.String("dist", "", "the directory of the cross-built binaries, the archives and the manifest")
	version := fs.String("version", "", "the plugin's version (the VERSION file)")
	license := fs.String("license", "", "the LICENSE file to ship in each archive")
	tmpl := fs.String("template", "sweep.yaml.tmpl", "the manifest's template (pack)")
	platforms := fs.String("platforms", strings.Join(Platforms, " "), "the platforms, os/arch separated by spaces")
	makeBuild := fs.String("make-build", "", "check: the binary `make build` wrote; must equal the host platform's")
	validator := fs.String("validator", "", "check: krew's validate-krew-manifest binary")
	krew := fs.String("krew", "", "check: the krew binary (kubectl-krew); installs every platform's archive with it")
	kubectl := fs.String("kubectl", "", "check: a kubectl to run the installed plugin with (kubectl sweep version)")
	_ = fs.Parse(os.Args[2:])
	if *dist == "" || *version == "" || *license == "" {
		fmt.Fprintln(os.Stderr, "-dist, -version and -license are required")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "pack":
		err = pack(*dist, *version, *license, *tmpl, strings.Fields(*platforms))
	case "check":
		c := checker{dist: *dist, version: *version, license: *license, platforms: strings.Fields(*platforms),
			makeBuild: *makeBuild, validator: *validator, krew: *krew, kubectl: *kubectl, log: os.Stdout}
		err = c.check()
	default:
		err = fmt.Errorf("unknown command %q: want pack or check", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "krew "+os.Args[1]+":", err)
		os.Exit(1)
	}
}

// pack writes one archive per platform and the manifest.
func pack(dist, version, license, tmplFile string, platforms []string) error {
	lic, err := os.ReadFile(license)
	if err != nil {
		return err
	}
	t, err := template.New(filepath.Base(tmplFile)).Option("missingkey=error").ParseFiles(tmplFile)
	if err != nil {
		return err
	}
	var ps []Platform
	for _, s := range platforms {
		p, err := newPlatform(s)
		if err != nil {
			return err
		}
		bin, err := os.ReadFile(filepath.Join(p.dir(dist), p.Bin))
		if err != nil {
			return err
		}
		archive, err := makeArchive(p.Bin, bin, lic)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dist, p.Archive), archive, 0o644); err != nil {
			return err
		}
		p.Sha256 = sha256Hex(archive)
		ps = append(ps, p)
		fmt.Printf("%s  %s\n", p.Sha256, p.Archive)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, struct {
		Version   string
		Platforms []Platform
	}{version, ps}); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dist, manifestName), out.Bytes(), 0o644)
}

// makeArchive returns a reproducible tar.gz of the binary and the LICENSE at
// its top level: fixed order, modes, owner and times, no gzip name or time.
func makeArchive(binName string, bin, license []byte) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		mode int64
		data []byte
	}{{binName, 0o755, bin}, {licenseName, 0o644, license}} {
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)),
			ModTime: mtime, Format: tar.FormatUSTAR,
		}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readManifest reads a plugin manifest as krew does: strictly, so that a
// misspelt field is an error rather than ignored.
func readManifest(file string) (index.Plugin, error) {
	var p index.Plugin
	b, err := os.ReadFile(file)
	if err != nil {
		return p, err
	}
	if err := yaml.UnmarshalStrict(b, &p); err != nil {
		return p, fmt.Errorf("%s: %w", file, err)
	}
	return p, nil
}

type checker struct {
	dist, version, license string
	platforms              []string
	makeBuild              string
	validator, krew        string
	kubectl                string
	log                    io.Writer
}

func (c checker) logf(format string, args ...any) { fmt.Fprintf(c.log, "ok: "+format+"\n", args...) }

// check validates the manifest in dist and every archive it names; see
// docs/install.md ("How the plugin is checked").
func (c checker) check() error {
	manifest := filepath.Join(c.dist, manifestName)
	if c.validator != "" {
		// krew's own validation: the structural checks of
		// internal/index/validation.ValidatePlugin, every selector matching
		// a platform krew supports, no two selectors overlapping.
		// -skip-install: it would download the release URL; the archives
		// are installed below with --archive instead.
		if out, err := exec.Command(c.validator, "-manifest", manifest, "-skip-install").CombinedOutput(); err != nil {
			// klog.Fatal's goroutine dump says nothing about the manifest.
			msg, _, _ := strings.Cut(string(out), "\ngoroutine ")
			return fmt.Errorf("validate-krew-manifest: %w\n%s", err, msg)
		}
		c.logf("validate-krew-manifest %s", manifest)
	}
	m, err := readManifest(manifest)
	if err != nil {
		return err
	}
	if m.Name != "sweep" || m.Spec.Version != c.version {
		return fmt.Errorf("%s: plugin %s %s, want sweep %s (the VERSION file)", manifest, m.Name, m.Spec.Version, c.version)
	}
	lic, err := os.ReadFile(c.license)
	if err != nil {
		return err
	}

	want := c.platforms
	var got []string
	for _, mp := range m.Spec.Platforms {
		if mp.Selector == nil || len(mp.Selector.MatchExpressions) != 0 {
			return fmt.Errorf("%s: platform %s: want a selector of matchLabels os and arch only", manifest, mp.URI)
		}
		got = append(got, mp.Selector.MatchLabels["os"]+"/"+mp.Selector.MatchLabels["arch"])
	}
	if !slices.Equal(sorted(got), sorted(want)) {
		return fmt.Errorf("%s: platforms %v, want %v", manifest, got, want)
	}
	c.logf("%s: sweep %s for %s", manifestName, m.Spec.Version, strings.Join(got, ", "))

	host := runtime.GOOS + "/" + runtime.GOARCH
	for i, mp := range m.Spec.Platforms {
		p, _ := newPlatform(got[i])
		if err := c.checkPlatform(p, mp, lic); err != nil {
			return fmt.Errorf("platform %s: %w", got[i], err)
		}
		if got[i] == host && c.makeBuild != "" {
			if err := c.checkMakeBuild(p); err != nil {
				return err
			}
		}
		if c.krew != "" {
			if err := c.krewInstall(p, manifest, got[i] == host); err != nil {
				return fmt.Errorf("platform %s: %w", got[i], err)
			}
		}
	}
	return nil
}

// checkPlatform checks one platform's entry against its archive and the
// cross-built binary.
func (c checker) checkPlatform(p Platform, mp index.Platform, lic []byte) error {
	if want := releaseURL + c.version + "/" + p.Archive; mp.URI != want {
		return fmt.Errorf("uri %s, want %s", mp.URI, want)
	}
	if mp.Bin != p.Bin {
		return fmt.Errorf("bin %q, want %q", mp.Bin, p.Bin)
	}
	archivePath := filepath.Join(c.dist, p.Archive)
	archive, err := os.ReadFile(archivePath)
	if err != nil {
		return err
	}
	if sum := sha256Hex(archive); sum != mp.Sha256 {
		return fmt.Errorf("%s: sha256 %s, the manifest says %s", p.Archive, sum, mp.Sha256)
	}
	entries, err := readArchive(archive)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Archive, err)
	}

	// The archive holds exactly what `files` copies, each at the top
	// of the installation directory, and the bin is one of them.
	var from, names []string
	for _, f := range mp.Files {
		if f.To != "." || strings.ContainsAny(f.From, "*?[") || path.Clean(f.From) != f.From || strings.Contains(f.From, "/") {
			return fmt.Errorf("files: from %q to %q: want a top-level file copied to \".\"", f.From, f.To)
		}
		from = append(from, f.From)
	}
	for name := range entries {
		names = append(names, name)
	}
	if !slices.Equal(sorted(from), sorted(names)) {
		return fmt.Errorf("%s holds %v, the manifest's files copy %v", p.Archive, sorted(names), sorted(from))
	}
	if !slices.Contains(from, mp.Bin) || !slices.Contains(from, licenseName) {
		return fmt.Errorf("files %v: want the bin %s and %s", from, mp.Bin, licenseName)
	}
	if e := entries[mp.Bin]; e.mode&0o111 == 0 {
		return fmt.Errorf("%s: %s is not executable (mode %o)", p.Archive, mp.Bin, e.mode)
	}

	// Its binary is the cross-built one, its LICENSE the repository's.
	bin, err := os.ReadFile(filepath.Join(p.dir(c.dist), p.Bin))
	if err != nil {
		return err
	}
	if !bytes.Equal(entries[mp.Bin].data, bin) {
		return fmt.Errorf("%s: %s differs from %s", p.Archive, mp.Bin, filepath.Join(p.dir(c.dist), p.Bin))
	}
	if !bytes.Equal(entries[licenseName].data, lic) {
		return fmt.Errorf("%s: %s differs from %s", p.Archive, licenseName, c.license)
	}

	// And packing them again gives the same bytes: the checksum is
	// reproducible from the binary.
	again, err := makeArchive(p.Bin, bin, lic)
	if err != nil {
		return err
	}
	if !bytes.Equal(again, archive) {
		return fmt.Errorf("%s: packing %s and %s again gives another archive (sha256 %s)", p.Archive, p.Bin, licenseName, sha256Hex(again))
	}
	c.logf("%s: sha256 %s, holds exactly %v, binary equals the cross-built one, reproducible", p.Archive, mp.Sha256[:12], sorted(names))
	return nil
}

// checkMakeBuild checks that `make build` gives the very binary the host
// platform's archive ships, and that it says the version.
func (c checker) checkMakeBuild(p Platform) error {
	made, err := os.ReadFile(c.makeBuild)
	if err != nil {
		return err
	}
	crossBuilt := filepath.Join(p.dir(c.dist), p.Bin)
	bin, err := os.ReadFile(crossBuilt)
	if err != nil {
		return err
	}
	if !bytes.Equal(made, bin) {
		return fmt.Errorf("%s (make build) differs from %s: the two builds' flags drifted apart", c.makeBuild, crossBuilt)
	}
	out, err := exec.Command(crossBuilt, "version").Output()
	if err != nil {
		return fmt.Errorf("%s version: %w", crossBuilt, err)
	}
	if v := strings.TrimSpace(string(out)); v != c.version {
		return fmt.Errorf("%s version says %q, want %q", crossBuilt, v, c.version)
	}
	c.logf("%s equals %s (make build), byte for byte; `version` says %s", crossBuilt, c.makeBuild, c.version)
	return nil
}

// krewInstall installs the platform's archive with krew itself (which checks
// the sha256 and applies `files` and `bin`) into a scratch KREW_ROOT, as a
// user on that platform would with --manifest and --archive.
func (c checker) krewInstall(p Platform, manifest string, host bool) error {
	root, err := os.MkdirTemp("", "sweep-krew-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	cmd := exec.Command(c.krew, "install", "--manifest="+manifest, "--archive="+filepath.Join(c.dist, p.Archive))
	cmd.Env = append(os.Environ(), "KREW_ROOT="+root, "KREW_OS="+p.OS, "KREW_ARCH="+p.Arch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl krew install: %w\n%s", err, out)
	}
	installed := filepath.Join(root, "store", "sweep", c.version)
	for _, f := range []string{p.Bin, licenseName} {
		if _, err := os.Stat(filepath.Join(installed, f)); err != nil {
			return fmt.Errorf("after kubectl krew install: %w", err)
		}
	}
	link := filepath.Join(root, "bin", p.Bin)
	if p.OS == "windows" {
		// krew copies the binary to bin/ on Windows rather than linking it.
		if _, err := os.Stat(link); err != nil {
			return fmt.Errorf("after kubectl krew install: %w", err)
		}
	} else if target, err := os.Readlink(link); err != nil || target != filepath.Join(installed, p.Bin) {
		return fmt.Errorf("after kubectl krew install: %s links to %q (%v), want %s", link, target, err, filepath.Join(installed, p.Bin))
	}
	c.logf("kubectl krew install --manifest --archive=%s (KREW_OS=%s KREW_ARCH=%s): %s and %s installed", p.Archive, p.OS, p.Arch, p.Bin, licenseName)
	if !host {
		return nil
	}
	var out []byte
	if c.kubectl != "" {
		// kubectl finds the plugin on PATH, as it would for a user.
		cmd := exec.Command(c.kubectl, "sweep", "version")
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(root, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
		out, err = cmd.CombinedOutput()
	} else {
		out, err = exec.Command(link, "version").CombinedOutput()
	}
	if err != nil {
		return fmt.Errorf("the installed plugin: %w\n%s", err, out)
	}
	if v := strings.TrimSpace(string(out)); v != c.version {
		return fmt.Errorf("the installed plugin's version says %q, want %q", v, c.version)
	}
	if c.kubectl != "" {
		c.logf("kubectl sweep version (the installed plugin, found by kubectl on PATH): %s", c.version)
	}
	return nil
}

type entry struct {
	mode int64
	data []byte
}

// readArchive returns a tar.gz's files by name; anything but a regular file
// with a clean relative name is an error.
func readArchive(b []byte) (map[string]entry, error) {
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	entries := map[string]entry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || path.Clean(h.Name) != h.Name || path.IsAbs(h.Name) || strings.HasPrefix(h.Name, "../") {
			return nil, fmt.Errorf("entry %q (type %c): want regular files with clean relative names only", h.Name, h.Typeflag)
		}
		if _, dup := entries[h.Name]; dup {
			return nil, fmt.Errorf("entry %q twice", h.Name)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		entries[h.Name] = entry{mode: h.Mode, data: data}
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}
