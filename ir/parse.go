package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// maxElements bounds any one shape so that malformed input cannot make a
// reader allocate without limit.
const maxElements = 1 << 30

// Parse reads the text form written by Print and verifies the graph. Blank
// lines and lines starting with '#' are ignored. Errors name the line.
func Parse(text string) (*Graph, error) {
	p := parser{g: &Graph{}, values: map[string]*Value{}}
	lines := strings.Split(text, "\n")
	sawHeader, sawGraph, sawOutput := false, false, false
	for i, line := range lines {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p.line, p.s, p.pos = i+1, line, 0
		var err error
		switch {
		case !sawHeader:
			if line != textHeader {
				if strings.HasPrefix(line, "ofac-ir ") {
					return nil, fmt.Errorf("line %d: unsupported text IR version %q (this ofac reads %q)", i+1, line, textHeader)
				}
				return nil, fmt.Errorf("line %d: not ofac text IR: want %q first", i+1, textHeader)
			}
			sawHeader = true
		case sawOutput:
			err = p.errorf("nothing may follow the output line")
		case !sawGraph:
			err = p.graphLine()
			sawGraph = true
		case strings.HasPrefix(line, "input "):
			err = p.declLine("input", '%', InputValue)
		case strings.HasPrefix(line, "const "):
			err = p.declLine("const", '@', ConstValue)
		case strings.HasPrefix(line, "output "):
			err = p.outputLine()
			sawOutput = true
		default:
			err = p.nodeLine()
		}
		if err != nil {
			return nil, err
		}
	}
	switch {
	case !sawHeader:
		return nil, fmt.Errorf("empty input: not ofac text IR")
	case !sawGraph:
		return nil, fmt.Errorf("missing graph line")
	case !sawOutput:
		return nil, fmt.Errorf("missing output line")
	}
	if err := Verify(p.g); err != nil {
		return nil, err
	}
	return p.g, nil
}

type parser struct {
	g      *Graph
	values map[string]*Value // by reference (%x, @w)
	line   int
	s      string
	pos    int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("line %d col %d: %s", p.line, p.pos+1, fmt.Sprintf(format, args...))
}

func (p *parser) space() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

func (p *parser) peek() byte {
	p.space()
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *parser) accept(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.pos:], tok) {
		p.pos += len(tok)
		return true
	}
	return false
}

func (p *parser) expect(tok string) error {
	if !p.accept(tok) {
		return p.errorf("expected %q", tok)
	}
	return nil
}

func (p *parser) end() error {
	p.space()
	if p.pos != len(p.s) {
		return p.errorf("unexpected %q", p.s[p.pos:])
	}
	return nil
}

// word reads a run of name characters (and the sign, dot and exponent
// characters numbers need).
func (p *parser) word() string {
	p.space()
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-' || c == '+' {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos]
}

func (p *parser) int() (int, error) {
	w := p.word()
	n, err := strconv.ParseInt(w, 10, 32)
	if err != nil {
		return 0, p.errorf("bad integer %q", w)
	}
	return int(n), nil
}

func (p *parser) float() (float32, error) {
	w := p.word()
	f, err := strconv.ParseFloat(w, 32)
	if err != nil {
		return 0, p.errorf("bad number %q", w)
	}
	return float32(f), nil
}

func (p *parser) graphLine() error {
	if err := p.expect("graph "); err != nil {
		return err
	}
	p.g.Name = p.word()
	if !validName(p.g.Name) {
		return p.errorf("bad graph name %q", p.g.Name)
	}
	return p.end()
}

// ref reads %name or @name.
func (p *parser) ref(sigil byte) (string, error) {
	if p.peek() != sigil {
		return "", p.errorf("expected a %c name", sigil)
	}
	p.pos++
	name := p.word()
	if !validName(name) {
		return "", p.errorf("bad name %q", name)
	}
	return string(sigil) + name, nil
}

func (p *parser) define(ref string, v *Value) error {
	if _, dup := p.values[ref]; dup {
		return p.errorf("%s is defined twice", ref)
	}
	p.values[ref] = v
	return nil
}

