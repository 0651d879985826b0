package hls

import (
	"fmt"

	"github.com/ofac-dev/ofac/ir"
)

// kind is the loop-nest template a node is emitted with.
type kind string

const (
	kindLoad    kind = "load"    // quantize: copy the input codes in from the AXI master
	kindConv    kind = "conv"    // conv2d with groups=1, and dense (a 1x1 conv on one pixel)
	kindDW      kind = "dwconv"  // depthwise conv2d (groups = channels)
	kindAdd     kind = "add"     // residual add
	kindMul     kind = "mul"     // squeeze-excite scale
	kindPool    kind = "gap"     // global average pool
	kindTable   kind = "table"   // hswish / hsigmoid / sigmoid through a 256-entry table (or one per channel)
	kindRequant kind = "requant" // reshape, relu, clip: rescale and clamp
	kindStore   kind = "store"   // dequantize: copy the output codes out
)

// buffer is one activation held on chip: [HW*C/L][L] elements, channels
// last, L = the lanes of its class.
type buffer struct {
	v     *ir.Value
	name  string // C identifier
	c, hw int    // channels and pixels
	i32   bool   // int32 elements (a dense accumulator result)
	class int
	slot  int
	// first and last layer that touch it
	start, end int
}

// slot is an on-chip array that buffers of one class share when their
// lifetimes do not overlap (a value lives from the layer that writes it to
// the last layer that reads it, so a layer's inputs and output never share).
type slot struct {
	name     string
	class    int
	i32      bool
	elements int
	buffers  []int
	end      int
}

// layer is one graph node with what its loop nest needs.
type layer struct {
	n    *ir.Node
	idx  int // position in g.Nodes
	kind kind
	fn   string // C function name
	p    *ir.IntParams
	in   []int // input buffers (activations only)
	out  int   // output buffer, -1 for store
	// conv geometry (dense: h=w=oh=ow=k=1)
	cin, cout, h, w, oh, ow, k, stride, pad int
	// channels and pixels of the output for per-channel ops, of the input
	// for gap
	c, hw int
	bcast []bool // add/mul: input i is [1,C,1,1] against a larger output
}

// design is a graph as the HLS backend sees it: layers and buffers, and the
// lane classes that tie buffers together.
type design struct {
	g       *ir.Graph
	layers  []*layer
	buffers []*buffer
	slots   []*slot
	classes []class
	// quantization at the boundary (host side)
	inScale         float32
	inZP            int32
	outScale        []float32 // per output element
	outZP           []int32
	inSize, outSize int
	outI32          bool
}

// class is a set of buffers that must share a lane count: the buffers an
// elementwise op, a depthwise conv or a pool reads and writes are indexed
// by the same channel lane, so their banks must line up.
type class struct {
	channels int
	buffers  []int
	slots    []int
	layers   []int // layers that read or write a buffer of the class
	divisors []int // allowed lane counts: divisors of channels
}

// geometry returns channels and pixels of an activation shape: [1,C,H,W] or
// [1,F] (F channels, one pixel).
func geometry(v *ir.Value) (c, hw int, err error) {
	s := v.Shape
	switch {
	case len(s) == 4 && s[0] == 1:
		return s[1], s[2] * s[3], nil
	case len(s) == 2 && s[0] == 1:
		return s[1], 1, nil
	}
	return 0, 0, fmt.Errorf("%s has shape %s; the HLS backend takes batch-1 [1,C,H,W] or [1,F] activations", v.Ref(), s)
}

