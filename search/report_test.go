package search

import (
	"strings"
	"testing"
)

// The report says when the subnet comes from the exact climb rather than
// from the evolution whose generations it lists.
func TestReportSaysFallback(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		r := &Report{Target: "fpga-zu9", Search: SearchSummary{Population: 100, Generations: 500, Fallback: fallback}}
		if got := strings.Contains(string(r.Markdown()), "hill climb on the exact model"); got != fallback {
			t.Errorf("fallback %v: report mentions the climb: %v", fallback, got)
		}
	}
}