func (p *parser) declLine(keyword string, sigil byte, kind ValueKind) error {
	if err := p.expect(keyword + " "); err != nil {
		return err
	}
	if kind == InputValue && len(p.g.Consts) > 0 {
		return p.errorf("inputs must come before constants")
	}
	if len(p.g.Nodes) > 0 {
		return p.errorf("%ss must come before nodes", keyword)
	}
	ref, err := p.ref(sigil)
	if err != nil {
		return err
	}
	if err := p.expect(":"); err != nil {
		return err
	}
	t, err := p.typ()
	if err != nil {
		return err
	}
	v := &Value{Name: ref[1:], Kind: kind, Type: t}
	if err := p.define(ref, v); err != nil {
		return err
	}
	if kind == InputValue {
		p.g.Inputs = append(p.g.Inputs, v)
	} else {
		p.g.Consts = append(p.g.Consts, v)
	}
	return p.end()
}

func (p *parser) outputLine() error {
	if err := p.expect("output "); err != nil {
		return err
	}
	for {
		sigil := p.peek()
		if sigil != '%' && sigil != '@' {
			return p.errorf("expected an output value")
		}
		ref, err := p.ref(sigil)
		if err != nil {
			return err
		}
		v, ok := p.values[ref]
		if !ok {
			return p.errorf("output %s is not defined", ref)
		}
		p.g.Outputs = append(p.g.Outputs, v)
		if !p.accept(",") {
			return p.end()
		}
	}
}

func (p *parser) nodeLine() error {
	ref, err := p.ref('%')
	if err != nil {
		return err
	}
	if err := p.expect("="); err != nil {
		return err
	}
	p.space()
	start := p.pos
	opName := p.word()
	op, ok := opsByName[opName]
	if !ok {
		p.pos = start
		return p.errorf("unknown op %q (known: %s)", opName, strings.Join(OpNames(), ", "))
	}
	n := &Node{Op: op, Attrs: DefaultAttrs(op)}
	if err := p.expect("("); err != nil {
		return err
	}
	for p.peek() != ')' {
		if len(n.Inputs) > 0 {
			if err := p.expect(","); err != nil {
				return err
			}
		}
		sigil := p.peek()
		if sigil != '%' && sigil != '@' {
			return p.errorf("expected an operand")
		}
		in, err := p.ref(sigil)
		if err != nil {
			return err
		}
		v, ok := p.values[in]
		if !ok {
			return p.errorf("%s is used before it is defined", in)
		}
		n.Inputs = append(n.Inputs, v)
	}
	p.pos++ // ')'
	if p.accept("{") {
		if err := p.attrs(op, &n.Attrs); err != nil {
			return err
		}
	}
	if err := p.expect(":"); err != nil {
		return err
	}
	t, err := p.typ()
	if err != nil {
		return err
	}
	n.Output = &Value{Name: ref[1:], Kind: NodeValue, Type: t}
	if err := p.define(ref, n.Output); err != nil {
		return err
	}
	p.g.Nodes = append(p.g.Nodes, n)
	return p.end()
}

func (p *parser) attrs(op Op, a *Attrs) error {
	spec := opSpecs[op]
	seen := map[attrKey]bool{}
	for !p.accept("}") {
		key := attrKey(p.word())
		if !containsKey(spec.attrs, key) {
			return p.errorf("%s has no attribute %q (it has: %s)", spec.name, key, keysString(spec.attrs))
		}
		if seen[key] {
			return p.errorf("attribute %q given twice", key)
		}
		seen[key] = true
		if err := p.expect("="); err != nil {
			return err
		}
		if err := p.attrValue(key, a); err != nil {
			return err
		}
		if p.pos >= len(p.s) {
			return p.errorf("unterminated attributes: expected '}'")
		}
	}
	return nil
}

