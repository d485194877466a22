package conformance

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// ReportOptions configure WriteReport.
type ReportOptions struct {
	// Title heads the report.
	Title string
	// Preamble is Markdown put under the title: how the report was made.
	Preamble string
	// KnownFailures maps a vector's Name to the reviewed reason it fails.
	KnownFailures map[string]string
}

// WriteReport writes the Markdown conformance report: totals per set, the
// failures grouped by cause, the comparison rules, and one row per vector.
// It holds no times or durations, so that a run that changes nothing
// changes nothing in the file.
func WriteReport(w io.Writer, results []Result, opts ReportOptions) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(bw, format, args...) } // errors surface at Flush
	title := opts.Title
	if title == "" {
		title = "KMIP conformance: OASIS test vectors"
	}
	p("# %s\n\n", title)
	if opts.Preamble != "" {
		p("%s\n\n", strings.TrimSpace(opts.Preamble))
	}

	sets := setOrder(results)
	p("## Totals\n\n")
	p("| Set | Files | Pass | Fail | of which known failures |\n|---|---:|---:|---:|---:|\n")
	var tf, tp, tk int
	for _, s := range sets {
		var n, pass, known int
		for _, r := range results {
			if r.Set != s {
				continue
			}
			n++
			if r.Passed {
				pass++
			} else if _, ok := opts.KnownFailures[r.Name]; ok {
				known++
			}
		}
		p("| %s | %d | %d | %d | %d |\n", s, n, pass, n-pass, known)
		tf, tp, tk = tf+n, tp+pass, tk+known
	}
	p("| **total** | %d | %d | %d | %d |\n\n", tf, tp, tf-tp, tk)

	if groups := GroupFailures(results, opts.KnownFailures); len(groups) > 0 {
		p("## Failures by cause\n\n")
		p("Known failures are grouped by their reviewed reason; others by the operation of the failing step and where its response first differs.\n\n")
		p("| Files | Cause | Examples |\n|---:|---|---|\n")
		for _, g := range groups {
			ex := g.Names
			if len(ex) > 4 {
				ex = append(ex[:4:4], fmt.Sprintf("… %d more", len(g.Names)-4))
			}
			p("| %d | %s | %s |\n", len(g.Names), mdCell(g.Cause), mdCell(strings.Join(ex, ", ")))
		}
		p("\n")
	}

	p("## Comparison rules\n\n")
	p("Every response is compared exactly except where one of these rules says otherwise.\n\n")
	p("The last column counts the vectors whose run applied the rule.\n\n")
	p("| Rule | Applies to | What the runner does | Why | Vectors |\n|---|---|---|---|---:|\n")
	used := map[string]int{}
	for _, r := range results {
		for _, id := range r.Rules {
			used[id]++
		}
	}
	for _, r := range Rules {
		n := strconv.Itoa(used[r.ID])
		if generalRules[r.ID] {
			n = "all"
		}
		p("| `%s` | %s | %s | %s | %s |\n", r.ID, mdCell(r.Scope), mdCell(r.Action), mdCell(r.Reason), n)
	}
	p("\n")

	for _, s := range sets {
		p("## %s\n\n", s)
		p("| Vector | Version | Result | First difference |\n|---|---|---|---|\n")
		for _, r := range results {
			if r.Set != s {
				continue
			}
			result := "pass"
			if !r.Passed {
				result = "**fail**"
				if _, ok := opts.KnownFailures[r.Name]; ok {
					result = "fail (known)"
				}
			}
			p("| %s | %s | %s | %s |\n", r.ID, r.Version, result, mdCell(stable(firstDifference(r))))
		}
		p("\n")
	}
	return bw.Flush()
}

// generalRules apply to every vector; the others are counted.
var generalRules = map[string]bool{
	RuleExact: true, RuleCleanStore: true, RuleStopAtFirst: true, RuleBatchItems: true, RuleXMLValueNormalizing: true,
}

// firstDifference says where and how a failed run differed.
func firstDifference(r Result) string {
	if r.Passed {
		return ""
	}
	if r.Step == 0 {
		return r.Difference
	}
	ops := make([]string, len(r.Operations))
	for i, op := range r.Operations {
		ops[i] = op.String()
	}
	s := fmt.Sprintf("step %d/%d (%s, line %d): %s", r.Step, r.Steps, strings.Join(ops, "+"), r.Line, r.Difference)
	if r.Rule != "" {
		s += " [" + r.Rule + "]"
	}
	return s
}

// uuidRE matches the UUIDs kmipd (and most servers) use as identifiers.
var uuidRE = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// stable removes from a difference what changes from run to run: the
// identifiers no label names.
func stable(s string) string { return uuidRE.ReplaceAllString(s, "<id>") }

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	return s
}

func setOrder(results []Result) []string {
	var sets []string
	seen := map[string]bool{}
	for _, r := range results {
		if !seen[r.Set] {
			seen[r.Set] = true
			sets = append(sets, r.Set)
		}
	}
	return sets
}

// FailureGroup is a cause of failure and the vectors failing with it.
type FailureGroup struct {
	Cause string
	Names []string
}

var (
	indexRE = regexp.MustCompile(`\[\d+\]`)
	quoteRE = regexp.MustCompile(`"[^"]*"`)
	countRE = regexp.MustCompile(`\b\d+\b`)
)

// Cause classifies a failure: the failing step's operations and the
// difference with the details that vary from file to file (indexes,
// quoted text, counts) removed.
func Cause(r Result) string {
	if r.Passed {
		return ""
	}
	if r.Step == 0 {
		return "cannot run: " + countRE.ReplaceAllString(r.Difference, "N")
	}
	ops := make([]string, len(r.Operations))
	for i, op := range r.Operations {
		ops[i] = op.String()
	}
	d := indexRE.ReplaceAllString(stable(r.Difference), "")
	d = quoteRE.ReplaceAllString(d, `"…"`)
	d = countRE.ReplaceAllString(d, "N")
	// Identifiers and times differ in every file.
	if i := strings.Index(d, ", bound to"); i >= 0 {
		d = d[:i]
	}
	if i := strings.Index(d, ": between"); i >= 0 {
		d = d[:i]
	}
	return strings.Join(ops, "+") + ": " + d
}

// GroupFailures groups the failed results by their reason in known (the
// reviewed reasons), else by Cause; largest group first.
func GroupFailures(results []Result, known map[string]string) []FailureGroup {
	idx := map[string]int{}
	var groups []FailureGroup
	for _, r := range results {
		if r.Passed {
			continue
		}
		c, ok := known[r.Name]
		if !ok {
			c = "not reviewed: " + Cause(r)
		}
		i, ok := idx[c]
		if !ok {
			i = len(groups)
			idx[c] = i
			groups = append(groups, FailureGroup{Cause: c})
		}
		groups[i].Names = append(groups[i].Names, r.Name)
	}
	sort.SliceStable(groups, func(i, j int) bool { return len(groups[i].Names) > len(groups[j].Names) })
	return groups
}

// WriteTable writes one line per result, for a terminal: name, version,
// result, first difference.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "VECTOR\tVERSION\tRESULT\tFIRST DIFFERENCE")
	pass := 0
	for _, r := range results {
		res := "FAIL"
		if r.Passed {
			res = "pass"
			pass++
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, r.Version, res, firstDifference(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d of %d vectors passed\n", pass, len(results))
	return err
}
