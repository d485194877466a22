package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
)

// writeCSV writes rows behind a comment naming the producer. The tables are
// read back with csv.Reader.Comment = '#'.
func writeCSV(path string, rows [][]string) error {
	var b bytes.Buffer
	b.WriteString("# Extracted from the KMIP 1.4, 2.0 and 2.1 specification text by\n")
	b.WriteString("# kmip/internal/gen/extract. Do not edit: change the extractor and rerun it.\n")
	w := csv.NewWriter(&b)
	if err := w.WriteAll(rows); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// The tables are committed to the repository: readable like any source.
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil { //nolint:gosec // G306: see above
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
