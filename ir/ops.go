package ir

import (
	"fmt"
	"sort"
)

// Op identifies an operation.
type Op uint8

// The op set. Each has a spec in opSpecs.
const (
	OpConv2D Op = iota + 1
	OpBatchNorm
	OpReLU
	OpClip
	OpHSwish
	OpHSigmoid
	OpSigmoid
	OpAdd
	OpMul
	OpGlobalAvgPool
	OpReshape
	OpDense
	OpSoftmax
	OpQuantize
	OpDequantize
)

// opSpec is everything the IR knows about an op: its text name, arity,
// attribute schema, type rule and cost.
type opSpec struct {
	name         string
	minIn, maxIn int
	attrs        []attrKey
	// defaults fills attributes a parser may omit.
	defaults Attrs
	// check validates inputs and attributes and returns the output shape.
	check func(n *Node) (Shape, error)
	// outDType gives the result dtype from the first input's; nil means the
	// same as the first input.
	outDType func(in DType, declared DType) (DType, error)
	// macs counts multiply-accumulates.
	macs func(n *Node) int64
}

var opSpecs = map[Op]*opSpec{
	OpConv2D: {name: "conv2d", minIn: 2, maxIn: 4,
		attrs:    []attrKey{keyKernel, keyStride, keyPad, keyGroups, keyAct},
		defaults: Attrs{Stride: 1, Groups: 1},
		check:    checkConv2D, macs: macsConv2D},
	OpBatchNorm: {name: "batchnorm", minIn: 5, maxIn: 5, attrs: []attrKey{keyEps},
		defaults: Attrs{Eps: 1e-5}, check: checkBatchNorm, macs: macsOutput},
	OpReLU:     {name: "relu", minIn: 1, maxIn: 1, check: checkUnary, macs: macsNone},
	OpClip:     {name: "clip", minIn: 1, maxIn: 1, attrs: []attrKey{keyMin, keyMax}, check: checkClip, macs: macsNone},
	OpHSwish:   {name: "hswish", minIn: 1, maxIn: 2, check: checkTableAct, macs: macsNone},
	OpHSigmoid: {name: "hsigmoid", minIn: 1, maxIn: 2, check: checkTableAct, macs: macsNone},
	OpSigmoid:  {name: "sigmoid", minIn: 1, maxIn: 2, check: checkTableAct, macs: macsNone},
	OpAdd:      {name: "add", minIn: 2, maxIn: 2, attrs: []attrKey{keyAct}, check: checkBroadcast, macs: macsNone},
	OpMul:      {name: "mul", minIn: 2, maxIn: 2, check: checkBroadcast, macs: macsOutput},
	OpGlobalAvgPool: {name: "globalavgpool", minIn: 1, maxIn: 1, check: checkGlobalAvgPool,
		macs: func(n *Node) int64 { return int64(n.Inputs[0].Shape.NumElements()) }},
	OpReshape: {name: "reshape", minIn: 1, maxIn: 1, attrs: []attrKey{keyShape}, check: checkReshape, macs: macsNone},
	OpDense: {name: "dense", minIn: 2, maxIn: 3, attrs: []attrKey{keyAct}, check: checkDense, outDType: denseDType,
		macs: func(n *Node) int64 {
			return int64(n.Output.Shape.NumElements()) * int64(n.Inputs[1].Shape[1])
		}},
	OpSoftmax:    {name: "softmax", minIn: 1, maxIn: 1, attrs: []attrKey{keyAxis}, defaults: Attrs{Axis: -1}, check: checkSoftmax, macs: macsNone},
	OpQuantize:   {name: "quantize", minIn: 1, maxIn: 1, check: checkUnary, outDType: quantizeDType, macs: macsNone},
	OpDequantize: {name: "dequantize", minIn: 1, maxIn: 1, check: checkUnary, outDType: dequantizeDType, macs: macsNone},
}

var opsByName = func() map[string]Op {
	m := make(map[string]Op, len(opSpecs))
	for op, s := range opSpecs {
		m[s.name] = op
	}
	return m
}()

