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
	"strings"

	"github.com/masstesting/sweep/internal/lab"
)

// stringList is a flag that may be given several times, each time with one
// value or a comma-separated list.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// labFlags registers the manager's flags for the http lab source
// (docs/lab-api.md) and returns a function that gives the options once
// the flags are parsed, checked: the token file readable, and only with a
// URL prefix.
func labFlags(fs *flag.FlagSet) func() (lab.HTTPOptions, error) {
	tokenFile := fs.String("lab-token-file", "", "file holding the bearer token for the rounds' lab APIs (a Secret in the operator's namespace, mounted); sent only to URLs under --lab-url-prefix, never logged")
	var prefixes stringList
	fs.Var(&prefixes, "lab-url-prefix", "base URL a round's lab URL must be under, such as https://lis.harbin.example/api (repeat or comma-separate for several); with none, any lab URL is polled, without a token")
	return func() (lab.HTTPOptions, error) {
		opts := lab.HTTPOptions{TokenFile: *tokenFile, AllowedPrefixes: prefixes}
		return opts, opts.Validate()
	}
}
