package main

import (
	"regexp"
	"strings"
)

// table is one box-drawn table of a w3m dump of a KMIP specification.
type table struct {
	Line    int        // 1-based line of the opening '┌'
	Section string     // number of the enclosing section heading, e.g. "9.1.3.2.13"
	Heading string     // title of the enclosing section heading
	Caption string     // "Table 301: Cryptographic Algorithm Enumeration" without the number
	Rows    [][]string // cells of each row, multi-line cells joined by one space
}

var (
	headingRE = regexp.MustCompile(`^(\d+(?:\.\d+)*)\.?\s+([A-Z(].*)$`)
	captionRE = regexp.MustCompile(`^Table\s+\d+:?\s*(.*)$`)
	spaceRE   = regexp.MustCompile(`\s+`)
	tocRE     = regexp.MustCompile(`\.\s*\d+$`)
)

// parseTables finds every box table in the text. A row runs from one
// horizontal rule ('┌', '├') to the next; each '│'-separated cell of its
// lines is joined with the same cell of the row's other lines. Rows whose
// cell count differs from their neighbours (spanning titles) are kept as is.
func parseTables(text string) []table {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var (
		tables  []table
		section string
		heading string
	)
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if m := headingRE.FindStringSubmatch(l); m != nil && isHeading(l, m[2]) {
			section, heading = m[1], m[2]
			continue
		}
		if !strings.HasPrefix(l, "┌") {
			continue
		}
		t := table{Line: i + 1, Section: section, Heading: heading}
		var cur [][]string // lines of the current row, split in cells
		flush := func() {
			if len(cur) == 0 {
				return
			}
			n := 0
			for _, c := range cur {
				n = max(n, len(c))
			}
			row := make([]string, n)
			for _, c := range cur {
				for j, s := range c {
					s = strings.TrimSpace(s)
					if s == "" {
						continue
					}
					if row[j] == "" {
						row[j] = s
					} else {
						row[j] += " " + s
					}
				}
			}
			for j := range row {
				row[j] = spaceRE.ReplaceAllString(row[j], " ")
			}
			t.Rows = append(t.Rows, row)
			cur = nil
		}
		for i++; i < len(lines); i++ {
			l = strings.TrimSpace(lines[i])
			if strings.HasPrefix(l, "└") {
				flush()
				break
			}
			if strings.HasPrefix(l, "├") || strings.HasPrefix(l, "┌") {
				flush()
				continue
			}
			if !strings.HasPrefix(l, "│") {
				// Text outside the box (page furniture); end of the table.
				flush()
				i--
				break
			}
			// Drop the outer borders, split on the inner ones. A line may
			// carry a partial rule ("│ ├───┤") for spanning headers.
			inner := strings.TrimSuffix(strings.TrimPrefix(l, "│"), "│")
			cells := strings.Split(inner, "│")
			for j, c := range cells {
				if strings.Trim(c, "─┼┬┴├┤ ") == "" && strings.ContainsAny(c, "─") {
					cells[j] = ""
				}
			}
			cur = append(cur, cells)
		}
		// Caption: the first non-blank line after the table.
		for k := i + 1; k < len(lines) && k < i+4; k++ {
			s := strings.TrimSpace(lines[k])
			if s == "" {
				continue
			}
			if m := captionRE.FindStringSubmatch(s); m != nil {
				t.Caption = strings.TrimSpace(m[1])
			}
			break
		}
		tables = append(tables, t)
	}
	return tables
}

// isHeading tells a section heading ("3.19 Cryptographic Usage Mask") from
// numbered list items and table-of-contents lines, which end in a page
// number or in punctuation.
func isHeading(line, title string) bool {
	if strings.ContainsAny(line, "│┌├└") || tocRE.MatchString(line) || len(title) > 80 {
		return false
	}
	return !strings.HasSuffix(title, ":") && !strings.HasSuffix(title, ".") && !strings.HasSuffix(title, ",")
}
