package ir

import (
	"fmt"
	"strconv"
)

// Builder assembles a graph node by node, inferring each result's type. The
// first error sticks and is returned by Graph, so construction code reads
// like the network it describes instead of a chain of error checks.
type Builder struct {
	g    *Graph
	next int
	err  error
}

// NewBuilder starts an empty graph with the given name.
func NewBuilder(name string) *Builder {
	return &Builder{g: &Graph{Name: name}}
}

// Input declares a graph input.
func (b *Builder) Input(name string, dt DType, shape Shape, q *Quant) *Value {
	v := &Value{Name: name, Kind: InputValue, Type: Type{DType: dt, Shape: shape, Quant: q}}
	b.g.Inputs = append(b.g.Inputs, v)
	return v
}

// Const declares a constant; data is []float32, []int8 or []int32 to match dt.
func (b *Builder) Const(name string, dt DType, shape Shape, q *Quant, data any) *Value {
	v := &Value{Name: name, Kind: ConstValue, Type: Type{DType: dt, Shape: shape, Quant: q}, Data: data}
	b.g.Consts = append(b.g.Consts, v)
	return v
}

// ConstF32 declares a float32 constant.
func (b *Builder) ConstF32(name string, shape Shape, data []float32) *Value {
	return b.Const(name, F32, shape, nil, data)
}

// Op appends a node whose result is named automatically (%1, %2, ...) and
// typed by shape inference; integer results take the quantization q.
func (b *Builder) Op(op Op, attrs Attrs, q *Quant, inputs ...*Value) *Value {
	b.next++
	return b.NamedOp(strconv.Itoa(b.next), op, attrs, q, inputs...)
}

// NamedOp is Op with an explicit result name.
func (b *Builder) NamedOp(name string, op Op, attrs Attrs, q *Quant, inputs ...*Value) *Value {
	n := &Node{Op: op, Inputs: inputs, Attrs: attrs}
	n.Output = &Value{Name: name, Kind: NodeValue}
	if b.err != nil {
		return n.Output
	}
	shape, err := InferShape(n)
	if err != nil {
		b.err = fmt.Errorf("%%%s = %s: %w", name, op, err)
		return n.Output
	}
	declared := F32
	if q != nil {
		declared = I8
	}
	dt, err := inferDType(n, declared)
	if err != nil {
		b.err = fmt.Errorf("%%%s = %s: %w", name, op, err)
		return n.Output
	}
	n.Output.Type = Type{DType: dt, Shape: shape}
	if dt.IsInteger() {
		n.Output.Quant = q
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return n.Output
}

// Output marks values as graph outputs.
func (b *Builder) Output(vs ...*Value) { b.g.Outputs = append(b.g.Outputs, vs...) }

// Graph verifies and returns the graph.
func (b *Builder) Graph() (*Graph, error) {
	if b.err != nil {
		return nil, b.err
	}
	if err := Verify(b.g); err != nil {
		return nil, err
	}
	return b.g, nil
}

// Conv2D appends a convolution; bias may be nil.
func (b *Builder) Conv2D(x, w, bias *Value, kernel, stride, pad, groups int, act Act) *Value {
	in := []*Value{x, w}
	if bias != nil {
		in = append(in, bias)
	}
	return b.Op(OpConv2D, Attrs{Kernel: [2]int{kernel, kernel}, Stride: stride, Pad: pad, Groups: groups, Act: act}, nil, in...)
}

// Dense appends a fully connected layer; bias may be nil.
func (b *Builder) Dense(x, w, bias *Value, act Act) *Value {
	in := []*Value{x, w}
	if bias != nil {
		in = append(in, bias)
	}
	return b.Op(OpDense, Attrs{Act: act}, nil, in...)
}

// Unary appends an op with one input and no attributes (relu, hswish, ...).
func (b *Builder) Unary(op Op, x *Value) *Value { return b.Op(op, Attrs{}, nil, x) }
