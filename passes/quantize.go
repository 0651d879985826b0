package passes

import (
	"errors"
	"fmt"
	"math"

	"github.com/ofac-dev/ofac/ir"
)

// Quantize turns a folded, fused float graph into an int8 graph that the
// integer kernels (ir.IntegerParams, interp.Int8) run without floating point,
// following TF Lite's int8 scheme:
//
//   - weights: int8, symmetric, per output channel (axis 0, zero point 0,
//     scale max|w|/127);
//   - activations: int8, asymmetric, per tensor, from the range calibration
//     found (widened to contain 0, so zero padding is exact);
//   - biases: int32 with scale input scale x weight scale[c], zero point 0;
//   - relu and relu6 fused into conv2d, dense or add become clamps of the
//     output codes; hswish, hsigmoid and sigmoid become nodes of their own
//     that read a 256-entry table built here (ir.ActivationTable), fed by the
//     producer requantized to the calibrated pre-activation range, clipped
//     to where the activation is not constant (clipTableInputs);
//   - the stem (the conv2d reading the graph input, with a table
//     activation, read by a depthwise conv2d) is quantized per channel
//     before and after its activation (splitStem, stemQuants): its
//     channels' ranges differ a hundredfold, and the depthwise convolution
//     after it amplifies the steps of the narrow ones most;
//   - hswish's result shares its input's scale and zero point where that
//     gives the smaller error on the calibration data (sharedGrids): no
//     second rounding of inputs above 3. A stem's hswish output, read by a
//     depthwise convolution whose folded batch norm amplifies it, is where
//     the second rounding cost most (MODELS.md, ps9's int8);
//   - each conv2d and dense bias absorbs the mean error that rounding its
//     input adds (correctBiases), measured on up to biasSamples calibration
//     samples;
//   - each f32 graph input gets a quantize node, each output a dequantize
//     node, so the graph's interface (names, f32 types) is unchanged.
//
// Calibration runs the float graph on o.Calibration (see Calibrate), after
// the table activations have been split off their producers, so their
// pre-activation ranges are observed directly.
//
// Quantize does nothing unless o.Int8 is set, so the pass table can be run
// pass by pass on float graphs.
func Quantize(g *ir.Graph, o *Options) error {
	if o == nil || !o.Int8 {
		return nil
	}
	if len(o.Calibration) == 0 {
		return errors.New("int8 quantization needs calibration samples (Options.Calibration)")
	}
	if err := checkQuantizable(g); err != nil {
		return err
	}
	splitTableActs(g)
	stem := splitStem(g)
	perChannel := map[*ir.Value]bool{}
	if stem != nil {
		perChannel[stem.pre], perChannel[stem.act] = true, true
	}
	// sharedGrids weighs per-tensor grids only: the stem's h-swish nodes
	// (per-channel input) keep no samples, so it passes them over.
	keep := map[*ir.Value]bool{}
	for _, n := range g.Nodes {
		if n.Op == ir.OpHSwish && !perChannel[n.Inputs[0]] {
			keep[n.Inputs[0]] = true
		}
	}
	cal, err := calibrate(g, o.Calibration, o.Percentile, keep, perChannel)
	if err != nil {
		return fmt.Errorf("calibration: %w", err)
	}
	ranges := cal.ranges
	clipTableInputs(g, ranges)
	q := newQuantizer(g, ranges)
	q.sharedGrid = sharedGrids(g, ranges, cal.kept)
	if stem != nil {
		q.channelQuant = stem.quants(cal)
	}
	if err := q.rewrite(); err != nil {
		return err
	}
	if err := correctBiases(g, o.Calibration); err != nil {
		return err
	}
	for _, n := range g.Nodes {
		if n.Op == ir.OpQuantize || n.Op == ir.OpDequantize {
			continue
		}
		if _, err := ir.IntegerParams(n); err != nil {
			return fmt.Errorf("%s: %w", n.Name(), err)
		}
	}
	return DeadValues(g, o)
}

