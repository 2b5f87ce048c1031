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
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLabFlagsPure(t *testing.T) {
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("op-t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		args     []string
		prefixes []string
		err      string
	}{
		{name: "none"},
		{name: "repeated and comma-separated prefixes", args: []string{"--lab-url-prefix=https://a.example/api, https://b.example", "--lab-url-prefix", "http://c.example:8080"},
			prefixes: []string{"https://a.example/api", "https://b.example", "http://c.example:8080"}},
		{name: "token with a prefix", args: []string{"--lab-token-file", token, "--lab-url-prefix", "https://a.example"}, prefixes: []string{"https://a.example"}},
		{name: "token without a prefix", args: []string{"--lab-token-file", token}, err: "--lab-token-file needs --lab-url-prefix"},
		{name: "bad prefix", args: []string{"--lab-url-prefix", "a.example"}, err: "--lab-url-prefix: lab URL"},
		{name: "missing token file", args: []string{"--lab-token-file", token + "-gone", "--lab-url-prefix", "https://a.example"}, err: "reading the lab token file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("manager", flag.ContinueOnError)
			get := labFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			opts, err := get()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "op-t0ken") {
					t.Errorf("error %q shows the token", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(opts.AllowedPrefixes, tc.prefixes) && (len(tc.prefixes) > 0 || len(opts.AllowedPrefixes) > 0) {
				t.Errorf("prefixes %q, want %q", opts.AllowedPrefixes, tc.prefixes)
			}
		})
	}
}
