package hls

import (
	"fmt"
	"math"
	"strings"

	"github.com/ofac-dev/ofac/backends"
	"github.com/ofac-dev/ofac/ir"
)

// Plan is the schedule of one graph on one part: the lanes of every class,
// and the loop nest and cost of every layer that follow from them. The
// emitter writes its pragmas from it and the estimate sums it.
type Plan struct {
	Target   string  `json:"target"`
	Part     string  `json:"part"`
	ClockMHz float64 `json:"clock_mhz"`
	// Mode is "sequential": the top calls the layers one after the other.
	Mode    string       `json:"mode"`
	Classes []ClassPlan  `json:"classes"`
	Layers  []LayerPlan  `json:"layers"`
	Buffers []BufferPlan `json:"buffers"`
	// Steps is how many lane increases the planner made.
	Steps int    `json:"planner_steps"`
	Total Totals `json:"total"`
}

// ClassPlan is a lane class: buffers that share a lane count.
type ClassPlan struct {
	ID       int      `json:"id"`
	Channels int      `json:"channels"`
	Lanes    int      `json:"lanes"`
	Values   []string `json:"values"`
}

// Totals are the whole design's figures.
type Totals struct {
	LatencyCycles int64   `json:"latency_cycles"`
	LatencyMs     float64 `json:"latency_ms"`
	// DataflowIntervalCycles is a what-if: the slowest layer, the interval
	// between images a DATAFLOW version (ping-pong buffers between layers,
	// about twice the buffer memory) would reach. The emitted design is
	// sequential and does not.
	DataflowIntervalCycles int64   `json:"dataflow_interval_cycles_whatif"`
	DSP                    int     `json:"dsp"`
	BRAM18                 int     `json:"bram18"`
	BRAM36                 float64 `json:"bram36"`
	LUT                    int     `json:"lut"`
	FF                     int     `json:"ff"`
	WeightBRAM18           int     `json:"weights_bram18"`
	BufferBRAM18           int     `json:"buffers_bram18"`
}

// UtilCap is the share of each resource the planner grows a design to:
// the rest is headroom for placement and routing, and for what the model
// does not see. A design whose one-lane form exceeds the part (100%) is an
// error; one between UtilCap and 100% is emitted without growth.
const UtilCap = 0.8

// Resource weights for the planner's priority, in DSP-equivalents: one
// unit of a resource is worth its share of a DSP in the ZU9EG's proportions
// (2520 DSP : 1824 BRAM18 : 274080 LUT : 548160 FF). They are fixed, not
// the target's, so that the order of planner steps is the same on every
// part (see plan).
const (
	weightBRAM18 = 2520.0 / 1824
	weightLUT    = 2520.0 / 274080
	weightFF     = 2520.0 / 548160
)

// plan chooses the lanes of every class for part s.
//
// Algorithm (greedy, marginal gain per resource): start with one lane
// everywhere. At each step, consider for every class not yet frozen raising
// its lanes to the next divisor of its channel count; the candidate's gain
// is the cycles it saves over the layers that touch the class, its price
// the DSP, BRAM, LUT and FF it adds (weighted as above, with a small floor
// so that free steps go first). Take the candidate with the best
// gain/price (ties: lowest class). If the resulting design takes any
// resource over UtilCap of the part (after binding requantization
// multipliers to LUTs where DSPs run short, see fabric), undo it and freeze
// the class. Stop when no candidate saves cycles.
//
// A greedy plan is not monotone in the budget by itself, so plan also runs
// the greedy under the budget of every known part that has at most s's
// resources (and the same clock), builds each result on s (it fits, having
// fit a smaller budget) and keeps the fastest. A part with more of every
// resource thus considers every plan a smaller one could choose, and a
// subnet is never estimated faster on fpga-zu3 than on fpga-zu9.
func plan(d *design, s Spec, target string) (*Plan, error) {
	ones := make([]int, len(d.classes))
	for i := range ones {
		ones[i] = 1
	}
	layers, bufs := d.build(ones)
	fabric(layers, s, 1)
	if over := overBy(totals(layers, bufs, s), s, 1); over != "" {
		return nil, &backends.DoesNotFitError{Cost: costOf(d.planWith(ones, s, target, 0)),
			Reason: fmt.Sprintf("%s (%s): the subnet does not fit even with one lane per layer: %s", target, s.Part, over)}
	}
	var best *Plan
	for _, budget := range append([]Spec{s}, knownParts...) {
		if budget != s && !(budget.ClockMHz == s.ClockMHz && budget.DSP <= s.DSP && budget.BRAM36 <= s.BRAM36 && budget.LUT <= s.LUT && budget.FF <= s.FF) {
			continue
		}
		lanes, steps := d.greedy(budget)
		p := d.planWith(lanes, s, target, steps)
		if overBy(p.Total, s, 1) != "" {
			continue // cannot happen for budget <= s; kept as a guard
		}
		if best == nil || p.Total.LatencyCycles < best.Total.LatencyCycles {
			best = p
		}
	}
	return best, nil
}