func (o Op) String() string {
	if s, ok := opSpecs[o]; ok {
		return s.name
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// OpNames lists every op's text name, sorted.
func OpNames() []string {
	names := make([]string, 0, len(opsByName))
	for n := range opsByName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DefaultAttrs returns the attributes an op has when the text form omits them.
func DefaultAttrs(o Op) Attrs {
	if s, ok := opSpecs[o]; ok {
		return s.defaults
	}
	return Attrs{}
}

// MACs counts the multiply-accumulates of one node.
func (n *Node) MACs() int64 {
	if s, ok := opSpecs[n.Op]; ok {
		return s.macs(n)
	}
	return 0
}

// InferShape validates a node's inputs and attributes and returns the shape
// its output must have. The output's own type is not consulted.
func InferShape(n *Node) (Shape, error) {
	s, ok := opSpecs[n.Op]
	if !ok {
		return nil, fmt.Errorf("unknown op %d", n.Op)
	}
	if len(n.Inputs) < s.minIn || len(n.Inputs) > s.maxIn {
		if s.minIn == s.maxIn {
			return nil, fmt.Errorf("%s takes %d inputs, got %d", s.name, s.minIn, len(n.Inputs))
		}
		return nil, fmt.Errorf("%s takes %d to %d inputs, got %d", s.name, s.minIn, s.maxIn, len(n.Inputs))
	}
	for i, in := range n.Inputs {
		if in == nil {
			return nil, fmt.Errorf("%s input %d is missing", s.name, i)
		}
	}
	return s.check(n)
}

// inferDType returns the dtype a node's output must have, given the dtype
// declared for it (which quantize needs to pick its integer type).
func inferDType(n *Node, declared DType) (DType, error) {
	s := opSpecs[n.Op]
	in := n.Inputs[0].DType
	if s.outDType != nil {
		return s.outDType(in, declared)
	}
	return in, nil
}

func quantizeDType(in, declared DType) (DType, error) {
	if in != F32 {
		return 0, fmt.Errorf("quantize takes f32, got %s", in)
	}
	if declared != I8 && declared != I32 {
		return 0, fmt.Errorf("quantize produces i8 or i32, declared %s", declared)
	}
	return declared, nil
}

func dequantizeDType(in, _ DType) (DType, error) {
	if !in.IsInteger() {
		return 0, fmt.Errorf("dequantize takes an integer value, got %s", in)
	}
	return F32, nil
}

// denseDType lets an i8 dense declare an i32 result: its raw accumulators,
// scaled by input scale x weight scale per output feature, for logits that
// are dequantized without first being rounded to int8.
func denseDType(in, declared DType) (DType, error) {
	if in == I8 && declared == I32 {
		return I32, nil
	}
	return in, nil
}

func macsNone(*Node) int64     { return 0 }
func macsOutput(n *Node) int64 { return int64(n.Output.Shape.NumElements()) }

func macsConv2D(n *Node) int64 {
	w := n.Inputs[1].Shape
	return int64(n.Output.Shape.NumElements()) * int64(w[1]*w[2]*w[3])
}

func rank(v *Value, r int, what string) error {
	if len(v.Shape) != r {
		return fmt.Errorf("%s %s must have rank %d, has shape %s", what, v.Ref(), r, v.Shape)
	}
	return nil
}

func checkUnary(n *Node) (Shape, error) {
	return n.Inputs[0].Shape, nil
}

// checkTableAct requires the lookup table exactly when the input is i8: an
// i8 activation is defined by its table, which travels with the graph as a
// constant so every backend emits the same one.
func checkTableAct(n *Node) (Shape, error) {
	x := n.Inputs[0]
	if x.DType != I8 {
		if len(n.Inputs) == 2 {
			return nil, fmt.Errorf("only an i8 input takes a lookup table, input %s is %s", x.Ref(), x.DType)
		}
		return x.Shape, nil
	}
	if len(n.Inputs) != 2 {
		return nil, fmt.Errorf("i8 input %s needs a lookup table (an i8[256] constant) as second input", x.Ref())
	}
	t := n.Inputs[1]
	perChannel := len(x.Shape) >= 2 && t.Shape.Equal(Shape{x.Shape[1], 256})
	if t.Kind != ConstValue || t.DType != I8 || !(t.Shape.Equal(Shape{256}) || perChannel) {
		return nil, fmt.Errorf("lookup table %s must be an i8[256] constant (or i8[C,256], one per channel), is %s%s", t.Ref(), t.DType, t.Shape)
	}
	return x.Shape, nil
}

func checkClip(n *Node) (Shape, error) {
	if !(n.Attrs.Min <= n.Attrs.Max) {
		return nil, fmt.Errorf("clip min %g must not exceed max %g", n.Attrs.Min, n.Attrs.Max)
	}
	return n.Inputs[0].Shape, nil
}

func checkConv2D(n *Node) (Shape, error) {
	x, w := n.Inputs[0], n.Inputs[1]
	a := n.Attrs
	if err := rank(x, 4, "input"); err != nil {
		return nil, err
	}
	if err := rank(w, 4, "weight"); err != nil {
		return nil, err
	}
	if a.Kernel[0] < 1 || a.Kernel[1] < 1 {
		return nil, fmt.Errorf("kernel %dx%d must be at least 1x1", a.Kernel[0], a.Kernel[1])
	}
	if a.Stride < 1 {
		return nil, fmt.Errorf("stride %d must be at least 1", a.Stride)
	}
	if a.Pad < 0 {
		return nil, fmt.Errorf("pad %d must not be negative", a.Pad)
	}
	if a.Groups < 1 {
		return nil, fmt.Errorf("groups %d must be at least 1", a.Groups)
	}
	c, o := x.Shape[1], w.Shape[0]
	if c%a.Groups != 0 || o%a.Groups != 0 {
		return nil, fmt.Errorf("groups %d must divide input channels %d and output channels %d", a.Groups, c, o)
	}
	want := Shape{o, c / a.Groups, a.Kernel[0], a.Kernel[1]}
	if !w.Shape.Equal(want) {
		return nil, fmt.Errorf("weight %s has shape %s, want %s", w.Ref(), w.Shape, want)
	}
	if len(n.Inputs) >= 3 {
		b := n.Inputs[2]
		if !b.Shape.Equal(Shape{o}) {
			return nil, fmt.Errorf("bias %s has shape %s, want [%d]", b.Ref(), b.Shape, o)
		}
	}
	if err := integerOperands(n); err != nil {
		return nil, err
	}
	h := (x.Shape[2]+2*a.Pad-a.Kernel[0])/a.Stride + 1
	wd := (x.Shape[3]+2*a.Pad-a.Kernel[1])/a.Stride + 1
	if x.Shape[2]+2*a.Pad < a.Kernel[0] || x.Shape[3]+2*a.Pad < a.Kernel[1] {
		return nil, fmt.Errorf("kernel %dx%d is larger than the padded input %dx%d", a.Kernel[0], a.Kernel[1], x.Shape[2]+2*a.Pad, x.Shape[3]+2*a.Pad)
	}
	out := Shape{x.Shape[0], o, h, wd}
	if len(n.Inputs) == 4 {
		// A fused residual: added to the accumulator before the activation.
		r := n.Inputs[3]
		if !r.Shape.Equal(out) || r.DType != x.DType {
			return nil, fmt.Errorf("residual %s is %s%s, want %s%s", r.Ref(), r.DType, r.Shape, x.DType, out)
		}
	}
	return out, nil
}

// integerOperands checks the dtypes of conv2d and dense: all f32, or int8
// data and weights with an int32 bias.
func integerOperands(n *Node) error {
	x, w := n.Inputs[0], n.Inputs[1]
	switch x.DType {
	case F32:
		for _, in := range n.Inputs[1:min(3, len(n.Inputs))] {
			if in.DType != F32 {
				return fmt.Errorf("%s is %s but the input is f32", in.Ref(), in.DType)
			}
		}
	case I8:
		if w.DType != I8 {
			return fmt.Errorf("weight %s is %s, want i8 for an i8 input", w.Ref(), w.DType)
		}
		if len(n.Inputs) >= 3 && n.Inputs[2].DType != I32 {
			return fmt.Errorf("bias %s is %s, want i32 for an i8 input", n.Inputs[2].Ref(), n.Inputs[2].DType)
		}
	default:
		return fmt.Errorf("input %s is %s, want f32 or i8", x.Ref(), x.DType)
	}
	return nil
}

func checkBatchNorm(n *Node) (Shape, error) {
	x := n.Inputs[0]
	if len(x.Shape) < 2 {
		return nil, fmt.Errorf("input %s must have a channel axis, has shape %s", x.Ref(), x.Shape)
	}
	if x.DType != F32 {
		return nil, fmt.Errorf("batchnorm takes f32, input is %s", x.DType)
	}
	c := x.Shape[1]
	for _, p := range n.Inputs[1:] {
		if !p.Shape.Equal(Shape{c}) || p.DType != F32 {
			return nil, fmt.Errorf("parameter %s is %s%s, want f32[%d]", p.Ref(), p.DType, p.Shape, c)
		}
	}
	if !(n.Attrs.Eps > 0) {
		return nil, fmt.Errorf("eps %g must be positive", n.Attrs.Eps)
	}
	return x.Shape, nil
}

// checkBroadcast allows operands of equal rank whose dimensions match or are
// 1, as squeeze-excite needs for [N,C,H,W] * [N,C,1,1].
func checkBroadcast(n *Node) (Shape, error) {
	a, b := n.Inputs[0], n.Inputs[1]
	if a.DType != b.DType {
		return nil, fmt.Errorf("operands %s and %s differ in dtype: %s vs %s", a.Ref(), b.Ref(), a.DType, b.DType)
	}
	if len(a.Shape) != len(b.Shape) {
		return nil, fmt.Errorf("operands %s%s and %s%s differ in rank", a.Ref(), a.Shape, b.Ref(), b.Shape)
	}
	out := make(Shape, len(a.Shape))
	for i := range a.Shape {
		switch {
		case a.Shape[i] == b.Shape[i]:
			out[i] = a.Shape[i]
		case a.Shape[i] == 1:
			out[i] = b.Shape[i]
		case b.Shape[i] == 1:
			out[i] = a.Shape[i]
		default:
			return nil, fmt.Errorf("operands %s%s and %s%s do not broadcast along axis %d", a.Ref(), a.Shape, b.Ref(), b.Shape, i)
		}
	}
	return out, nil
}

func checkGlobalAvgPool(n *Node) (Shape, error) {
	x := n.Inputs[0]
	if err := rank(x, 4, "input"); err != nil {
		return nil, err
	}
	return Shape{x.Shape[0], x.Shape[1], 1, 1}, nil
}

func checkReshape(n *Node) (Shape, error) {
	x := n.Inputs[0]
	s := n.Attrs.Shape
	if len(s) == 0 {
		return nil, fmt.Errorf("reshape needs a shape")
	}
	for _, d := range s {
		if d <= 0 {
			return nil, fmt.Errorf("reshape dimension %d in %s must be positive", d, s)
		}
	}
	if s.NumElements() != x.Shape.NumElements() {
		return nil, fmt.Errorf("cannot reshape %s (%d elements) to %s (%d elements)", x.Shape, x.Shape.NumElements(), s, s.NumElements())
	}
	return s, nil
}

func checkDense(n *Node) (Shape, error) {
	x, w := n.Inputs[0], n.Inputs[1]
	if err := rank(x, 2, "input"); err != nil {
		return nil, err
	}
	if err := rank(w, 2, "weight"); err != nil {
		return nil, err
	}
	if w.Shape[1] != x.Shape[1] {
		return nil, fmt.Errorf("weight %s%s does not match %d input features", w.Ref(), w.Shape, x.Shape[1])
	}
	if len(n.Inputs) == 3 && !n.Inputs[2].Shape.Equal(Shape{w.Shape[0]}) {
		return nil, fmt.Errorf("bias %s has shape %s, want [%d]", n.Inputs[2].Ref(), n.Inputs[2].Shape, w.Shape[0])
	}
	if err := integerOperands(n); err != nil {
		return nil, err
	}
	return Shape{x.Shape[0], w.Shape[0]}, nil
}

func checkSoftmax(n *Node) (Shape, error) {
	x := n.Inputs[0]
	if n.Attrs.Axis < -len(x.Shape) || n.Attrs.Axis >= len(x.Shape) {
		return nil, fmt.Errorf("axis %d is out of range for shape %s", n.Attrs.Axis, x.Shape)
	}
	if x.DType != F32 {
		return nil, fmt.Errorf("softmax takes f32, input is %s", x.DType)
	}
	return x.Shape, nil
}
