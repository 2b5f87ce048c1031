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

package collector

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	sweepv1alpha1 "github.com/masstesting/sweep/api/v1alpha1"
)

// Assignment is what one visit is about. The operator puts it in the visit
// pod's environment (Env), and the collector reads it back (FromEnv).
type Assignment struct {
	Namespace     string
	Round         string
	Building      string
	CollectionJob string
	Visit         int32
	Expected      int32
	HomeVisit     int32
	Households    int32
	Units         int32
	Floors        int32
	Sealed        bool
	PoolSize      int32

	// Retest is the lab's id of the positive pooled tube when the visit is
	// its single-tube retest (单采单检), "" for a sweep visit. Expected is
	// then the tube's swabs, PoolSize 1, and RetestHouseholds the unit-room
	// ids whose swabs went into the tube: the only doors to knock.
	Retest           string
	RetestHouseholds []string

	// MopUpOf is the earlier round when the visit is a mop-up (补采) of
	// the residents it missed in the building, "" otherwise. Expected is
	// then those residents, and MopUpHouseholds the households the earlier
	// round listed as missed: the only doors to knock, as a retest's tube
	// households are (KnockList). Empty when it listed none: the whole
	// building is knocked.
	MopUpOf         string
	MopUpHouseholds []string

	Source string // drill, http or csv

	DrillSeed               int64
	DrillAbsentPercent      int32
	DrillStillAbsentPercent int32
	// DrillTimeScale multiplies the simulated duration of a drill visit
	// (1 = real time: about 117 residents an hour per team); demos use a
	// small fraction. 0 means no simulated duration at all.
	DrillTimeScale float64

	HTTPURL     string
	HTTPTimeout time.Duration
	HTTPToken   string // from the round's tokenSecretRef, never logged

	CSVFile string
}

// Environment variable names of the collector contract.
const (
	EnvNamespace        = "SWEEP_NAMESPACE"
	EnvRound            = "SWEEP_ROUND"
	EnvBuilding         = "SWEEP_BUILDING"
	EnvCollectionJob    = "SWEEP_COLLECTIONJOB"
	EnvVisit            = "SWEEP_VISIT"
	EnvExpected         = "SWEEP_EXPECTED"
	EnvHomeVisit        = "SWEEP_HOME_VISIT"
	EnvHouseholds       = "SWEEP_HOUSEHOLDS"
	EnvUnits            = "SWEEP_UNITS"
	EnvFloors           = "SWEEP_FLOORS"
	EnvSealed           = "SWEEP_SEALED"
	EnvPoolSize         = "SWEEP_POOL_SIZE"
	EnvRetest           = "SWEEP_RETEST"
	EnvRetestHouseholds = "SWEEP_RETEST_HOUSEHOLDS"
	EnvMopUpOf          = "SWEEP_MOPUP_OF"
	EnvMopUpHouseholds  = "SWEEP_MOPUP_HOUSEHOLDS"
	EnvSource           = "SWEEP_SOURCE"
	EnvDrillSeed        = "SWEEP_DRILL_SEED"
	EnvDrillAbsent      = "SWEEP_DRILL_ABSENT_PERCENT"
	EnvDrillStillAbsent = "SWEEP_DRILL_STILL_ABSENT_PERCENT"
	EnvDrillTimeScale   = "SWEEP_DRILL_TIME_SCALE"
	EnvHTTPURL          = "SWEEP_HTTP_URL"
	EnvHTTPTimeout      = "SWEEP_HTTP_TIMEOUT"
	EnvHTTPToken        = "SWEEP_HTTP_TOKEN"
	EnvCSVFile          = "SWEEP_CSV_FILE"
)

