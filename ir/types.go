package ir

import (
	"fmt"
	"strings"
)

// DType is the element type of a value.
type DType uint8

// The element types ofac compiles: float32 for training-exact graphs, int8
// activations and weights and int32 biases/accumulators for quantized ones.
const (
	F32 DType = iota + 1
	I8
	I32
)

var dtypeNames = map[DType]string{F32: "f32", I8: "i8", I32: "i32"}

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

// Size is the number of bytes one element takes.
func (d DType) Size() int {
	switch d {
	case F32, I32:
		return 4
	case I8:
		return 1
	}
	return 0
}

// IsInteger reports whether values of d carry quantization parameters.
func (d DType) IsInteger() bool { return d == I8 || d == I32 }

func parseDType(s string) (DType, bool) {
	for d, n := range dtypeNames {
		if n == s {
			return d, true
		}
	}
	return 0, false
}

// Shape is a static tensor shape, outermost dimension first (NCHW for images).
type Shape []int

// NumElements is the product of the dimensions (1 for a scalar).
func (s Shape) NumElements() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether two shapes have the same rank and dimensions.
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Quant holds the affine quantization of an integer value: real = scale *
// (q - zero_point). One scale and zero point per tensor, or one per slice
// along Axis (per output channel for weights).
type Quant struct {
	Scale     []float32
	ZeroPoint []int32
	// Axis is the dimension the per-channel parameters run along; -1 means
	// per-tensor, with exactly one scale and zero point.
	Axis int
}

// PerTensor reports whether q has a single scale and zero point.
func (q *Quant) PerTensor() bool { return q.Axis < 0 }

// ScaleAt returns the scale and zero point for channel c (ignored per tensor).
func (q *Quant) ScaleAt(c int) (float32, int32) {
	if q.PerTensor() {
		return q.Scale[0], q.ZeroPoint[0]
	}
	return q.Scale[c], q.ZeroPoint[c]
}

// Type is a value's dtype, shape and, for integer values, quantization.
type Type struct {
	DType DType
	Shape Shape
	Quant *Quant
}

// ValueKind says where a value comes from.
type ValueKind uint8

// A value is a graph input, a constant (weights, with data) or the result of
// a node.
const (
	InputValue ValueKind = iota + 1
	ConstValue
	NodeValue
)

// Value is an edge of the graph. Activations are printed %name, constants
// @name.
type Value struct {
	Name string
	Kind ValueKind
	Type
	// Data holds a constant's elements in row-major order: []float32 for
	// F32, []int8 for I8, []int32 for I32. Nil for non-constants, and for
	// constants of a graph read from text alone (the model file carries data).
	Data any
}

// Ref is the value's name as written in the text form: %name or @name.
func (v *Value) Ref() string {
	if v.Kind == ConstValue {
		return "@" + v.Name
	}
	return "%" + v.Name
}

// Float32s returns a constant's data as float32, or nil if it has another type.
func (v *Value) Float32s() []float32 { d, _ := v.Data.([]float32); return d }

// Int8s returns a constant's data as int8, or nil if it has another type.
func (v *Value) Int8s() []int8 { d, _ := v.Data.([]int8); return d }

// Int32s returns a constant's data as int32, or nil if it has another type.
func (v *Value) Int32s() []int32 { d, _ := v.Data.([]int32); return d }

// dataLen is the element count of Data, or -1 when Data is nil or of a type
// that does not match the dtype.
func (v *Value) dataLen() int {
	switch d := v.Data.(type) {
	case []float32:
		if v.DType == F32 {
			return len(d)
		}
	case []int8:
		if v.DType == I8 {
			return len(d)
		}
	case []int32:
		if v.DType == I32 {
			return len(d)
		}
	}
	return -1
}

// Node is one operation. Every op has exactly one result.
type Node struct {
	Op     Op
	Inputs []*Value
	Output *Value
	Attrs  Attrs
}

// Name is the node's name for messages: its output's reference.
func (n *Node) Name() string { return n.Output.Ref() }

// Graph is a whole model: inputs, constants, nodes in topological order and
// outputs.
type Graph struct {
	Name    string
	Inputs  []*Value
	Consts  []*Value
	Nodes   []*Node
	Outputs []*Value
}

// Producers maps each node-produced value to the node that computes it.
func (g *Graph) Producers() map[*Value]*Node {
	m := make(map[*Value]*Node, len(g.Nodes))
	for _, n := range g.Nodes {
		m[n.Output] = n
	}
	return m
}

// Users maps each value to the nodes that read it, in graph order.
func (g *Graph) Users() map[*Value][]*Node {
	m := make(map[*Value][]*Node)
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			m[in] = append(m[in], n)
		}
	}
	return m
}
