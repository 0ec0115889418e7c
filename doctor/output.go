package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints the findings as an aligned table, then a summary line.
func WriteTable(w io.Writer, findings []Finding) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tSTATUS\tOBJECT\tDETAIL\tHINT")
	counts := map[Status]int{}
	for _, f := range findings {
		counts[f.Status]++
		hint := f.Hint
		if hint == "" {
			hint = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Check, f.Status, f.Object, f.Detail, hint)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "all is well"
	switch {
	case counts[Fail] > 0:
		verdict = "something needs action"
	case counts[Warn] > 0:
		verdict = "nothing failed, some things are worth a look"
	}
	_, err := fmt.Fprintf(w, "\n%d OK, %d WARN, %d FAIL: %s\n", counts[OK], counts[Warn], counts[Fail], verdict)
	return err
}

// report is the JSON document of -o json.
type report struct {
	NeedsAction bool      `json:"needsAction"`
	Findings    []Finding `json:"findings"`
}

// WriteJSON prints the findings as one JSON document, for scripts.
func WriteJSON(w io.Writer, findings []Finding) error {
	if findings == nil {
		findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(report{NeedsAction: NeedsAction(findings), Findings: findings})
}