// Env is the assignment as environment variables (the token excluded: it
// reaches the pod from a Secret reference).
func (a Assignment) Env() map[string]string {
	i := func(v int32) string { return strconv.Itoa(int(v)) }
	env := map[string]string{
		EnvNamespace: a.Namespace, EnvRound: a.Round, EnvBuilding: a.Building, EnvCollectionJob: a.CollectionJob,
		EnvVisit: i(a.Visit), EnvExpected: i(a.Expected), EnvHomeVisit: i(a.HomeVisit), EnvHouseholds: i(a.Households),
		EnvUnits: i(a.Units), EnvFloors: i(a.Floors), EnvSealed: strconv.FormatBool(a.Sealed), EnvPoolSize: i(a.PoolSize),
		EnvSource: a.Source,
	}
	if a.Retest != "" {
		env[EnvRetest] = a.Retest
		env[EnvRetestHouseholds] = strings.Join(a.RetestHouseholds, " ")
	}
	if a.MopUpOf != "" {
		env[EnvMopUpOf] = a.MopUpOf
		env[EnvMopUpHouseholds] = strings.Join(a.MopUpHouseholds, " ")
	}
	switch a.Source {
	case "drill":
		env[EnvDrillSeed] = strconv.FormatInt(a.DrillSeed, 10)
		env[EnvDrillAbsent] = i(a.DrillAbsentPercent)
		env[EnvDrillStillAbsent] = i(a.DrillStillAbsentPercent)
		env[EnvDrillTimeScale] = strconv.FormatFloat(a.DrillTimeScale, 'g', -1, 64)
	case "http":
		env[EnvHTTPURL] = a.HTTPURL
		env[EnvHTTPTimeout] = a.HTTPTimeout.String()
	case "csv":
		env[EnvCSVFile] = a.CSVFile
	}
	return env
}

// FromEnv reads an assignment with lookup (os.LookupEnv in a pod). A
// missing or malformed variable is an error that names it.
func FromEnv(lookup func(string) (string, bool)) (Assignment, error) {
	var a Assignment
	var errs []error
	str := func(k string, required bool) string {
		v, ok := lookup(k)
		if !ok && required {
			errs = append(errs, fmt.Errorf("%s is not set", k))
		}
		return v
	}
	num := func(k string, required bool) int32 {
		v := str(k, required)
		if v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s=%q is not a count", k, v))
		}
		return int32(n)
	}
	a.Namespace = str(EnvNamespace, true)
	a.Round = str(EnvRound, true)
	a.Building = str(EnvBuilding, true)
	a.CollectionJob = str(EnvCollectionJob, true)
	a.Visit = num(EnvVisit, true)
	a.Expected = num(EnvExpected, true)
	a.HomeVisit = num(EnvHomeVisit, false)
	a.Households = num(EnvHouseholds, false)
	a.Units = num(EnvUnits, false)
	a.Floors = num(EnvFloors, false)
	a.Sealed = str(EnvSealed, false) == "true"
	a.PoolSize = num(EnvPoolSize, false)
	a.Retest, a.RetestHouseholds = retestFromEnv(str(EnvRetest, false), str(EnvRetestHouseholds, false), &errs)
	a.MopUpOf, a.MopUpHouseholds = mopUpFromEnv(str(EnvMopUpOf, false), str(EnvMopUpHouseholds, false), &errs)
	if a.Retest != "" && a.MopUpOf != "" {
		errs = append(errs, fmt.Errorf("%s and %s are both set: a visit is a retest or a mop-up, not both", EnvRetest, EnvMopUpOf))
	}
	a.Source = str(EnvSource, true)
	switch a.Source {
	case "drill":
		if v := str(EnvDrillSeed, false); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q is not a number", EnvDrillSeed, v))
			}
			a.DrillSeed = n
		}
		a.DrillAbsentPercent = num(EnvDrillAbsent, false)
		a.DrillStillAbsentPercent = num(EnvDrillStillAbsent, false)
		if v := str(EnvDrillTimeScale, false); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				errs = append(errs, fmt.Errorf("%s=%q is not a non-negative number", EnvDrillTimeScale, v))
			}
			a.DrillTimeScale = f
		}
	case "http":
		a.HTTPURL = str(EnvHTTPURL, true)
		a.HTTPToken = str(EnvHTTPToken, false)
		a.HTTPTimeout = 30 * time.Second
		if v := str(EnvHTTPTimeout, false); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s=%q is not a duration", EnvHTTPTimeout, v))
			}
			a.HTTPTimeout = d
		}
	case "csv":
		a.CSVFile = str(EnvCSVFile, true)
	case "":
	default:
		errs = append(errs, fmt.Errorf("%s=%q is not drill, http or csv", EnvSource, a.Source))
	}
	if a.Visit < 1 {
		errs = append(errs, fmt.Errorf("%s must be at least 1", EnvVisit))
	}
	if len(errs) > 0 {
		return a, fmt.Errorf("collector assignment: %w", joinErrs(errs))
	}
	return a, nil
}