// analyse checks g is an int8 graph the templates cover and builds its design.
func analyse(g *ir.Graph) (*design, error) {
	if len(g.Inputs) != 1 || len(g.Outputs) != 1 {
		return nil, fmt.Errorf("the HLS backend compiles graphs with one input and one output, %s has %d and %d", g.Name, len(g.Inputs), len(g.Outputs))
	}
	d := &design{g: g}
	bufOf := map[*ir.Value]int{}
	addBuffer := func(v *ir.Value, idx int) (int, error) {
		c, hw, err := geometry(v)
		if err != nil {
			return 0, err
		}
		if v.DType != ir.I8 && v.DType != ir.I32 {
			return 0, fmt.Errorf("%s is %s; the HLS backend needs the int8 graph (passes with Int8)", v.Ref(), v.DType)
		}
		d.buffers = append(d.buffers, &buffer{v: v, name: fmt.Sprintf("v%03d", idx), c: c, hw: hw, i32: v.DType == ir.I32})
		bufOf[v] = len(d.buffers) - 1
		return len(d.buffers) - 1, nil
	}
	for i, n := range g.Nodes {
		l := &layer{n: n, idx: i, out: -1}
		act := func(j int) (int, error) {
			b, ok := bufOf[n.Inputs[j]]
			if !ok {
				return 0, fmt.Errorf("%s: input %s is not an activation computed on chip", n.Name(), n.Inputs[j].Ref())
			}
			return b, nil
		}
		var err error
		switch n.Op {
		case ir.OpQuantize:
			if n.Inputs[0] != g.Inputs[0] || !n.Output.Quant.PerTensor() {
				return nil, fmt.Errorf("%s: quantize must read the graph input with per-tensor parameters", n.Name())
			}
			l.kind = kindLoad
			d.inScale, d.inZP = n.Output.Quant.Scale[0], n.Output.Quant.ZeroPoint[0]
			d.inSize = n.Output.Shape.NumElements()
			if l.c, l.hw, err = geometry(n.Output); err != nil {
				return nil, err
			}
		case ir.OpDequantize:
			if n.Output != g.Outputs[0] {
				return nil, fmt.Errorf("%s: dequantize must produce the graph output", n.Name())
			}
			l.kind = kindStore
			b, err := act(0)
			if err != nil {
				return nil, err
			}
			l.in = []int{b}
			in := n.Inputs[0]
			d.outI32 = in.DType == ir.I32
			d.outSize = in.Shape.NumElements()
			if l.c, l.hw, err = geometry(in); err != nil {
				return nil, err
			}
			d.outScale, d.outZP = elementQuant(&in.Type)
			d.layers = append(d.layers, l)
			continue
		default:
			if l.p, err = ir.IntegerParams(n); err != nil {
				return nil, fmt.Errorf("%s: %w", n.Name(), err)
			}
			if err := l.fill(n, act); err != nil {
				return nil, err
			}
		}
		if l.out, err = addBuffer(n.Output, i); err != nil {
			return nil, err
		}
		l.fn = fmt.Sprintf("l%03d_%s", i, l.kind)
		d.layers = append(d.layers, l)
	}
	for _, l := range d.layers {
		if l.kind == kindStore {
			l.fn = fmt.Sprintf("l%03d_%s", l.idx, l.kind)
		}
	}
	if d.layers[0].kind != kindLoad || d.layers[len(d.layers)-1].kind != kindStore {
		return nil, fmt.Errorf("the HLS backend wants quantize first and dequantize last (got %s and %s)", g.Nodes[0].Op, g.Nodes[len(g.Nodes)-1].Op)
	}
	d.makeClasses()
	d.makeSlots()
	for _, cl := range d.classes {
		for _, b := range cl.buffers {
			if d.buffers[b].c != cl.channels {
				return nil, fmt.Errorf("internal error: lane class of %s mixes %d and %d channels", d.buffers[b].v.Ref(), d.buffers[b].c, cl.channels)
			}
		}
	}
	return d, nil
}