// checkQuantizable rejects, naming the node, what the int8 scheme has no form
// for, before anything is changed.
func checkQuantizable(g *ir.Graph) error {
	for _, v := range append(append([]*ir.Value(nil), g.Inputs...), g.Consts...) {
		if v.DType != ir.F32 {
			return fmt.Errorf("%s is %s: the graph is already quantized", v.Ref(), v.DType)
		}
	}
	for _, n := range g.Nodes {
		where := n.Name() + " = " + n.Op.String()
		if n.Output.DType != ir.F32 {
			return fmt.Errorf("%s is %s: the graph is already quantized", where, n.Output.DType)
		}
		switch n.Op {
		case ir.OpConv2D, ir.OpDense:
			if len(n.Inputs) == 4 {
				return fmt.Errorf("%s has a fused residual; quantize before fuseadd (it leaves adds alone when Options.Int8 is set)", where)
			}
			for _, c := range n.Inputs[1:] {
				if c.Kind != ir.ConstValue || c.Float32s() == nil {
					return fmt.Errorf("%s: int8 quantization needs constant weights and bias, %s is not one", where, c.Ref())
				}
			}
		case ir.OpAdd, ir.OpMul, ir.OpGlobalAvgPool, ir.OpReshape, ir.OpReLU, ir.OpClip,
			ir.OpHSwish, ir.OpHSigmoid, ir.OpSigmoid:
		case ir.OpBatchNorm:
			return fmt.Errorf("%s: int8 quantization has no batchnorm; fold it into the conv2d before it (pass foldbn)", where)
		default:
			return fmt.Errorf("%s: int8 quantization does not support %s", where, n.Op)
		}
	}
	return nil
}

// tableOp is the standalone op of an activation that int8 evaluates through
// a lookup table.
var tableOp = map[ir.Act]ir.Op{ir.ActHSwish: ir.OpHSwish, ir.ActHSigmoid: ir.OpHSigmoid, ir.ActSigmoid: ir.OpSigmoid}

// splitTableActs undoes the fusion of table activations: conv2d{act=hswish}
// becomes conv2d{act=none} -> hswish, the conv computing a new value
// <name>.pre. The float graph computes the same thing either way.
func splitTableActs(g *ir.Graph) {
	names := valueNames(g)
	var nodes []*ir.Node
	for _, n := range g.Nodes {
		nodes = append(nodes, n)
		op, ok := tableOp[n.Attrs.Act]
		if !ok || (n.Op != ir.OpConv2D && n.Op != ir.OpDense && n.Op != ir.OpAdd) {
			continue
		}
		out := n.Output
		pre := &ir.Value{Name: fresh(names, out.Name+".pre"), Kind: ir.NodeValue, Type: out.Type}
		n.Output = pre
		n.Attrs.Act = ir.ActNone
		nodes = append(nodes, &ir.Node{Op: op, Inputs: []*ir.Value{pre}, Output: out})
	}
	g.Nodes = nodes
}

// flatBelow and flatAbove bound the inputs where a table activation still
// changes: hswish is 0 for every input <= -3, hsigmoid 0 there and 1 for
// every input >= 3. (Sigmoid only approaches its limits, so it has none.)
var (
	flatBelow = map[ir.Op]float64{ir.OpHSwish: -3, ir.OpHSigmoid: -3}
	flatAbove = map[ir.Op]float64{ir.OpHSigmoid: 3}
)

// clipTableInputs narrows the calibrated range of a table activation's
// input to where the activation is not constant, when the activation is its
// only reader. The producer then saturates at the clip, and the table maps
// the saturated code to what any input beyond it gives, so nothing is lost
// and the input's steps get finer (a stem pre-activation calibrated to
// [-23.4, 21.8] gets steps 1.8x finer clipped to [-3, 21.8]).
func clipTableInputs(g *ir.Graph, ranges map[*ir.Value]Range) {
	users := g.Users()
	outputs := map[*ir.Value]bool{}
	for _, o := range g.Outputs {
		outputs[o] = true
	}
	for _, n := range g.Nodes {
		in := n.Inputs[0]
		r, ok := ranges[in]
		if !ir.IsTableOp(n.Op) || !ok || len(users[in]) != 1 || outputs[in] || in.Kind != ir.NodeValue {
			continue
		}
		ranges[in] = clipTableRange(n.Op, r)
	}
}

