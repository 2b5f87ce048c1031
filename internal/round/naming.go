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
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// MaxJobNameLength bounds a CollectionJob's name so that the name of each of
// its visit Jobs, "<job>-v<N>" or, for a retry, "<job>-v<N>-r<K>" with N up
// to 10, stays within the 63 characters a Job name may have (it becomes a
// pod label value).
const MaxJobNameLength = 55

// hashLength is the number of hex digits of the hash that replaces the tail
// of a name too long to use whole: 48 bits, so that even 50,000 shortened
// names that share their prefix collide with odds of about 1 in 200,000.
const hashLength = 12

// JobName is the name of the CollectionJob of a building in a round:
// "<round>-<building>". A name longer than MaxJobNameLength keeps its
// beginning and ends with a hash of the whole round and building names, so
// two buildings never share a job because their names were cut.
func JobName(round, building string) string {
	name := round + "-" + building
	if len(name) <= MaxJobNameLength {
		return name
	}
	sum := sha256.Sum256([]byte(round + "/" + building))
	prefix := strings.TrimRight(name[:MaxJobNameLength-hashLength-1], "-.")
	return prefix + "-" + hex.EncodeToString(sum[:])[:hashLength]
}

// LabelValue makes a name usable as a label value (at most 63 characters),
// shortening it the same way JobName does when it is longer.
func LabelValue(name string) string {
	const maxLabel = 63
	if len(name) <= maxLabel {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	prefix := strings.TrimRight(name[:maxLabel-hashLength-1], "-._")
	return prefix + "-" + hex.EncodeToString(sum[:])[:hashLength]
}