// fill reads a compute node's geometry.
func (l *layer) fill(n *ir.Node, act func(int) (int, error)) error {
	x, err := act(0)
	if err != nil {
		return err
	}
	l.in = []int{x}
	oc, ohw, err := geometry(n.Output)
	if err != nil {
		return err
	}
	ic, ihw, err := geometry(n.Inputs[0])
	if err != nil {
		return err
	}
	l.c, l.hw = oc, ohw
	switch n.Op {
	case ir.OpConv2D:
		a := n.Attrs
		xs, ys := n.Inputs[0].Shape, n.Output.Shape
		l.cin, l.h, l.w = xs[1], xs[2], xs[3]
		l.cout, l.oh, l.ow = ys[1], ys[2], ys[3]
		l.k, l.stride, l.pad = a.Kernel[0], a.Stride, a.Pad
		if a.Kernel[0] != a.Kernel[1] {
			return fmt.Errorf("%s: kernel %dx%d: the HLS templates take square kernels", n.Name(), a.Kernel[0], a.Kernel[1])
		}
		switch {
		case a.Groups == 1:
			l.kind = kindConv
		case a.Groups == l.cin && l.cin == l.cout:
			l.kind = kindDW
		default:
			return fmt.Errorf("%s: grouped conv2d (groups=%d, %d->%d channels): the HLS templates take groups=1 or depthwise", n.Name(), a.Groups, l.cin, l.cout)
		}
	case ir.OpDense:
		l.kind = kindConv
		l.cin, l.cout = n.Inputs[1].Shape[1], n.Inputs[1].Shape[0]
		l.h, l.w, l.oh, l.ow, l.k, l.stride = 1, 1, 1, 1, 1, 1
	case ir.OpAdd, ir.OpMul:
		y, err := act(1)
		if err != nil {
			return err
		}
		l.in = append(l.in, y)
		l.kind = kindAdd
		if n.Op == ir.OpMul {
			l.kind = kindMul
		}
		for _, v := range n.Inputs {
			c, hw, err := geometry(v)
			if err != nil {
				return err
			}
			if c != oc || len(v.Shape) != len(n.Output.Shape) || (hw != ohw && hw != 1) {
				return fmt.Errorf("%s: operand %s%s against %s: the HLS templates broadcast only [1,C,1,1] over [1,C,H,W]", n.Name(), v.Ref(), v.Shape, n.Output.Shape)
			}
			l.bcast = append(l.bcast, hw != ohw)
		}
	case ir.OpGlobalAvgPool:
		l.kind = kindPool
		l.hw = ihw
	case ir.OpHSwish, ir.OpHSigmoid, ir.OpSigmoid:
		l.kind = kindTable
		// One 256-entry table, or one per channel (i8[C,256]) when input
		// or result is quantized per channel; the template indexes a
		// per-channel table by its channel tile and lane.
		if t := len(n.Inputs[1].Int8s()); t != 256 && t != 256*oc {
			return fmt.Errorf("%s: table %s has %d int8 entries, want 256 or 256 per channel (%d)", n.Name(), n.Inputs[1].Ref(), t, 256*oc)
		}
	case ir.OpReshape, ir.OpReLU, ir.OpClip:
		l.kind = kindRequant
		// Buffers are channels last, so a reshape keeps its layout only
		// when it keeps channels and pixels.
		if ic != oc || ihw != ohw {
			return fmt.Errorf("%s: reshape %s -> %s changes the channel-last layout; the HLS templates reshape only [1,C,1,1] <-> [1,C]", n.Name(), n.Inputs[0].Shape, n.Output.Shape)
		}
	default:
		return fmt.Errorf("%s: the HLS backend has no template for %s", n.Name(), n.Op)
	}
	if l.kind == kindConv || l.kind == kindDW {
		if n.Output.DType == ir.I32 && l.kind != kindConv {
			return fmt.Errorf("%s: only dense may produce int32", n.Name())
		}
		if len(n.Inputs) < 3 {
			return fmt.Errorf("%s: the HLS templates want a bias", n.Name())
		}
		if err := l.checkChannelZPs(); err != nil {
			return fmt.Errorf("%s: %w", n.Name(), err)
		}
	}
	return nil
}

// checkChannelZPs checks the per-channel zero points a conv layer reads from
// constant arrays (a per-tensor one is a literal in the code): a per-channel
// input only where each output channel reads its own input channel
// (depthwise), one zero point per channel, each an int8 code, as the int8_t
// arrays hold them.
func (l *layer) checkChannelZPs() error {
	p := l.p
	var zps [][]int32
	if len(p.InZP) > 1 {
		if l.kind != kindDW || len(p.InZP) != l.c {
			return fmt.Errorf("%d input zero points: the HLS templates take a per-channel input only in a depthwise conv2d, one zero point per channel", len(p.InZP))
		}
		zps = append(zps, p.InZP)
	}
	if p.OutZPs != nil {
		if l.n.Output.DType != ir.I8 || len(p.OutZPs) != l.cout {
			return fmt.Errorf("%d output zero points for %d %s output channels", len(p.OutZPs), l.cout, l.n.Output.DType)
		}
		zps = append(zps, p.OutZPs)
	}
	for _, zs := range zps {
		for c, z := range zs {
			if z < -128 || z > 127 {
				return fmt.Errorf("zero point %d of channel %d is outside int8", z, c)
			}
		}
	}
	return nil
}

// Per-channel quantization (ir.IntParams): where a layer's zero points or
// activation table differ by channel, the templates read them from constant
// arrays laid out like the other per-channel constants ([C/U][U]); where
// they do not, the code keeps its literals and its single table.

