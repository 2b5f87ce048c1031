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

// Package untrusted reads what systems outside the cluster send Sweep (the
// sample registry's answers and exports, the lab's pages and CSV files) so
// that an error names the field or line at fault and never quotes a value:
// any value may be a resident's name or phone number.
package untrusted

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// snippetLength is how much of an error body goes into an error message.
const snippetLength = 200

// Snippet is the start of an HTTP error body for a message: one line, and
// with the token masked in case a server echoes the request back. Only
// error bodies are shown this way (a 200 answer is described, never shown).
func Snippet(body []byte, token string) string {
	// Mask first, so that a token across the cut is masked too.
	s := string(body[:min(len(body), snippetLength+len(token))])
	if token != "" {
		s = strings.ReplaceAll(s, token, "[redacted]")
	}
	s = strings.ToValidUTF8(s[:min(len(s), snippetLength)], "")
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "(empty body)"
	}
	return s
}

// DescribeBody says what kind of body a 200 answer that is not a JSON
// object is, without repeating it.
func DescribeBody(body []byte) string {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return "empty"
	case json.Valid(trimmed):
		return "JSON, " + JSONKind(trimmed)
	case trimmed[0] == '<':
		return "not JSON, looks like an HTML or XML page"
	}
	return "not JSON"
}

// IsNull says whether a JSON value is null.
func IsNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// JSONKind names the JSON type of a value, for error messages.
func JSONKind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// maxLineProblems bounds how many bad lines one error lists: enough to fix
// a file in one go, few enough for an event or a condition message.
const maxLineProblems = 20

// LineProblems gathers what is wrong with the lines of one file, so that a
// single error reports every bad line (up to 20, then how many more) rather
// than only the first.
type LineProblems struct {
	file string
	bad  []string
	more int
}

// NewLineProblems gathers the problems of the file people know as file
// (for example "ConfigMap registry/visits.csv").
func NewLineProblems(file string) *LineProblems {
	return &LineProblems{file: file}
}

// Add records a problem of line (1-based). msg follows "<file> line <n>"
// as it stands, so it begins with ": " or " ".
func (p *LineProblems) Add(line int, msg string) {
	if len(p.bad) == maxLineProblems {
		p.more++
		return
	}
	p.bad = append(p.bad, fmt.Sprintf("%s line %d%s", p.file, line, msg))
}

// Empty says whether no problem was recorded.
func (p *LineProblems) Empty() bool { return len(p.bad) == 0 }

// Err is every problem recorded in one error, or nil if there is none.
func (p *LineProblems) Err() error {
	if len(p.bad) == 0 {
		return nil
	}
	all := p.bad
	if p.more > 0 {
		all = append(all[:len(all):len(all)], fmt.Sprintf("and %d more bad lines", p.more))
	}
	return errors.New(strings.Join(all, "; "))
}