func containsKey(keys []attrKey, k attrKey) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func (p *parser) attrValue(k attrKey, a *Attrs) error {
	var err error
	switch k {
	case keyKernel:
		w := p.word()
		h, wd, ok := strings.Cut(w, "x")
		kh, err1 := strconv.Atoi(h)
		kw, err2 := strconv.Atoi(wd)
		if !ok || err1 != nil || err2 != nil || kh > 1<<16 || kw > 1<<16 {
			return p.errorf("bad kernel %q, want HxW such as 3x3", w)
		}
		a.Kernel = [2]int{kh, kw}
	case keyStride:
		a.Stride, err = p.int()
	case keyPad:
		a.Pad, err = p.int()
	case keyGroups:
		a.Groups, err = p.int()
	case keyAxis:
		a.Axis, err = p.int()
	case keyAct:
		w := p.word()
		act, ok := parseAct(w)
		if !ok {
			return p.errorf("unknown activation %q (known: %s)", w, strings.Join(actNames, ", "))
		}
		a.Act = act
	case keyEps:
		a.Eps, err = p.float()
	case keyMin:
		a.Min, err = p.float()
	case keyMax:
		a.Max, err = p.float()
	case keyShape:
		a.Shape, err = p.shape()
	}
	return err
}

func (p *parser) shape() (Shape, error) {
	if err := p.expect("["); err != nil {
		return nil, err
	}
	s := Shape{}
	total := 1
	for !p.accept("]") {
		if len(s) > 0 {
			if err := p.expect(","); err != nil {
				return nil, err
			}
		}
		d, err := p.int()
		if err != nil {
			return nil, err
		}
		if d <= 0 || d > maxElements || total*d > maxElements {
			return nil, p.errorf("dimension %d is out of range (shapes hold at most %d elements)", d, maxElements)
		}
		total *= d
		s = append(s, d)
		if len(s) > 8 {
			return nil, p.errorf("more than 8 dimensions")
		}
	}
	return s, nil
}

func (p *parser) typ() (Type, error) {
	w := p.word()
	dt, ok := parseDType(w)
	if !ok {
		return Type{}, p.errorf("unknown dtype %q (known: f32, i8, i32)", w)
	}
	shape, err := p.shape()
	if err != nil {
		return Type{}, err
	}
	t := Type{DType: dt, Shape: shape}
	if p.accept("q(") {
		q, err := p.quant()
		if err != nil {
			return Type{}, err
		}
		t.Quant = q
	}
	return t, nil
}

// quant reads the inside of q(...): "scale=S zp=Z" per tensor, or
// "axis=A scale=[...] zp=[...]" per channel.
func (p *parser) quant() (*Quant, error) {
	q := &Quant{Axis: -1}
	if p.accept("axis=") {
		a, err := p.int()
		if err != nil {
			return nil, err
		}
		if a < 0 {
			return nil, p.errorf("quantization axis %d must not be negative", a)
		}
		q.Axis = a
	}
	if err := p.expect("scale="); err != nil {
		return nil, err
	}
	list := p.peek() == '['
	if list != (q.Axis >= 0) {
		return nil, p.errorf("per-channel quantization (axis=) takes lists; per-tensor takes one scale and zero point")
	}
	err := p.numbers(list, func() error {
		f, err := p.float()
		q.Scale = append(q.Scale, f)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := p.expect("zp="); err != nil {
		return nil, err
	}
	err = p.numbers(list, func() error {
		z, err := p.int()
		q.ZeroPoint = append(q.ZeroPoint, int32(z))
		return err
	})
	if err != nil {
		return nil, err
	}
	return q, p.expect(")")
}

// numbers reads one number, or a bracketed comma-separated list of them.
func (p *parser) numbers(list bool, one func() error) error {
	if !list {
		return one()
	}
	p.accept("[")
	for i := 0; !p.accept("]"); i++ {
		if i > 0 {
			if err := p.expect(","); err != nil {
				return err
			}
		}
		if err := one(); err != nil {
			return err
		}
		if p.pos >= len(p.s) {
			return p.errorf("unterminated list")
		}
	}
	return nil
}
