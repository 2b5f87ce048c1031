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

	"k8s.io/apimachinery/pkg/types"
)

// MaxJobNameLength bounds a CollectionJob's name so that the name of each of
// its visit Jobs, "<job>-v<N>" or, for a retry, "<job>-v<N>-r<K>" with N up
// to 10 and K up to 2 (at most 7 characters more), is at most 57
// characters. The Job controller names a visit's pod "<visit Job>-<random>"
// and cuts a generateName base longer than 58 characters; below that the
// pod's name begins with "<visit Job>-", which is how the collector's
// admission policy knows whose pod it is.
const MaxJobNameLength = 50

// hashLength is the number of hex digits of the hash every job name
// ends with: 40 bits, so that even 50,000 buildings of one round whose names
// were cut to the same prefix share a name with odds of about 1 in 1,000
// (and the round then says so, rather than adopting another's job).
const hashLength = 10

// JobName is the name of the CollectionJob of a building in the round with
// the given UID: "<round>-<building>" cut to fit, then "-" and a hash of
// the round's UID and the building's name. The readable part is for
// people; the hash makes names that cannot collide: round "a" with building
// "b-c" and round "a-b" with building "c" differ, and a round deleted and
// created again under its name (a new UID) never meets the jobs its
// predecessor is still deleting. For one round it is deterministic, as a
// ReplicaSet's pod-template-hash is.
func JobName(roundName string, roundUID types.UID, building string) string {
	return WithHash(roundName+"-"+building, MaxJobNameLength, string(roundUID)+"/"+building)
}

// WithHash is the one way Sweep makes a child's name that cannot collide:
// readable cut to fit in max characters with "-" and a 10-digit hash of
// hashOf after it. hashOf must hold what makes the child unique (its
// owner's UID and its key); readable is only for people.
func WithHash(readable string, max int, hashOf string) string {
	return cutAndHash(readable, max, hashOf, hashLength)
}

// Shorten returns name when it has at most max characters, else its
// beginning and a 12-digit hash of the whole name, max characters in all:
// for names and label values made from other names, which are already
// unique while they fit.
func Shorten(name string, max int) string {
	if len(name) <= max {
		return name
	}
	return cutAndHash(name, max, name, 12)
}

// LabelValue makes a name usable as a label value (at most 63 characters).
func LabelValue(name string) string {
	return Shorten(name, 63)
}

// cutAndHash is readable cut to leave room for "-" and hashLength hex
// digits of sha256(hashOf). A name or label value must begin and end with
// an alphanumeric character, and a cut can leave '-', '.' or '_' at the end.
func cutAndHash(readable string, max int, hashOf string, hashLength int) string {
	sum := sha256.Sum256([]byte(hashOf))
	if len(readable) > max-hashLength-1 {
		readable = readable[:max-hashLength-1]
	}
	return strings.TrimRight(readable, "-._") + "-" + hex.EncodeToString(sum[:])[:hashLength]
}