// planWith is the plan of the given lanes on part s (steps is the planner's
// count), its requantization multipliers bound to LUTs where the DSPs
// would exceed UtilCap. Tests call it to emit lanes of their choice.
func (d *design) planWith(lanes []int, s Spec, target string, steps int) *Plan {
	layers, bufs := d.build(lanes)
	if !fabric(layers, s, UtilCap) || overBy(totals(layers, bufs, s), s, UtilCap) != "" {
		fabric(layers, s, 1)
	}
	p := &Plan{Target: target, Part: s.Part, ClockMHz: s.ClockMHz, Mode: "sequential",
		Layers: layers, Buffers: bufs, Steps: steps, Total: totals(layers, bufs, s)}
	for k, cl := range d.classes {
		cp := ClassPlan{ID: k, Channels: cl.channels, Lanes: lanes[k]}
		for _, b := range cl.buffers {
			cp.Values = append(cp.Values, d.buffers[b].v.Ref())
		}
		p.Classes = append(p.Classes, cp)
	}
	return p
}

// knownParts are the parts plan also tries the budgets of.
var knownParts = []Spec{ZU3, ZU9}

// build costs every layer and buffer for the given lanes, all multipliers
// on DSPs.
func (d *design) build(lanes []int) ([]LayerPlan, []BufferPlan) {
	layers := make([]LayerPlan, len(d.layers))
	for i, l := range d.layers {
		layers[i] = d.cost(l, lanes)
	}
	bufs := make([]BufferPlan, len(d.slots))
	for i, sl := range d.slots {
		bufs[i] = d.bufferCost(sl, lanes)
	}
	return layers, bufs
}

// greedy runs the planner's greedy under budget s and returns the lanes and
// the number of steps taken.
func (d *design) greedy(s Spec) ([]int, int) {
	lanes := make([]int, len(d.classes))
	for i := range lanes {
		lanes[i] = 1
	}
	layers, bufs := d.build(lanes)
	frozen := make([]bool, len(d.classes))
	steps := 0
	for {
		bestK, bestScore := -1, 0.0
		var bestLayers []LayerPlan
		var bestBufs []BufferPlan
		for k, cl := range d.classes {
			next := nextDivisor(cl.divisors, lanes[k])
			if next == 0 || frozen[k] {
				continue
			}
			old := lanes[k]
			lanes[k] = next
			var gain int64
			var price float64
			nl := make([]LayerPlan, len(cl.layers))
			for j, li := range cl.layers {
				nl[j] = d.cost(d.layers[li], lanes)
				o := layers[li]
				gain += o.Cycles - nl[j].Cycles
				price += float64(nl[j].DSP-o.DSP) + weightBRAM18*float64(nl[j].BRAM18-o.BRAM18) +
					weightLUT*float64(nl[j].LUT-o.LUT) + weightFF*float64(nl[j].FF-o.FF)
			}
			nb := make([]BufferPlan, len(cl.slots))
			for j, bi := range cl.slots {
				nb[j] = d.bufferCost(d.slots[bi], lanes)
				price += weightBRAM18*float64(nb[j].BRAM18-bufs[bi].BRAM18) + weightLUT*float64(nb[j].LUT-bufs[bi].LUT)
			}
			lanes[k] = old
			if gain <= 0 {
				continue
			}
			score := float64(gain) / math.Max(price, 0.05)
			if bestK < 0 || score > bestScore {
				bestK, bestScore, bestLayers, bestBufs = k, score, nl, nb
			}
		}
		if bestK < 0 {
			return lanes, steps
		}
		cl := d.classes[bestK]
		saveL := make([]LayerPlan, len(cl.layers))
		saveB := make([]BufferPlan, len(cl.slots))
		for j, li := range cl.layers {
			saveL[j], layers[li] = layers[li], bestLayers[j]
		}
		for j, bi := range cl.slots {
			saveB[j], bufs[bi] = bufs[bi], bestBufs[j]
		}
		ok := fabric(layers, s, UtilCap) && overBy(totals(layers, bufs, s), s, UtilCap) == ""
		fabric(layers, s, 0)
		if !ok {
			for j, li := range cl.layers {
				layers[li] = saveL[j]
			}
			for j, bi := range cl.slots {
				bufs[bi] = saveB[j]
			}
			frozen[bestK] = true
			continue
		}
		lanes[bestK] = nextDivisor(cl.divisors, lanes[bestK])
		steps++
	}
}