// MaxRetestHouseholds is the most households one pooled tube's retest
// knocks: a tube holds at most 20 swabs (the PositivePool schema's bound).
const MaxRetestHouseholds = 20

// tubePattern and tubeMaxLen are what a PositivePool's spec.tube accepts.
var tubePattern = regexp.MustCompile(`^[0-9A-Za-z]+([-_.][0-9A-Za-z]+)*$`)

const tubeMaxLen = 64

// retestFromEnv reads SWEEP_RETEST and SWEEP_RETEST_HOUSEHOLDS: a tube id,
// and 1 to MaxRetestHouseholds unit-room ids separated by spaces or commas
// (a repeated id counts once). Either without the other is an error. A bad
// value is not repeated in the error, only its place: the variables come
// from the operator, but a household slot that holds no id may hold a
// resident's name.
func retestFromEnv(tube, list string, errs *[]error) (string, []string) {
	ids := strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	switch {
	case tube == "" && len(ids) == 0:
		return "", nil
	case tube == "":
		*errs = append(*errs, fmt.Errorf("%s is set without %s", EnvRetestHouseholds, EnvRetest))
		return "", nil
	case len(tube) > tubeMaxLen || !tubePattern.MatchString(tube):
		*errs = append(*errs, fmt.Errorf("%s is not a tube id (letters and digits joined by single '-', '_' or '.', at most %d characters)", EnvRetest, tubeMaxLen))
	}
	if len(ids) == 0 {
		*errs = append(*errs, fmt.Errorf("%s must list the pooled tube's households when %s is set", EnvRetestHouseholds, EnvRetest))
		return tube, nil
	}
	if len(ids) > MaxRetestHouseholds {
		*errs = append(*errs, fmt.Errorf("%s lists %d households, at most %d", EnvRetestHouseholds, len(ids), MaxRetestHouseholds))
		return tube, nil
	}
	households := make([]string, 0, len(ids))
	for i, id := range ids {
		if !isHouseholdID(id) {
			*errs = append(*errs, fmt.Errorf("%s: item %d is not a unit-room id like \"2-1203\"", EnvRetestHouseholds, i+1))
			continue
		}
		if !slices.Contains(households, id) {
			households = append(households, id)
		}
	}
	return tube, households
}

// householdList splits a list of unit-room ids separated by spaces or
// commas, keeping each once; a bad item is named by its place only (see
// retestFromEnv).
func householdList(env, list string, errs *[]error) []string {
	ids := strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	households := make([]string, 0, len(ids))
	for i, id := range ids {
		if !isHouseholdID(id) {
			*errs = append(*errs, fmt.Errorf("%s: item %d is not a unit-room id like \"2-1203\"", env, i+1))
			continue
		}
		if !slices.Contains(households, id) {
			households = append(households, id)
		}
	}
	return households
}