// clipTableRange narrows r, the range of table activation op's input, to
// where op is not constant.
func clipTableRange(op ir.Op, r Range) Range {
	lo, clipLo := flatBelow[op]
	clipLo = clipLo && r.Min < lo
	hi, clipHi := flatAbove[op]
	clipHi = clipHi && r.Max > hi
	if clipLo {
		r.Min, r.Max = lo, max(r.Max, lo)
	}
	if clipHi {
		r.Min, r.Max = min(r.Min, hi), hi
	}
	// A step of margin beyond each clip: rounding the zero point can
	// move the saturated code by half a step, and it must still land
	// where the activation is flat.
	step := (r.Max - r.Min) / 254
	if clipLo {
		r.Min -= step
	}
	if clipHi {
		r.Max += step
	}
	return r
}

// sharedGrids picks the hswish nodes whose result is better quantized on
// its input's grid than on a grid of its own range. hswish(x) lies between
// 0 and x, so the input's grid always holds it, and above 3, where hswish
// is x, the table then hands the input code on unchanged instead of rounding
// it a second time; below 3 the input's grid is the coarser one (it spans
// the input's negative range too). Which weighs more depends on how the
// values spread, so each node takes the grid with the smaller mean squared
// error of hswish over its input's calibration values (kept).
func sharedGrids(g *ir.Graph, ranges map[*ir.Value]Range, kept map[*ir.Value][]float32) map[*ir.Node]bool {
	hswish := ir.TableFunc(ir.OpHSwish)
	onGrid := func(x float64, q *ir.Quant) float64 {
		return float64(q.Scale[0]) * float64(int32(ir.QuantizeF32(float32(x), q.Scale[0], q.ZeroPoint[0]))-q.ZeroPoint[0])
	}
	shared := map[*ir.Node]bool{}
	for _, n := range g.Nodes {
		xs := kept[n.Inputs[0]]
		if n.Op != ir.OpHSwish || len(xs) == 0 {
			continue
		}
		in, own := activationQuant(ranges[n.Inputs[0]]), activationQuant(ranges[n.Output])
		var errIn, errOwn float64
		for _, x := range xs {
			want := hswish(float64(x))
			y := hswish(onGrid(float64(x), in))
			dIn, dOwn := onGrid(y, in)-want, onGrid(y, own)-want
			errIn += dIn * dIn
			errOwn += dOwn * dOwn
		}
		shared[n] = errIn < errOwn
	}
	return shared
}

// valueNames is the set of every value's reference, for fresh names.
func valueNames(g *ir.Graph) map[string]bool {
	names := map[string]bool{}
	for _, v := range g.Inputs {
		names[v.Ref()] = true
	}
	for _, v := range g.Consts {
		names[v.Ref()] = true
	}
	for _, n := range g.Nodes {
		names[n.Output.Ref()] = true
	}
	return names
}

// fresh returns a node-result name based on base that is not yet taken,
// and takes it.
func fresh(names map[string]bool, base string) string {
	name := base
	for i := 2; names["%"+name]; i++ {
		name = fmt.Sprintf("%s%d", base, i)
	}
	names["%"+name] = true
	return name
}

// freshConst is fresh for constants.
func freshConst(names map[string]bool, base string) string {
	name := base
	for i := 2; names["@"+name]; i++ {
		name = fmt.Sprintf("%s%d", base, i)
	}
	names["@"+name] = true
	return name
}

type quantizer struct {
	g      *ir.Graph
	ranges map[*ir.Value]Range
	names  map[string]bool
	// q maps a float value to its int8 counterpart: the same *Value retyped
	// for inner results, a new one for graph inputs, outputs and constants.
	q       map[*ir.Value]*ir.Value
	weights map[*ir.Value]*ir.Value
	nodes   []*ir.Node
	// sharedGrid holds the hswish nodes whose result takes its input's
	// quantization (sharedGrids).
	sharedGrid map[*ir.Node]bool
	// channelQuant holds the results quantized per channel (the stem's).
	channelQuant map[*ir.Value]*ir.Quant
}

func newQuantizer(g *ir.Graph, ranges map[*ir.Value]Range) *quantizer {
	return &quantizer{g: g, ranges: ranges, names: valueNames(g),
		q: map[*ir.Value]*ir.Value{}, weights: map[*ir.Value]*ir.Value{}}
}

