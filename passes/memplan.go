package passes

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ofac-dev/ofac/ir"
)

// The memory planner is an analysis, not a rewrite: it lays every activation
// of a scheduled graph out in one arena (a single static buffer for a
// microcontroller, one BRAM/DDR region for HLS) and records, as data, every
// buffer reuse the emitters must follow.
//
// Steps and lifetimes. Step s is g.Nodes[s]; the graph order is the schedule.
// A node's output is live from its own step to the step of its last reader,
// inclusive (a graph output to the last step). Graph inputs are placed in
// the arena, as TinyEngine does: the caller writes the input there before
// step 0, it is live from step 0 to its last reader, and its bytes are
// reused after that (PlanOptions.ExternalInputs keeps them out instead).
// Constants live in flash and are never planned. Two values live at the
// same step need disjoint bytes, unless the plan says one reuses the other.
//
// Reuse. A node may write its output over the buffer of an input whose
// buffer (the input and everything aliasing it) is read for the last time
// by that node and holds no graph output:
//
//   - alias: reshape never copies; its output is its input's bytes (whether
//     or not the input lives on, since neither is ever written again).
//   - elementwise: relu, clip, hswish, hsigmoid, sigmoid, batchnorm,
//     quantize and dequantize, when input and output elements are the same
//     size, compute y[i] from x[i] alone.
//   - operand: add and mul write over an operand with the output's full
//     shape (never the broadcast one).
//   - residual: conv2d with a fused residual (4th input) accumulates into
//     the residual's buffer: y[o,h,w] = act(conv(x)[o,h,w] + r[o,h,w]).
//   - depthwise: a depthwise conv2d (groups = in = out channels), as in
//     TinyEngine, processes planes p = n*C+c in increasing order: copy input
//     plane p into a scratch buffer of one input plane, then compute output
//     plane p from the scratch into the output. Output plane p ends at or
//     before the end of input plane p (legal when an output plane is no
//     larger than an input plane), so it only overwrites planes already
//     consumed. Taken only when the scratch is smaller than the output.
//
// Values joined by reuse form one buffer: they share a base offset, and
// each keeps its own size and lifetime (a depthwise stride-2 output frees
// the tail of its input's bytes). Scratch buffers are arena buffers live at
// their node's step only.
//
// Lower bound. With the reuse decisions fixed, at every step each buffer
// needs the largest raw size of its values live at that step, and every
// scratch buffer its size; the bytes needed at a step are the sum, and
// LowerBoundBytes is the largest such sum over the steps. No placement with
// those reuse decisions can use less (alignment only adds).
//
// Placement. Buffers (sizes rounded up to the alignment) are placed by
// first-fit: each at the lowest offset where it overlaps no placed buffer
// that is live at a common step. Orders tried: greedy-by-size (largest
// first, then longest lifetime, then earliest step), first-fit in schedule
// order, and plain stacking (every buffer after the last, which can never
// exceed NaiveBytes); the smallest arena wins, earlier strategies on ties.

// DefaultAlignment is the byte alignment of every arena offset unless
// PlanOptions says otherwise.
const DefaultAlignment = 16

// PlanOptions tune PlanMemory.
type PlanOptions struct {
	// Alignment of every buffer offset and size in bytes, a power of two;
	// 0 means DefaultAlignment.
	Alignment int
	// ElemSize, when positive, is the byte size of every activation element
	// whatever its dtype (plan a float graph as if it were int8 with 1).
	// Zero uses each value's dtype size.
	ElemSize int
	// ExternalInputs keeps graph inputs out of the arena: the caller owns
	// their memory, they have no plan entry and no reuse writes over them.
	ExternalInputs bool
	// NoReuse turns off every reuse, aliasing included (each value gets its
	// own bytes): the baseline for measuring what reuse saves.
	NoReuse bool
}

func (o PlanOptions) withDefaults() (PlanOptions, error) {
	if o.Alignment == 0 {
		o.Alignment = DefaultAlignment
	}
	if o.Alignment < 1 || o.Alignment&(o.Alignment-1) != 0 {
		return o, fmt.Errorf("memory plan: alignment %d is not a power of two", o.Alignment)
	}
	if o.ElemSize < 0 {
		return o, fmt.Errorf("memory plan: element size %d is negative", o.ElemSize)
	}
	return o, nil
}

func (o PlanOptions) elemSize(v *ir.Value) int64 {
	if o.ElemSize > 0 {
		return int64(o.ElemSize)
	}
	return int64(v.DType.Size())
}

