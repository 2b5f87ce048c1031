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

package round

import (
	"strings"
	"testing"
)

// TestNamesKeepTheirValues pins the names Sweep has given objects in
// running clusters: a manager that named a child differently after an
// upgrade would create a second job for a building (the values were
// written by the code before the shortening rule moved here).
func TestNamesKeepTheirValues(t *testing.T) {
	long := strings.Repeat("abcdefghij-", 30)
	cases := []struct {
		what, got, want string
	}{
		{"JobName, short", JobName("night", "uid-1", "b-1"), "night-b-1-e150b6087d"},
		{"JobName, cut", JobName("a-very-long-round-name-for-the-district", "uid-1", "xinjiang-6-building-12.b"), "a-very-long-round-name-for-the-district-b1922afcaf"},
		{"LabelValue, cut", LabelValue(long[:70]), "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdef-4c06f79f7275"},
		{"LabelValue, fits", LabelValue("short"), "short"},
		// internal/schedule's RoundName and MopUpRoundName.
		{"Shorten, cut", Shorten(long[:250]+"-202612010800", 253), long[:240] + "-dd0c3e3cc0cb"},
		{"Shorten, fits", Shorten("night-202612010800", 253), "night-202612010800"},
		// internal/lab's PoolName.
		{"WithHash, cut", WithHash("a-very-long-round-name-for-the-district-p-2026-1201-77", MaxJobNameLength, "uid-1/pool/P_2026.1201-77"), "a-very-long-round-name-for-the-district-c5b24cff7c"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.what, c.got, c.want)
		}
		if len(c.got) > 253 {
			t.Errorf("%s: %d characters", c.what, len(c.got))
		}
	}
}