func (q *quantizer) rewrite() error {
	outputs := map[*ir.Value]bool{}
	for _, o := range q.g.Outputs {
		outputs[o] = true
	}
	users := q.g.Users()
	for _, n := range q.g.Nodes {
		ins := make([]*ir.Value, len(n.Inputs))
		var err error
		if ins[0], err = q.operand(n.Inputs[0]); err != nil {
			return fmt.Errorf("%s: %w", n.Name(), err)
		}
		inQ := ins[0].Quant
		// The result's quantization: reshape only moves data, so it keeps
		// its input's; everything else gets its calibrated range.
		outQ := inQ
		if cq := q.channelQuant[n.Output]; cq != nil {
			outQ = cq
		} else if n.Op != ir.OpReshape && !q.sharedGrid[n] {
			outQ = activationQuant(q.ranges[n.Output])
		}
		switch n.Op {
		case ir.OpConv2D, ir.OpDense:
			ins[1] = q.weight(n.Inputs[1])
			if len(n.Inputs) == 3 {
				ins[2] = q.bias(n, inQ, ins[1].Quant)
			}
		case ir.OpAdd, ir.OpMul:
			if ins[1], err = q.operand(n.Inputs[1]); err != nil {
				return fmt.Errorf("%s: %w", n.Name(), err)
			}
		case ir.OpHSwish, ir.OpHSigmoid, ir.OpSigmoid:
			channels := 0
			if len(n.Output.Shape) >= 2 {
				channels = n.Output.Shape[1]
			}
			t, err := ir.ActivationTable(n.Op, inQ, outQ, channels)
			if err != nil {
				return fmt.Errorf("%s: %w", n.Name(), err)
			}
			shape, tq := ir.Shape{256}, outQ
			if len(t) > 256 {
				// One table per channel: the table's rows are the channels.
				shape = ir.Shape{channels, 256}
				if !outQ.PerTensor() {
					tq = &ir.Quant{Scale: outQ.Scale, ZeroPoint: outQ.ZeroPoint, Axis: 0}
				}
			}
			ins = append(ins[:1], q.constant(n.Output.Name+".lut", shape, tq, t))
		}
		out := n.Output
		dt := ir.I8
		if outputs[out] {
			// Graph outputs stay f32 under their names: the int8 result
			// gets a new name and a dequantize node restores the output.
			out = &ir.Value{Name: fresh(q.names, out.Name+".q"), Kind: ir.NodeValue}
			if n.Op == ir.OpDense && n.Attrs.Act == ir.ActNone && len(users[n.Output]) == 0 {
				// Logits: a step of int8 is coarse next to the gaps
				// between close logits, so keep the i32 accumulators.
				dt, outQ = ir.I32, accumulatorQuant(inQ, ins[1].Quant)
			}
		}
		out.Type = ir.Type{DType: dt, Shape: n.Output.Shape, Quant: outQ}
		q.q[n.Output] = out
		n.Inputs, n.Output = ins, out
		q.nodes = append(q.nodes, n)
	}
	for _, o := range q.g.Outputs {
		src, err := q.operand(o)
		if err != nil {
			return fmt.Errorf("output %s: %w", o.Ref(), err)
		}
		q.nodes = append(q.nodes, &ir.Node{Op: ir.OpDequantize, Inputs: []*ir.Value{src}, Output: o})
	}
	q.g.Nodes = q.nodes
	return nil
}

// operand returns the int8 form of an activation operand: a node result
// already rewritten, a graph input quantized on first use, or a float
// constant quantized per tensor.
func (q *quantizer) operand(v *ir.Value) (*ir.Value, error) {
	if iv, ok := q.q[v]; ok {
		return iv, nil
	}
	switch v.Kind {
	case ir.InputValue:
		iv := &ir.Value{Name: fresh(q.names, v.Name+".q"), Kind: ir.NodeValue,
			Type: ir.Type{DType: ir.I8, Shape: v.Shape, Quant: activationQuant(q.ranges[v])}}
		q.nodes = append(q.nodes, &ir.Node{Op: ir.OpQuantize, Inputs: []*ir.Value{v}, Output: iv})
		q.q[v] = iv
		return iv, nil
	case ir.ConstValue:
		d := v.Float32s()
		r := Range{Min: math.Inf(1), Max: math.Inf(-1)}
		for _, x := range d {
			r.Min, r.Max = min(r.Min, float64(x)), max(r.Max, float64(x))
		}
		qt := activationQuant(r)
		codes := make([]int8, len(d))
		for i, x := range d {
			codes[i] = ir.QuantizeF32(x, qt.Scale[0], qt.ZeroPoint[0])
		}
		iv := q.constant(v.Name+".q", v.Shape, qt, codes)
		q.q[v] = iv
		return iv, nil
	}
	return nil, fmt.Errorf("%s has not been quantized before its use", v.Ref())
}