func (o PlanOptions) bytes(v *ir.Value) int64 {
	return int64(v.Shape.NumElements()) * o.elemSize(v)
}

func (o PlanOptions) align(n int64) int64 {
	a := int64(o.Alignment)
	return (n + a - 1) / a * a
}

func (o PlanOptions) inArena(v *ir.Value) bool {
	return v.Kind == ir.NodeValue || (v.Kind == ir.InputValue && !o.ExternalInputs)
}

// Reuse says how a value's bytes relate to an input of its node.
type Reuse uint8

// The reuse kinds; see the package comment of memplan.go for when each is
// legal and what the emitter must do.
const (
	ReuseNone        Reuse = iota // a buffer of its own
	ReuseAlias                    // reshape: the input's bytes, nothing is written
	ReuseElementwise              // unary element-wise op over its input
	ReuseOperand                  // add/mul over its full-shape operand
	ReuseResidual                 // conv2d accumulating into its fused residual
	ReuseDepthwise                // depthwise conv2d plane by plane through scratch
)

var reuseNames = []string{"", "alias", "elementwise", "operand", "residual", "depthwise"}

func (r Reuse) String() string {
	if int(r) < len(reuseNames) {
		return reuseNames[r]
	}
	return fmt.Sprintf("reuse(%d)", uint8(r))
}

// ValuePlan places one activation.
type ValuePlan struct {
	Value *ir.Value
	// Offset is the value's first byte in the arena, a multiple of the
	// alignment.
	Offset int64
	// Size is the value's bytes, unrounded (it owns Size rounded up to the
	// alignment).
	Size int64
	// First and Last are the steps it is live at, inclusive.
	First, Last int
	// Buffer identifies the values that share a base offset through reuse:
	// the index in MemoryPlan.Values of the one that first owned it.
	Buffer int
	// Reuses is the input whose bytes this value takes over (nil for a
	// buffer of its own), and Reuse says how.
	Reuses *ir.Value
	Reuse  Reuse
}

// NodePlan is what the emitter of one node must follow.
type NodePlan struct {
	Node *ir.Node
	Step int
	// InPlace is the index in Node.Inputs whose buffer the output takes
	// over, -1 when the output has its own.
	InPlace int
	Reuse   Reuse
	// ScratchBytes of temporary storage at ScratchOffset, for this step
	// only (depthwise in place: one input plane). ScratchOffset is -1
	// without scratch.
	ScratchOffset, ScratchBytes int64
}

// StrategyResult is the arena one placement order gave.
type StrategyResult struct {
	Name       string
	ArenaBytes int64
}

// MemoryPlan is the layout of a graph's activations in one arena.
type MemoryPlan struct {
	Options PlanOptions // with defaults filled in
	// Values are the arena's values: graph inputs (unless external), then
	// node outputs in schedule order.
	Values []ValuePlan
	// Nodes has one entry per node, in schedule order.
	Nodes []NodePlan
	// ArenaBytes is the arena size: the end of the last placed byte.
	ArenaBytes int64
	// LowerBoundBytes is the most bytes live at one step given the reuse
	// decisions (see the package comment), at step PeakStep.
	LowerBoundBytes int64
	PeakStep        int
	// NaiveBytes is every arena value in its own aligned buffer, no reuse.
	NaiveBytes int64
	// ScratchBytes is the largest scratch any node needs.
	ScratchBytes int64
	// Strategy names the placement order kept; Tried lists every order
	// tried with its arena.
	Strategy string
	Tried    []StrategyResult

	index map[*ir.Value]int
}

// Value returns v's plan, or nil when v is not in the arena (a constant or
// an external input).
func (p *MemoryPlan) Value(v *ir.Value) *ValuePlan {
	if i, ok := p.index[v]; ok {
		return &p.Values[i]
	}
	return nil
}

// Ratio is ArenaBytes over LowerBoundBytes (1 for an empty plan).
func (p *MemoryPlan) Ratio() float64 {
	if p.LowerBoundBytes == 0 {
		return 1
	}
	return float64(p.ArenaBytes) / float64(p.LowerBoundBytes)
}

