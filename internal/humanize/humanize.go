// Package humanize formats numbers for people: the CLI's tables and the
// build reports share it so a count reads the same everywhere.
package humanize

import (
	"fmt"
	"strconv"
	"time"
)

// Count writes n with thousands separators ("24,960,000"), so large counts
// of MACs, parameters, bytes and cycles read at a glance.
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// Duration writes d to the second below a minute ("45s"), else to the
// minute ("12m", "1h05m"): how long a long job still needs, not a timing.
func Duration(d time.Duration) string {
	if s := d.Round(time.Second); s < time.Minute {
		return fmt.Sprintf("%ds", int(s/time.Second))
	}
	m := int(d.Round(time.Minute) / time.Minute)
	if m < 60 {
		return fmt.Sprintf("%dm", m)
	}
	return fmt.Sprintf("%dh%02dm", m/60, m%60)
}