func (q *quantizer) constant(base string, shape ir.Shape, qt *ir.Quant, data any) *ir.Value {
	dt := ir.I8
	if _, ok := data.([]int32); ok {
		dt = ir.I32
	}
	c := &ir.Value{Name: freshConst(q.names, base), Kind: ir.ConstValue,
		Type: ir.Type{DType: dt, Shape: shape, Quant: qt}, Data: data}
	q.g.Consts = append(q.g.Consts, c)
	return c
}

// weight quantizes a conv2d or dense weight per output channel (axis 0),
// symmetrically into [-127, 127], as TF Lite does: scale = max|w|/127.
func (q *quantizer) weight(w *ir.Value) *ir.Value {
	if iw, ok := q.weights[w]; ok {
		return iw
	}
	d := w.Float32s()
	channels := w.Shape[0]
	per := len(d) / channels
	qt := &ir.Quant{Scale: make([]float32, channels), ZeroPoint: make([]int32, channels), Axis: 0}
	codes := make([]int8, len(d))
	for c := 0; c < channels; c++ {
		row := d[c*per : (c+1)*per]
		var m float64
		for _, x := range row {
			m = max(m, math.Abs(float64(x)))
		}
		s := float32(m / 127)
		if !(s > 0) || math.IsInf(float64(s), 0) {
			s = 1 // an all-zero channel: any scale will do
		}
		qt.Scale[c] = s
		for i, x := range row {
			codes[c*per+i] = int8(min(max(math.RoundToEven(float64(x)/float64(s)), -127), 127))
		}
	}
	iw := q.constant(w.Name+".q", w.Shape, qt, codes)
	q.weights[w] = iw
	return iw
}

// bias quantizes a bias to int32 in accumulator units: scale input scale x
// weight scale of its channel (input scale of that channel, for a depthwise
// conv2d reading a per-channel input), zero point 0, saturating.
func (q *quantizer) bias(n *ir.Node, in, w *ir.Quant) *ir.Value {
	b := n.Inputs[2]
	d := b.Float32s()
	qt := &ir.Quant{Scale: make([]float32, len(d)), ZeroPoint: make([]int32, len(d)), Axis: 0}
	codes := make([]int32, len(d))
	for c, x := range d {
		sw, _ := w.ScaleAt(c)
		si, _ := in.ScaleAt(c) // per channel only for a depthwise conv2d
		s := float32(float64(si) * float64(sw))
		qt.Scale[c] = s
		codes[c] = int32(min(max(math.RoundToEven(float64(x)/float64(s)), math.MinInt32), math.MaxInt32))
	}
	return q.constant(b.Name+".q", b.Shape, qt, codes)
}

// accumulatorQuant is the quantization of a dense's i32 accumulators: per
// output feature (axis 1), input scale x weight scale, zero point 0, as the
// bias has.
func accumulatorQuant(in, w *ir.Quant) *ir.Quant {
	m := len(w.Scale)
	qt := &ir.Quant{Scale: make([]float32, m), ZeroPoint: make([]int32, m), Axis: 1}
	for c := range qt.Scale {
		qt.Scale[c] = float32(float64(in.Scale[0]) * float64(w.Scale[c]))
	}
	return qt
}

// activationQuant chooses per-tensor asymmetric int8 parameters for a
// calibrated range, as TF Lite does: the range is widened to contain 0, the
// scale spreads it over 255 steps, and the zero point is the code of real 0,
// rounded (nudged) so 0 is exact.
func activationQuant(r Range) *ir.Quant {
	lo, hi := min(r.Min, 0), max(r.Max, 0)
	s := float32((hi - lo) / 255)
	if !(s > 1e-30) || math.IsInf(float64(s), 0) {
		s = 1 // an all-zero tensor (or no data): any scale will do
		lo = 0
	}
	zp := min(max(math.RoundToEven(-128-lo/float64(s)), -128), 127)
	return &ir.Quant{Scale: []float32{s}, ZeroPoint: []int32{int32(zp)}, Axis: -1}
}