// PlanMemory computes lifetimes, reuse decisions and arena offsets for the
// activations of g in its node order.
func PlanMemory(g *ir.Graph, opts PlanOptions) (*MemoryPlan, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	p, err := lifetimes(g, o)
	if err != nil {
		return nil, err
	}
	members := make([][]int, len(p.Values))
	for i := range p.Values {
		members[i] = []int{i}
	}
	pinned := make([]bool, len(p.Values))
	for _, v := range g.Outputs {
		if i, ok := p.index[v]; ok {
			pinned[i] = true
		}
	}
	for s := range p.Nodes {
		np := &p.Nodes[s]
		out := p.index[np.Node.Output]
		if !o.NoReuse {
			decideReuse(p, np, members, pinned)
		}
		if np.InPlace >= 0 {
			vp := &p.Values[out]
			vp.Reuses = np.Node.Inputs[np.InPlace]
			vp.Reuse = np.Reuse
			vp.Buffer = p.Values[p.index[vp.Reuses]].Buffer
			members[vp.Buffer] = append(members[vp.Buffer], out)
		}
		p.ScratchBytes = max(p.ScratchBytes, np.ScratchBytes)
	}
	for _, v := range p.Values {
		p.NaiveBytes += o.align(v.Size)
	}
	p.LowerBoundBytes, p.PeakStep = lowerBound(p)
	place(p, members)
	return p, nil
}

// lifetimes indexes the arena values of g and fills their sizes and live
// steps.
func lifetimes(g *ir.Graph, o PlanOptions) (*MemoryPlan, error) {
	p := &MemoryPlan{Options: o, index: map[*ir.Value]int{}}
	add := func(v *ir.Value, first int) error {
		if _, dup := p.index[v]; dup {
			return fmt.Errorf("memory plan: %s is defined twice", v.Ref())
		}
		if o.elemSize(v) <= 0 {
			return fmt.Errorf("memory plan: %s has dtype %s of unknown size", v.Ref(), v.DType)
		}
		p.index[v] = len(p.Values)
		p.Values = append(p.Values, ValuePlan{Value: v, Size: o.bytes(v), First: first, Last: first, Buffer: len(p.Values)})
		return nil
	}
	if !o.ExternalInputs {
		for _, v := range g.Inputs {
			if err := add(v, 0); err != nil {
				return nil, err
			}
		}
	}
	for s, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in == nil {
				return nil, fmt.Errorf("memory plan: %s has a missing input", n.Name())
			}
			if !o.inArena(in) {
				continue
			}
			i, ok := p.index[in]
			if !ok {
				return nil, fmt.Errorf("memory plan: %s reads %s before it is computed (nodes are not in topological order)", n.Name(), in.Ref())
			}
			p.Values[i].Last = s
		}
		if err := add(n.Output, s); err != nil {
			return nil, err
		}
		p.Nodes = append(p.Nodes, NodePlan{Node: n, Step: s, InPlace: -1, ScratchOffset: -1})
	}
	end := max(len(g.Nodes)-1, 0)
	for _, v := range g.Outputs {
		if i, ok := p.index[v]; ok {
			p.Values[i].Last = end
		}
	}
	return p, nil
}

// dies reports whether every value of buffer b is read for the last time at
// step s or before, and none is a graph output: only then may node s write
// over it.
func dies(p *MemoryPlan, members [][]int, pinned []bool, b, s int) bool {
	for _, m := range members[b] {
		if pinned[m] || p.Values[m].Last > s {
			return false
		}
	}
	return true
}

func isElementwise(op ir.Op) bool {
	switch op {
	case ir.OpReLU, ir.OpClip, ir.OpHSwish, ir.OpHSigmoid, ir.OpSigmoid, ir.OpBatchNorm, ir.OpQuantize, ir.OpDequantize:
		return true
	}
	return false
}

// isDepthwise reports whether n is a conv2d whose output channel c reads
// input channel c only.
func isDepthwise(n *ir.Node) bool {
	if n.Op != ir.OpConv2D {
		return false
	}
	c, out := n.Inputs[0].Shape[1], n.Output.Shape[1]
	return n.Attrs.Groups == c && out == c
}

// planeBytes is the size of one H x W plane of an NCHW value.
func planeBytes(o PlanOptions, v *ir.Value) int64 {
	return int64(v.Shape[2]) * int64(v.Shape[3]) * o.elemSize(v)
}