// channelInZP reports whether a depthwise layer subtracts a zero point per
// input channel.
func (l *layer) channelInZP() bool { return len(l.p.InZP) > 1 }

// channelOutZP reports whether a conv layer adds a zero point per output
// channel.
func (l *layer) channelOutZP() bool { return len(l.p.OutZPs) > 0 }

// channelTable reports whether a table layer has one table per channel.
func (l *layer) channelTable() bool { return len(l.n.Inputs[1].Int8s()) > 256 }

// elementQuant returns the scale and zero point of every element of t, as
// the int8 interpreter's dequantize applies them.
func elementQuant(t *ir.Type) ([]float32, []int32) {
	n := t.Shape.NumElements()
	s, z := make([]float32, n), make([]int32, n)
	q := t.Quant
	inner := 1
	if !q.PerTensor() {
		for _, d := range t.Shape[q.Axis+1:] {
			inner *= d
		}
	}
	for i := range s {
		if q.PerTensor() {
			s[i], z[i] = q.Scale[0], q.ZeroPoint[0]
		} else {
			s[i], z[i] = q.ScaleAt((i / inner) % t.Shape[q.Axis])
		}
	}
	return s, z
}

// makeClasses joins the buffers whose lanes must agree (union-find) and
// numbers the classes in order of their first buffer.
func (d *design) makeClasses() {
	parent := make([]int, len(d.buffers))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	union := func(a, b int) {
		ra, rb := find(a), find(b)
		if ra < rb {
			parent[rb] = ra
		} else if rb < ra {
			parent[ra] = rb
		}
	}
	for _, l := range d.layers {
		switch l.kind {
		case kindDW, kindAdd, kindMul, kindPool, kindTable, kindRequant:
			for _, b := range l.in {
				union(b, l.out)
			}
		}
	}
	id := map[int]int{}
	for i, b := range d.buffers {
		r := find(i)
		k, ok := id[r]
		if !ok {
			k = len(d.classes)
			id[r] = k
			d.classes = append(d.classes, class{channels: b.c, divisors: divisors(b.c)})
		}
		b.class = k
		d.classes[k].buffers = append(d.classes[k].buffers, i)
	}
	for li, l := range d.layers {
		seen := map[int]bool{}
		bufs := append([]int(nil), l.in...)
		if l.out >= 0 {
			bufs = append(bufs, l.out)
		}
		for _, b := range bufs {
			k := d.buffers[b].class
			if !seen[k] {
				seen[k] = true
				d.classes[k].layers = append(d.classes[k].layers, li)
			}
		}
	}
}

func divisors(n int) []int {
	var ds []int
	for i := 1; i <= n; i++ {
		if n%i == 0 {
			ds = append(ds, i)
		}
	}
	return ds
}

// makeSlots assigns buffers to slots: in order of their first use, each
// takes the free slot of its class (and element type) that fits it best
// (the largest when none is big enough), or a new one.
func (d *design) makeSlots() {
	for _, b := range d.buffers {
		b.start, b.end = -1, -1
	}
	for li, l := range d.layers {
		if l.out >= 0 {
			b := d.buffers[l.out]
			if b.start < 0 {
				b.start = li
			}
			b.end = max(b.end, li)
		}
		for _, bi := range l.in {
			d.buffers[bi].end = max(d.buffers[bi].end, li)
		}
	}
	for bi, b := range d.buffers {
		need := b.c * b.hw
		best := -1
		for _, si := range d.classes[b.class].slots {
			sl := d.slots[si]
			if sl.end >= b.start || sl.i32 != b.i32 {
				continue
			}
			if best < 0 {
				best = si
				continue
			}
			cur := d.slots[best]
			fits, curFits := sl.elements >= need, cur.elements >= need
			switch {
			case fits && (!curFits || sl.elements < cur.elements):
				best = si
			case !fits && !curFits && sl.elements > cur.elements:
				best = si
			}
		}
		if best < 0 {
			best = len(d.slots)
			d.slots = append(d.slots, &slot{name: fmt.Sprintf("s%03d", best), class: b.class, i32: b.i32})
			d.classes[b.class].slots = append(d.classes[b.class].slots, best)
		}
		sl := d.slots[best]
		sl.elements = max(sl.elements, need)
		sl.buffers = append(sl.buffers, bi)
		sl.end = b.end
		b.slot = best
	}
}
