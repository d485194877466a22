package conformance

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kmipd/kmipd/hsmbackend/hsmtest"
	"github.com/kmipd/kmipd/kmip"
)

// Environment variables of TestConformance.
const (
	// envVectors overrides the vectors root.
	envVectors = "KMIPD_VECTORS"
	// envAll adds ExtraSets to the run.
	envAll = "KMIPD_CONFORMANCE_ALL"
	// envReport names the Markdown report to write (make conformance
	// writes CONFORMANCE.md).
	envReport = "KMIPD_CONFORMANCE_REPORT"
	// envRequireVectors turns missing vectors into a failure (CI).
	envRequireVectors = "KMIPD_REQUIRE_VECTORS"
	// envPropose names a file to write a draft of KnownFailures to: one
	// line per failing vector with its cause, to review before pasting.
	envPropose = "KMIPD_CONFORMANCE_PROPOSE"
)

// defaultVectors is where CI puts the vectors: shared/ is cloned beside
// the repository.
const defaultVectors = "../../shared/conformance/testcases"

// vectorsRoot finds the vectors, skipping the test when they are absent
// (failing instead with KMIPD_REQUIRE_VECTORS=1 or KMIPD_REQUIRE_HSM=1).
func vectorsRoot(t *testing.T) string {
	t.Helper()
	root := os.Getenv(envVectors)
	if root == "" {
		root = defaultVectors
	}
	if _, err := os.Stat(root); err != nil {
		msg := "conformance: no vectors at " + root + " (set " + envVectors + "): " + err.Error()
		if os.Getenv(envRequireVectors) == "1" || os.Getenv(hsmtest.EnvRequireHSM) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return root
}

// conformanceSets are the sets TestConformance runs.
func conformanceSets() []string {
	sets := slices.Clone(MandatorySets)
	if os.Getenv(envAll) == "1" {
		sets = append(sets, ExtraSets...)
	}
	return sets
}

// TestConformance plays the OASIS vectors against the real server: real
// TLS, the real service over SoftHSM, a fresh store per file. A vector
// that fails must be in KnownFailures, and a vector in KnownFailures must
// fail.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("conformance: the vector run takes a minute; skipped with -short")
	}
	root := vectorsRoot(t)
	names := kmip.NewNames()
	sets := conformanceSets()
	vs, err := LoadVectors(root, sets, names)
	if err != nil {
		t.Fatal(err)
	}
	hsm := hsmtest.New(t)
	tc := newVectorTLS(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := time.Now()
	results := make([]Result, 0, len(vs))
	dataDir := t.TempDir()
	var (
		srv    *vectorServer
		runner *Runner
	)
	stop := func(t testing.TB) {
		if srv != nil {
			srv.stop(t)
			srv = nil
		}
	}
	defer stop(t)
	for i, v := range vs {
		t.Run(v.Name(), func(t *testing.T) {
			// A fresh server per file, or per series (rule series).
			if srv == nil || v.Series == "" || v.SeriesStart {
				stop(t)
				srv = startVectorServer(t, dataDir, hsm, tc)
				runner = &Runner{Dial: srv.dial(tc), Names: names}
			}
			if next := i + 1; next == len(vs) || vs[next].Series == "" || vs[next].SeriesStart {
				defer stop(t)
			}
			res := runner.Run(ctx, v)
			results = append(results, res)
			reason, known := KnownFailures[v.Name()]
			switch {
			case !res.Passed && !known:
				t.Errorf("%s fails and is not in KnownFailures: %s", v.Name(), firstDifference(res))
			case res.Passed && known:
				t.Errorf("%s passes now: remove it from KnownFailures (known_failures.go; it was %q)", v.Name(), reason)
			case !res.Passed:
				t.Logf("known failure (%s): %s", reason, firstDifference(res))
			}
		})
	}
	checkKnownFailuresExist(t, vs, sets)

	elapsed := time.Since(started)
	per := map[string][2]int{}
	for _, r := range results {
		c := per[r.Set]
		c[0]++
		if r.Passed {
			c[1]++
		}
		per[r.Set] = c
	}
	for _, s := range sets {
		t.Logf("%s: %d of %d vectors pass", s, per[s][1], per[s][0])
	}
	t.Logf("%d vectors in %v", len(results), elapsed.Round(time.Millisecond))
	logSlowest(t, results)

	if path := os.Getenv(envReport); path != "" {
		writeConformanceReport(t, path, results, sets)
	}
	if path := os.Getenv(envPropose); path != "" {
		proposeKnownFailures(t, path, results)
	}
}

// proposeKnownFailures writes a draft of KnownFailures: the reviewed
// reasons already there, and the cause of every other failure.
func proposeKnownFailures(t *testing.T, path string, results []Result) {
	t.Helper()
	var buf bytes.Buffer
	for _, r := range results {
		if r.Passed {
			continue
		}
		reason, ok := KnownFailures[r.Name]
		if !ok {
			reason = "TODO review: " + stable(firstDifference(r))
		}
		fmt.Fprintf(&buf, "\t%q: %q,\n", r.Name, reason)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatalf("propose known failures: %v", err)
	}
}

// checkKnownFailuresExist refuses entries for vectors that do not exist in
// the sets that ran, so that a renamed file cannot hide.
func checkKnownFailuresExist(t *testing.T, vs []*Vector, sets []string) {
	t.Helper()
	have := map[string]bool{}
	for _, v := range vs {
		have[v.Name()] = true
	}
	for name := range KnownFailures {
		set := name[:strings.LastIndexByte(name, '/')]
		if slices.Contains(sets, set) && !have[name] {
			t.Errorf("KnownFailures lists %s, which is not a vector of %s", name, set)
		}
	}
}

func logSlowest(t *testing.T, results []Result) {
	t.Helper()
	sorted := slices.Clone(results)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Duration > sorted[j].Duration })
	for _, r := range sorted[:min(5, len(sorted))] {
		t.Logf("slow: %s took %v", r.Name, r.Duration.Round(time.Millisecond))
	}
}

func writeConformanceReport(t *testing.T, path string, results []Result, sets []string) {
	t.Helper()
	var buf bytes.Buffer
	pre := "Generated by `make conformance` (TestConformance in `conformance/`, with " +
		envAll + "=1 and " + envReport + "); do not edit by hand.\n\n" +
		"Each vector file of the sets " + "`" + strings.Join(sets, "`, `") + "`" +
		" is played against kmipd started in-process: real mutual TLS on 127.0.0.1, the real " +
		"service over a SoftHSM token, and a fresh bbolt store and audit log per file. " +
		"A failure marked *known* is listed, with its reason, in `conformance/known_failures.go`; " +
		"any other failure fails the test. Against another server, run " +
		"`kmipd conformance --vectors DIR --addr HOST:PORT --ca FILE --cert FILE --key FILE`."
	if err := WriteReport(&buf, results, ReportOptions{Preamble: pre, KnownFailures: KnownFailures}); err != nil {
		t.Fatalf("conformance report: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatalf("conformance report: %v", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatalf("conformance report: %v", err)
	}
	t.Logf("conformance report written to %s", path)
}