// decideReuse picks, for node np, an input to write over, if any is legal.
func decideReuse(p *MemoryPlan, np *NodePlan, members [][]int, pinned []bool) {
	o, n, s := p.Options, np.Node, np.Step
	out := n.Output
	// buf returns the buffer of input i, or -1 when it is not in the arena.
	buf := func(i int) int {
		if j, ok := p.index[n.Inputs[i]]; ok {
			return p.Values[j].Buffer
		}
		return -1
	}
	free := func(i int) bool {
		b := buf(i)
		return b >= 0 && dies(p, members, pinned, b, s)
	}
	sameElem := func(in *ir.Value) bool { return o.elemSize(in) == o.elemSize(out) }
	take := func(i int, r Reuse) { np.InPlace, np.Reuse = i, r }
	switch {
	case n.Op == ir.OpReshape:
		if buf(0) >= 0 {
			take(0, ReuseAlias)
		}
	case isElementwise(n.Op):
		if sameElem(n.Inputs[0]) && free(0) {
			take(0, ReuseElementwise)
		}
	case n.Op == ir.OpAdd || n.Op == ir.OpMul:
		for i := range 2 {
			in, other := n.Inputs[i], n.Inputs[1-i]
			if in.Shape.NumElements() != out.Shape.NumElements() || !sameElem(in) || !free(i) {
				continue
			}
			if buf(1-i) == buf(i) && !other.Shape.Equal(out.Shape) {
				continue // the other operand shares the bytes but not the layout
			}
			take(i, ReuseOperand)
			return
		}
	case n.Op == ir.OpConv2D && len(n.Inputs) == 4 && sameElem(n.Inputs[3]) && free(3) && buf(0) != buf(3):
		take(3, ReuseResidual)
	case isDepthwise(n) && free(0) && (len(n.Inputs) < 4 || buf(3) != buf(0)):
		x := n.Inputs[0]
		scratch := planeBytes(o, x)
		if planeBytes(o, out) <= scratch && o.align(scratch) < o.align(o.bytes(out)) {
			take(0, ReuseDepthwise)
			np.ScratchBytes = scratch
		}
	}
}

// lowerBound returns the most bytes live at one step and that step.
func lowerBound(p *MemoryPlan) (int64, int) {
	steps := max(len(p.Nodes), 1)
	need := make([]int64, steps) // per step: scratch plus each buffer's largest live value
	for _, np := range p.Nodes {
		need[np.Step] += np.ScratchBytes
	}
	largest := make([]int64, len(p.Values)) // per buffer, at the current step
	for s := range steps {
		clear(largest)
		for _, v := range p.Values {
			if v.First <= s && s <= v.Last {
				largest[v.Buffer] = max(largest[v.Buffer], v.Size)
			}
		}
		for _, b := range largest {
			need[s] += b
		}
	}
	best, at := int64(0), 0
	for s, b := range need {
		if b > best {
			best, at = b, s
		}
	}
	return best, at
}

// piece is one value of a buffer: its aligned size and live steps.
type piece struct {
	size        int64
	first, last int
}

// item is one thing to place: a buffer (its values) or a node's scratch.
type item struct {
	pieces      []piece
	size        int64 // the largest piece
	first, last int   // the union of the pieces' steps
	buffer      int   // buffer id, or -1 for scratch
	step        int   // the scratch's node
}

func place(p *MemoryPlan, members [][]int) {
	o := p.Options
	var items []item
	for b, ms := range members {
		if len(ms) == 0 || p.Values[b].Buffer != b {
			continue
		}
		it := item{buffer: b, first: p.Values[ms[0]].First, last: p.Values[ms[0]].Last}
		for _, m := range ms {
			v := p.Values[m]
			pc := piece{size: o.align(v.Size), first: v.First, last: v.Last}
			it.pieces = append(it.pieces, pc)
			it.size = max(it.size, pc.size)
			it.first, it.last = min(it.first, pc.first), max(it.last, pc.last)
		}
		items = append(items, it)
	}
	for _, np := range p.Nodes {
		if np.ScratchBytes > 0 {
			pc := piece{size: o.align(np.ScratchBytes), first: np.Step, last: np.Step}
			items = append(items, item{pieces: []piece{pc}, size: pc.size, first: pc.first, last: pc.last, buffer: -1, step: np.Step})
		}
	}
	type strategy struct {
		name string
		cmp  func(a, b *item) int
	}
	bySize := func(a, b *item) int {
		return cmp.Or(cmp.Compare(b.size, a.size), cmp.Compare(b.last-b.first, a.last-a.first), cmp.Compare(a.first, b.first))
	}
	bySchedule := func(a, b *item) int {
		return cmp.Or(cmp.Compare(a.first, b.first), cmp.Compare(b.size, a.size), cmp.Compare(b.last, a.last))
	}
	strategies := []strategy{{"greedy-by-size", bySize}, {"first-fit-schedule", bySchedule}, {"stacked", nil}}
	var best []int64
	for _, st := range strategies {
		order := make([]int, len(items))
		for i := range order {
			order[i] = i
		}
		if st.cmp != nil {
			slices.SortStableFunc(order, func(a, b int) int { return st.cmp(&items[a], &items[b]) })
		}
		offs, arena := firstFit(items, order, st.cmp == nil)
		p.Tried = append(p.Tried, StrategyResult{st.name, arena})
		if best == nil || arena < p.ArenaBytes {
			best, p.ArenaBytes, p.Strategy = offs, arena, st.name
		}
	}
	for i, it := range items {
		if it.buffer < 0 {
			p.Nodes[it.step].ScratchOffset = best[i]
			continue
		}
		for _, m := range members[it.buffer] {
			p.Values[m].Offset = best[i]
		}
	}
}