// fabric binds the 32x32 requantization multipliers of layers to LUTs, in
// graph order, until the design's DSPs are within frac of the part; it
// reports whether they are. frac 0 moves every multiplier back to DSPs.
//
// The planner prices its steps with every multiplier on DSPs; fabric only
// decides, per part, how a state is built. A part with more of every
// resource binds a prefix of the layers a smaller one binds, so a state
// that fits the smaller part fits the larger one too.
func fabric(layers []LayerPlan, s Spec, frac float64) bool {
	dsp := 0
	for i := range layers {
		layers[i].setFabric(false)
		dsp += layers[i].DSP
	}
	if frac == 0 {
		return true
	}
	lim := int(frac * float64(s.DSP))
	for i := range layers {
		if dsp <= lim {
			break
		}
		if layers[i].Mul32 > 0 {
			layers[i].setFabric(true)
			dsp -= layers[i].Mul32 * dspMul32
		}
	}
	return dsp <= lim
}

func nextDivisor(ds []int, cur int) int {
	for _, v := range ds {
		if v > cur {
			return v
		}
	}
	return 0
}

func totals(layers []LayerPlan, bufs []BufferPlan, s Spec) Totals {
	t := Totals{LUT: lutTop, FF: ffTop}
	for _, l := range layers {
		t.LatencyCycles += l.Cycles
		t.DataflowIntervalCycles = max(t.DataflowIntervalCycles, l.Cycles)
		t.DSP += l.DSP
		t.BRAM18 += l.BRAM18
		t.WeightBRAM18 += l.BRAM18
		t.LUT += l.LUT
		t.FF += l.FF
	}
	for _, b := range bufs {
		t.BRAM18 += b.BRAM18
		t.BufferBRAM18 += b.BRAM18
		t.LUT += b.LUT
	}
	t.BRAM36 = float64(t.BRAM18) / 2
	t.LatencyMs = float64(t.LatencyCycles) / (s.ClockMHz * 1e3)
	return t
}

// overBy describes every resource above frac of the part, or "".
func overBy(t Totals, s Spec, frac float64) string {
	var out []string
	check := func(name string, used, avail float64, detail string) {
		if lim := avail * frac; used > lim {
			out = append(out, fmt.Sprintf("%s needs %g of %g%s (over by %g, %.0f%% of the part)", name, used, lim, detail, used-lim, 100*used/avail))
		}
	}
	check("BRAM36", t.BRAM36, float64(s.BRAM36), fmt.Sprintf(" [weights %g, activation buffers %g]", float64(t.WeightBRAM18)/2, float64(t.BufferBRAM18)/2))
	check("DSP", float64(t.DSP), float64(s.DSP), "")
	check("LUT", float64(t.LUT), float64(s.LUT), "")
	check("FF", float64(t.FF), float64(s.FF), "")
	return strings.Join(out, "; ")
}

// Utilisation is the share of each of the part's resources the plan uses.
func (p *Plan) Utilisation(s Spec) map[string]float64 {
	return map[string]float64{
		"dsp":    float64(p.Total.DSP) / float64(s.DSP),
		"bram36": p.Total.BRAM36 / float64(s.BRAM36),
		"lut":    float64(p.Total.LUT) / float64(s.LUT),
		"ff":     float64(p.Total.FF) / float64(s.FF),
	}
}

// PlanFor analyses g (an int8 graph) and plans it for part s.
func PlanFor(g *ir.Graph, s Spec, target string) (*Plan, error) {
	p, _, err := compile(g, s, target)
	return p, err
}

// compile analyses g and plans it for s: what both Estimate and Emit start
// from.
func compile(g *ir.Graph, s Spec, target string) (*Plan, *design, error) {
	d, err := analyse(g)
	if err != nil {
		return nil, nil, err
	}
	p, err := plan(d, s, target)
	if err != nil {
		return nil, nil, err
	}
	return p, d, nil
}
