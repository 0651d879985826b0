package passes

import (
	"fmt"
	"math"
	"slices"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
)

// Range is the span of real values calibration assigns to one value.
type Range struct{ Min, Max float64 }

// maxKept bounds how many values per tensor percentile calibration keeps:
// enough for a percentile to be accurate to well under 0.1%, small enough
// that 512 samples of the largest subnet fit in tens of megabytes.
const maxKept = 1 << 16

// Calibrate runs the float graph g with the reference interpreter on every
// sample and returns the range of each graph input and node result: its
// minimum and maximum, or, when 0 < percentile < 100, the (100-percentile)th
// and percentile-th percentiles, which ignore rare outliers at the price of
// clipping them.
//
// Percentiles are taken over a deterministic subsample: from each sample,
// every k-th element of a tensor, with k chosen so a tensor keeps at most
// about maxKept values over all samples and the starting element rotating
// from sample to sample.
func Calibrate(g *ir.Graph, samples [][]Sample, percentile float64) (map[*ir.Value]Range, error) {
	c, err := calibrate(g, samples, percentile, nil, nil)
	if err != nil {
		return nil, err
	}
	return c.ranges, nil
}

// observed is what calibrate saw.
type observed struct {
	ranges map[*ir.Value]Range
	// kept is the subsample of real values of every value calibrate was
	// asked to keep (of every value, with a percentile).
	kept map[*ir.Value][]float32
	// channels holds, for the values calibrate was asked to watch per
	// channel, the min/max of each channel (axis 1).
	channels map[*ir.Value][]Range
}

// calibrate is Calibrate that also keeps the values of keep and the
// per-channel ranges of perChannel.
func calibrate(g *ir.Graph, samples [][]Sample, percentile float64, keep, perChannel map[*ir.Value]bool) (*observed, error) {
	if len(samples) == 0 {
		return nil, fmt.Errorf("no calibration samples")
	}
	usePct := percentile > 0 && percentile < 100
	if percentile != 0 && !usePct {
		return nil, fmt.Errorf("percentile %g must be in (0, 100), or 0 for min/max", percentile)
	}
	it, err := interp.New(g)
	if err != nil {
		return nil, err
	}
	values := append([]*ir.Value(nil), g.Inputs...)
	for _, n := range g.Nodes {
		values = append(values, n.Output)
	}
	ranges := make(map[*ir.Value]Range, len(values))
	for _, v := range values {
		ranges[v] = Range{Min: math.Inf(1), Max: math.Inf(-1)}
	}
	kept := map[*ir.Value][]float32{}
	channels := map[*ir.Value][]Range{}
	for v := range perChannel {
		if len(v.Shape) < 2 {
			return nil, fmt.Errorf("%s has no channel axis", v.Ref())
		}
		channels[v] = make([]Range, v.Shape[1])
		for c := range channels[v] {
			channels[v][c] = Range{Min: math.Inf(1), Max: math.Inf(-1)}
		}
	}
	perSample := max(1, maxKept/len(samples))
	for si, s := range samples {
		if len(s) != len(g.Inputs) {
			return nil, fmt.Errorf("sample %d has %d tensors, graph %s takes %d inputs", si, len(s), g.Name, len(g.Inputs))
		}
		ins := make([]interp.Tensor, len(s))
		for i, t := range s {
			ins[i] = interp.Tensor{Shape: t.Shape, Data: t.Data}
		}
		all, err := it.RunAll(ins...)
		if err != nil {
			return nil, fmt.Errorf("sample %d: %w", si, err)
		}
		for _, v := range values {
			d := all[v].Data
			r := ranges[v]
			for _, x := range d {
				f := float64(x)
				if math.IsNaN(f) || math.IsInf(f, 0) {
					return nil, fmt.Errorf("sample %d: %s takes the non-finite value %g", si, v.Ref(), f)
				}
				r.Min, r.Max = min(r.Min, f), max(r.Max, f)
			}
			ranges[v] = r
			if cr := channels[v]; cr != nil {
				inner := len(d) / (v.Shape[0] * len(cr))
				for i, x := range d {
					c := &cr[(i/inner)%len(cr)]
					c.Min, c.Max = min(c.Min, float64(x)), max(c.Max, float64(x))
				}
			}
			if usePct || keep[v] {
				stride := max(1, (len(d)+perSample-1)/perSample)
				for i := si % stride; i < len(d); i += stride {
					kept[v] = append(kept[v], d[i])
				}
			}
		}
	}
	if usePct {
		q := percentile / 100
		for _, v := range values {
			k := kept[v]
			slices.Sort(k)
			ranges[v] = Range{Min: float64(k[rank(len(k), 1-q)]), Max: float64(k[rank(len(k), q)])}
		}
	}
	return &observed{ranges: ranges, kept: kept, channels: channels}, nil
}

// rank is the index of the q-quantile in n sorted values (nearest rank).
func rank(n int, q float64) int {
	return min(n-1, max(0, int(math.Round(q*float64(n-1)))))
}
