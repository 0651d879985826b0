package ir

import (
	"fmt"
	"math"
	"strings"
)

// VerifyError lists every problem the verifier found, each prefixed with the
// name of the node or value it concerns.
type VerifyError struct {
	Problems []string
}

func (e *VerifyError) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	return fmt.Sprintf("%d problems: %s", len(e.Problems), strings.Join(e.Problems, "; "))
}

// Verify checks the whole graph and reports every problem it finds, not just
// the first: names, definitions before use, op arity and attributes, inferred
// against declared types, quantization parameters and constant data sizes.
// Constants without data are accepted (a graph read from text alone).
func Verify(g *Graph) error {
	v := verifier{defined: map[string]*Value{}}
	v.graph(g)
	if len(v.problems) == 0 {
		return nil
	}
	return &VerifyError{Problems: v.problems}
}

type verifier struct {
	problems []string
	defined  map[string]*Value // by Ref(), so %x and @x are distinct
}

func (v *verifier) addf(where, format string, args ...any) {
	v.problems = append(v.problems, where+": "+fmt.Sprintf(format, args...))
}

func (v *verifier) graph(g *Graph) {
	if !validName(g.Name) {
		v.addf("graph", "name %q must be letters, digits, '_' or '.'", g.Name)
	}
	for _, in := range g.Inputs {
		v.define(in, InputValue)
		if in.Data != nil {
			v.addf(in.Ref(), "an input carries no data")
		}
	}
	for _, c := range g.Consts {
		v.define(c, ConstValue)
		if c.Data != nil && c.dataLen() != c.Shape.NumElements() {
			if c.dataLen() < 0 {
				v.addf(c.Ref(), "data of Go type %T does not match dtype %s", c.Data, c.DType)
			} else {
				v.addf(c.Ref(), "has %d elements of data, shape %s needs %d", c.dataLen(), c.Shape, c.Shape.NumElements())
			}
		}
	}
	for i, n := range g.Nodes {
		v.node(i, n)
	}
	if len(g.Outputs) == 0 {
		v.addf("graph", "has no outputs")
	}
	for _, out := range g.Outputs {
		if out == nil {
			v.addf("graph", "an output is missing")
		} else if v.defined[out.Ref()] != out {
			v.addf("graph", "output %s is not defined in the graph", out.Ref())
		}
	}
}

func (v *verifier) define(val *Value, kind ValueKind) {
	if val == nil {
		v.addf("graph", "a %s value is missing", kindName(kind))
		return
	}
	where := val.Ref()
	if val.Kind != kind {
		v.addf(where, "is listed as a %s but has kind %s", kindName(kind), kindName(val.Kind))
	}
	if !validName(val.Name) {
		v.addf(where, "name must be letters, digits, '_' or '.'")
	}
	if _, dup := v.defined[where]; dup {
		v.addf(where, "is defined more than once")
	}
	v.defined[where] = val
	v.typ(where, &val.Type)
}

// typ checks the dtype, shape and quantization of a value.
func (v *verifier) typ(where string, t *Type) {
	if t.DType.Size() == 0 {
		v.addf(where, "has unknown dtype %s", t.DType)
	}
	total := 1
	for _, d := range t.Shape {
		if d <= 0 {
			v.addf(where, "shape %s has a non-positive dimension", t.Shape)
			break
		}
		if d > maxElements || total*d > maxElements {
			v.addf(where, "shape %s has more than %d elements", t.Shape, maxElements)
			break
		}
		total *= d
	}
	if !t.DType.IsInteger() {
		if t.Quant != nil {
			v.addf(where, "is %s and must not carry quantization parameters", t.DType)
		}
		return
	}
	q := t.Quant
	if q == nil {
		v.addf(where, "is %s and needs quantization parameters", t.DType)
		return
	}
	want := 1
	if !q.PerTensor() {
		if q.Axis >= len(t.Shape) {
			v.addf(where, "quantization axis %d is out of range for shape %s", q.Axis, t.Shape)
			return
		}
		want = t.Shape[q.Axis]
	}
	if len(q.Scale) != want || len(q.ZeroPoint) != want {
		v.addf(where, "has %d scales and %d zero points, want %d of each", len(q.Scale), len(q.ZeroPoint), want)
		return
	}
	for i, s := range q.Scale {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			v.addf(where, "scale %d is %g, want a positive finite number", i, s)
			break
		}
	}
	if t.DType == I8 {
		for i, z := range q.ZeroPoint {
			if z < -128 || z > 127 {
				v.addf(where, "zero point %d is %d, outside int8", i, z)
				break
			}
		}
	}
}

func (v *verifier) node(i int, n *Node) {
	if n == nil || n.Output == nil {
		v.addf(fmt.Sprintf("node %d", i), "has no output value")
		return
	}
	where := n.Name()
	spec, ok := opSpecs[n.Op]
	if !ok {
		v.addf(where, "unknown op %d", n.Op)
		v.define(n.Output, NodeValue)
		return
	}
	inputsOK := true
	for j, in := range n.Inputs {
		switch {
		case in == nil:
			v.addf(where, "%s input %d is missing", spec.name, j)
			inputsOK = false
		case v.defined[in.Ref()] != in:
			v.addf(where, "input %s is used before it is defined", in.Ref())
			inputsOK = false
		}
	}
	if !n.Attrs.Equal(schemaOnly(n.Op, n.Attrs)) {
		v.addf(where, "%s sets attributes outside its schema (%s)", spec.name, keysString(spec.attrs))
	}
	v.define(n.Output, NodeValue)
	if !inputsOK {
		return
	}
	shape, err := InferShape(n)
	if err != nil {
		v.addf(where, "%s: %v", spec.name, err)
		return
	}
	if !shape.Equal(n.Output.Shape) {
		v.addf(where, "%s produces shape %s, declared %s", spec.name, shape, n.Output.Shape)
	}
	dt, err := inferDType(n, n.Output.DType)
	if err != nil {
		v.addf(where, "%s: %v", spec.name, err)
	} else if dt != n.Output.DType {
		v.addf(where, "%s produces %s, declared %s", spec.name, dt, n.Output.DType)
	}
}

// schemaOnly zeroes the attributes an op does not read, so two nodes that
// print alike compare alike.
func schemaOnly(op Op, a Attrs) Attrs {
	var out Attrs
	spec, ok := opSpecs[op]
	if !ok {
		return out
	}
	for _, k := range spec.attrs {
		switch k {
		case keyKernel:
			out.Kernel = a.Kernel
		case keyStride:
			out.Stride = a.Stride
		case keyPad:
			out.Pad = a.Pad
		case keyGroups:
			out.Groups = a.Groups
		case keyAct:
			out.Act = a.Act
		case keyEps:
			out.Eps = a.Eps
		case keyMin:
			out.Min = a.Min
		case keyMax:
			out.Max = a.Max
		case keyShape:
			out.Shape = a.Shape
		case keyAxis:
			out.Axis = a.Axis
		}
	}
	return out
}

func keysString(keys []attrKey) string {
	if len(keys) == 0 {
		return "none"
	}
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func kindName(k ValueKind) string {
	switch k {
	case InputValue:
		return "input"
	case ConstValue:
		return "constant"
	case NodeValue:
		return "node result"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// validName accepts the identifiers the text form can carry.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
