package search

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseValue reads a budget for the constraint name: a latency with a time
// unit (5ms, 500us, 0.2s; a bare number is milliseconds), a byte size for
// *_bytes (320KB, 1MB, 1.5MiB, 4096; KB and KiB are both 1024 bytes, as
// datasheets count memory) or a plain count for anything else (dsp 360,
// lut 70k).
func ParseValue(name, s string) (float64, error) {
	orig := s
	s = strings.TrimSpace(s)
	num, unit := splitUnit(s)
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("%s budget %q is not a non-negative number with an optional unit", name, orig)
	}
	u := strings.ToLower(unit)
	var mult float64
	switch {
	case name == LatencyKey:
		mult = map[string]float64{"": 1, "ms": 1, "s": 1000, "us": 1e-3, "µs": 1e-3, "ns": 1e-6}[u]
		if mult == 0 {
			return 0, fmt.Errorf("latency budget %q: unit %q is not one of s, ms, us, ns", orig, unit)
		}
	case strings.HasSuffix(name, "_bytes"):
		mult = map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}[u]
		if mult == 0 {
			return 0, fmt.Errorf("%s budget %q: unit %q is not one of B, KB, MB, GB", name, orig, unit)
		}
	default:
		mult = map[string]float64{"": 1, "k": 1e3, "m": 1e6}[u]
		if mult == 0 {
			return 0, fmt.Errorf("%s budget %q: unit %q is not one of k, M (or none)", name, orig, unit)
		}
	}
	return v * mult, nil
}

func splitUnit(s string) (num, unit string) {
	i := len(s)
	for i > 0 {
		c := s[i-1]
		if (c >= '0' && c <= '9') || c == '.' {
			break
		}
		i--
	}
	return strings.TrimSpace(s[:i]), strings.TrimSpace(s[i:])
}

// FormatValue prints a value of the named constraint with its unit.
func FormatValue(name string, v float64) string {
	switch {
	case name == LatencyKey:
		return strconv.FormatFloat(v, 'f', 3, 64) + "ms"
	case strings.HasSuffix(name, "_bytes"):
		switch {
		case v >= 1<<20:
			return strconv.FormatFloat(v/(1<<20), 'f', 2, 64) + "MB"
		case v >= 1<<10:
			return strconv.FormatFloat(v/(1<<10), 'f', 1, 64) + "KB"
		}
		return strconv.FormatFloat(v, 'f', 0, 64) + "B"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