// mopUpFromEnv reads SWEEP_MOPUP_OF and SWEEP_MOPUP_HOUSEHOLDS: the
// earlier round's name, and 0 to MaxMissedHouseholds unit-room ids (none:
// the whole building is knocked). The households without the round are an
// error.
func mopUpFromEnv(of, list string, errs *[]error) (string, []string) {
	if of == "" {
		if strings.TrimSpace(list) != "" {
			*errs = append(*errs, fmt.Errorf("%s is set without %s", EnvMopUpHouseholds, EnvMopUpOf))
		}
		return "", nil
	}
	households := householdList(EnvMopUpHouseholds, list, errs)
	if len(households) > sweepv1alpha1.MaxMissedHouseholds {
		*errs = append(*errs, fmt.Errorf("%s lists %d households, at most %d", EnvMopUpHouseholds, len(households), sweepv1alpha1.MaxMissedHouseholds))
		return of, nil
	}
	if len(households) == 0 {
		households = nil
	}
	return of, households
}

// KnockList is the only doors a visit knocks: a retest's tube households,
// or a mop-up's households the earlier round missed; nil for a sweep, and
// for a mop-up of a building whose earlier round listed no household,
// which knock every door. A source counts only the households on it.
func (a Assignment) KnockList() []string {
	switch {
	case a.Retest != "":
		return a.RetestHouseholds
	case a.MopUpOf != "":
		return a.MopUpHouseholds
	}
	return nil
}

// Knocks says whether the visit knocks household h's door (KnockList).
func (a Assignment) Knocks(h string) bool {
	if a.Retest == "" && len(a.KnockList()) == 0 {
		return true
	}
	return slices.Contains(a.KnockList(), h)
}

func joinErrs(errs []error) error {
	msg := errs[0].Error()
	for _, e := range errs[1:] {
		msg += "; " + e.Error()
	}
	return fmt.Errorf("%s", msg)
}

// OSLookup is os.LookupEnv, for FromEnv in a pod.
var OSLookup = os.LookupEnv

// CSVMountDir is where the job executor mounts a csv source's ConfigMap.
const CSVMountDir = "/etc/sweep/csv"

// AssignmentFor is the assignment of visit `visit` of a CollectionJob.
// timeScale is the manager's --drill-time-scale.
func AssignmentFor(cj *sweepv1alpha1.CollectionJob, visit int32, timeScale float64) Assignment {
	s := cj.Spec
	a := Assignment{
		Namespace: cj.Namespace, Round: s.Round, Building: s.Building, CollectionJob: cj.Name,
		Visit: visit, Expected: s.Expected, HomeVisit: s.HomeVisit, Households: s.Households,
		Units: s.Units, Floors: s.Floors, Sealed: s.ControlLevel == sweepv1alpha1.ControlLevelSealed,
		PoolSize: s.PoolSize, Source: string(s.Collector.Source),
	}
	if r := s.Retest; r != nil {
		a.Retest = r.Tube
		a.RetestHouseholds = append([]string(nil), r.Households...)
	}
	if m := s.MopUp; m != nil {
		a.MopUpOf = m.Round
		if len(m.Households) > 0 {
			a.MopUpHouseholds = append([]string(nil), m.Households...)
		}
	}
	if a.Source == "" {
		a.Source = string(sweepv1alpha1.SourceDrill)
	}
	switch a.Source {
	case string(sweepv1alpha1.SourceDrill):
		// The schema's defaults, for objects stored before it had them.
		a.DrillAbsentPercent, a.DrillStillAbsentPercent = 15, 40
		if d := s.Collector.Drill; d != nil {
			a.DrillSeed = d.Seed
			if d.AbsentPercent != nil {
				a.DrillAbsentPercent = *d.AbsentPercent
			}
			if d.StillAbsentPercent != nil {
				a.DrillStillAbsentPercent = *d.StillAbsentPercent
			}
		}
		a.DrillTimeScale = timeScale
	case string(sweepv1alpha1.SourceHTTP):
		if h := s.Collector.HTTP; h != nil {
			a.HTTPURL = h.URL
			if h.Timeout != nil {
				a.HTTPTimeout = h.Timeout.Duration
			}
		}
	case string(sweepv1alpha1.SourceCSV):
		if c := s.Collector.CSV; c != nil {
			key := c.Key
			if key == "" {
				key = "samples.csv"
			}
			a.CSVFile = CSVMountDir + "/" + key
		}
	}
	return a
}
