package ir

import (
	"strconv"
	"strings"
)

// textHeader opens every text IR file; the number is the text form's version.
const textHeader = "ofac-ir 1"

// Print writes the canonical text form of g: one line per input, constant,
// node and output list, readable in a diff. Parse(Print(g)) reproduces g
// (constant data aside, which lives in the model file).
func Print(g *Graph) string {
	var b strings.Builder
	b.WriteString(textHeader + "\n")
	b.WriteString("graph " + g.Name + "\n")
	for _, in := range g.Inputs {
		b.WriteString("input " + in.Ref() + " : ")
		writeType(&b, &in.Type)
		b.WriteByte('\n')
	}
	for _, c := range g.Consts {
		b.WriteString("const " + c.Ref() + " : ")
		writeType(&b, &c.Type)
		b.WriteByte('\n')
	}
	for _, n := range g.Nodes {
		writeNode(&b, n)
		b.WriteByte('\n')
	}
	b.WriteString("output ")
	for i, out := range g.Outputs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(out.Ref())
	}
	b.WriteByte('\n')
	return b.String()
}

// String prints one node as its text line.
func (n *Node) String() string {
	var b strings.Builder
	writeNode(&b, n)
	return b.String()
}

func writeNode(b *strings.Builder, n *Node) {
	b.WriteString(n.Output.Ref() + " = " + n.Op.String() + "(")
	for i, in := range n.Inputs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(in.Ref())
	}
	b.WriteByte(')')
	if spec := opSpecs[n.Op]; spec != nil && len(spec.attrs) > 0 {
		b.WriteString(" {")
		for i, k := range spec.attrs {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(string(k) + "=" + attrValue(k, &n.Attrs))
		}
		b.WriteByte('}')
	}
	b.WriteString(" : ")
	writeType(b, &n.Output.Type)
}

func attrValue(k attrKey, a *Attrs) string {
	switch k {
	case keyKernel:
		return strconv.Itoa(a.Kernel[0]) + "x" + strconv.Itoa(a.Kernel[1])
	case keyStride:
		return strconv.Itoa(a.Stride)
	case keyPad:
		return strconv.Itoa(a.Pad)
	case keyGroups:
		return strconv.Itoa(a.Groups)
	case keyAct:
		return a.Act.String()
	case keyEps:
		return formatFloat(a.Eps)
	case keyMin:
		return formatFloat(a.Min)
	case keyMax:
		return formatFloat(a.Max)
	case keyShape:
		return a.Shape.String()
	case keyAxis:
		return strconv.Itoa(a.Axis)
	}
	return "?"
}

// formatFloat prints the shortest decimal that reads back to the same float32.
func formatFloat(f float32) string {
	return strconv.FormatFloat(float64(f), 'g', -1, 32)
}

func writeType(b *strings.Builder, t *Type) {
	b.WriteString(t.DType.String())
	b.WriteString(t.Shape.String())
	q := t.Quant
	if q == nil {
		return
	}
	if q.PerTensor() && len(q.Scale) == 1 && len(q.ZeroPoint) == 1 {
		b.WriteString(" q(scale=" + formatFloat(q.Scale[0]) + " zp=" + strconv.Itoa(int(q.ZeroPoint[0])) + ")")
		return
	}
	b.WriteString(" q(axis=" + strconv.Itoa(q.Axis) + " scale=[")
	for i, s := range q.Scale {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(formatFloat(s))
	}
	b.WriteString("] zp=[")
	for i, z := range q.ZeroPoint {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(z)))
	}
	b.WriteString("])")
}