// firstFit places items in order, each at the lowest offset where it
// overlaps no placed item live at a common step (or, stacked, after every
// placed item), and returns the offsets by item and the arena size.
func firstFit(items []item, order []int, stacked bool) ([]int64, int64) {
	offs := make([]int64, len(items))
	placed := make([]int, 0, len(items))
	type span struct{ lo, hi int64 } // offsets in [lo, hi) collide
	var forbidden []span
	var arena int64
	for _, i := range order {
		it := &items[i]
		if stacked {
			offs[i] = arena
			arena += it.size
			continue
		}
		forbidden = forbidden[:0]
		for _, j := range placed {
			jt := &items[j]
			if it.last < jt.first || jt.last < it.first {
				continue
			}
			for _, a := range it.pieces {
				for _, b := range jt.pieces {
					if a.last >= b.first && b.last >= a.first {
						forbidden = append(forbidden, span{offs[j] - a.size + 1, offs[j] + b.size})
					}
				}
			}
		}
		slices.SortFunc(forbidden, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
		var off int64
		for _, f := range forbidden {
			if f.lo > off {
				break
			}
			off = max(off, f.hi)
		}
		offs[i] = off
		placed = append(placed, i)
		arena = max(arena, off+it.size)
	}
	return offs, arena
}

// WriteTable writes the plan as a table, one row per arena value in
// schedule order: step, op, value, offset, size, live steps and reuse.
func (p *MemoryPlan) WriteTable(w io.Writer) error {
	var b strings.Builder
	pct := func(n int64) string {
		if p.LowerBoundBytes == 0 {
			return "-"
		}
		return fmt.Sprintf("%+.1f%%", 100*(float64(n)/float64(p.LowerBoundBytes)-1))
	}
	fmt.Fprintf(&b, "memory plan: arena %d B (%s, %s over the lower bound), lower bound %d B at step %d, naive %d B, scratch %d B, alignment %d\n",
		p.ArenaBytes, p.Strategy, pct(p.ArenaBytes), p.LowerBoundBytes, p.PeakStep, p.NaiveBytes, p.ScratchBytes, p.Options.Alignment)
	var tried []string
	for _, t := range p.Tried {
		tried = append(tried, fmt.Sprintf("%s %d B", t.Name, t.ArenaBytes))
	}
	fmt.Fprintf(&b, "placements tried: %s\n", strings.Join(tried, ", "))
	fmt.Fprintf(&b, "%5s  %-13s  %-24s %9s %9s  %-9s  %s\n", "step", "op", "value", "offset", "size", "live", "reuse")
	for _, v := range p.Values {
		step, op := "in", "input"
		var np *NodePlan
		if v.Value.Kind == ir.NodeValue {
			np = &p.Nodes[v.First]
			step, op = fmt.Sprint(v.First), np.Node.Op.String()
		}
		reuse := ""
		if v.Reuses != nil {
			reuse = fmt.Sprintf("%s over %s", v.Reuse, v.Reuses.Ref())
		}
		if np != nil && np.ScratchBytes > 0 {
			reuse += fmt.Sprintf(", scratch %d B at %d", np.ScratchBytes, np.ScratchOffset)
		}
		fmt.Fprintf(&b, "%5s  %-13s  %-24s %9d %9d  %-9s  %s\n", step, op, v.Value.Ref(), v.Offset, v.Size,
			fmt.Sprintf("%d-%d", v.First, v.Last), reuse)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (p *MemoryPlan) String() string {
	var b strings.Builder
	p.WriteTable(&b)
	return b.String()
}
