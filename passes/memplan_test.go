package passes

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/frontend"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/irtest"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

// planned plans g and fails the test unless the plan checks out and the
// arena is between the lower bound and the naive total.
func planned(t *testing.T, g *ir.Graph, o PlanOptions) *MemoryPlan {
	t.Helper()
	p, err := PlanMemory(g, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckMemoryPlan(g, p); err != nil {
		t.Fatalf("%v\n%s\n%s", err, ir.Print(g), p)
	}
	if p.ArenaBytes < p.LowerBoundBytes || p.ArenaBytes > p.NaiveBytes {
		t.Fatalf("arena %d outside [lower bound %d, naive %d]\n%s", p.ArenaBytes, p.LowerBoundBytes, p.NaiveBytes, p)
	}
	return p
}

// TestMemoryPlanSubnets plans 100 random subnets of the default space (with
// the largest and smallest), after the pipeline's folding and fusion, with
// float and 1-byte elements: every arena is within 5% of its lower bound.
func TestMemoryPlanSubnets(t *testing.T) {
	n := 100
	if testing.Short() {
		n = 12
	}
	net := ofa.New(ofa.Default, 3)
	rng := rand.New(rand.NewPCG(11, 7))
	archs := []ofa.Arch{ofa.Default.Largest(), ofa.Default.Smallest()}
	for len(archs) < n {
		archs = append(archs, ofa.Default.Random(rng))
	}
	worst := map[int]float64{}
	var saved [2]float64
	for i, a := range archs {
		g, err := frontend.Subnet(fmt.Sprintf("subnet%d", i), net.Extract(a, nil))
		if err != nil {
			t.Fatal(err)
		}
		if err := Run(g, nil); err != nil {
			t.Fatal(err)
		}
		for k, elem := range []int{0, 1} {
			p := planned(t, g, PlanOptions{ElemSize: elem})
			if r := p.Ratio(); r > 1.05 {
				t.Errorf("subnet %d (%+v) elem %d: arena %d is %.3f x the lower bound %d\n%s", i, a, elem, p.ArenaBytes, r, p.LowerBoundBytes, p)
			}
			worst[elem] = max(worst[elem], p.Ratio())
			noReuse := planned(t, g, PlanOptions{ElemSize: elem, NoReuse: true})
			saved[k] += float64(p.ArenaBytes) / float64(noReuse.ArenaBytes) / float64(len(archs))
			if i == 0 && elem == 0 {
				t.Logf("largest subnet, f32:\n%s", p)
			}
		}
	}
	t.Logf("%d subnets: worst arena / lower bound %.4f (f32), %.4f (1-byte); arena with reuse / without, mean %.3f (f32), %.3f (1-byte)",
		len(archs), worst[0], worst[1], saved[0], saved[1])
}

// TestMemoryPlanRandomGraphs checks plans of random graphs covering every
// op and dtype, under every option.
func TestMemoryPlanRandomGraphs(t *testing.T) {
	opts := []PlanOptions{{}, {ElemSize: 1}, {ExternalInputs: true}, {NoReuse: true}, {Alignment: 1}, {Alignment: 64, ElemSize: 2}}
	reuses := map[Reuse]int{}
	for seed := range uint64(400) {
		g := irtest.RandomGraph(rand.New(rand.NewPCG(seed, 99)))
		for _, o := range opts {
			p := planned(t, g, o)
			for _, np := range p.Nodes {
				reuses[np.Reuse]++
			}
		}
		if err := Run(g, nil); err != nil {
			t.Fatal(err)
		}
		planned(t, g, PlanOptions{})
	}
	for r := ReuseAlias; r <= ReuseDepthwise; r++ {
		if reuses[r] == 0 && r != ReuseResidual { // random graphs fuse no residual
			t.Errorf("no %s reuse in any random graph", r)
		}
	}
}

// chain is a small graph exercising each reuse kind:
//
//	x -> expand 1x1 (relu) -> depthwise 3x3 stride s -> relu -> mul by its
//	pooled self -> project 1x1 + residual -> reshape -> output
func chain(t *testing.T, stride int, dtype ir.DType) (*ir.Graph, map[string]*ir.Value) {
	t.Helper()
	b := ir.NewBuilder("chain")
	const c, h = 4, 8
	w := func(name string, shape ir.Shape) *ir.Value {
		return b.ConstF32(name, shape, make([]float32, shape.NumElements()))
	}
	v := map[string]*ir.Value{}
	var q *ir.Quant
	if dtype != ir.F32 {
		q = &ir.Quant{Scale: []float32{1}, ZeroPoint: []int32{0}, Axis: -1}
	}
	v["x"] = b.Input("x", dtype, ir.Shape{1, c, h, h}, q)
	x := v["x"]
	if dtype != ir.F32 {
		x = b.Unary(ir.OpDequantize, x)
	}
	v["expand"] = b.Conv2D(x, w("we", ir.Shape{3 * c, c, 1, 1}), nil, 1, 1, 0, 1, ir.ActReLU)
	v["dw"] = b.Conv2D(v["expand"], w("wd", ir.Shape{3 * c, 1, 3, 3}), nil, 3, stride, 1, 3*c, ir.ActNone)
	v["relu"] = b.Unary(ir.OpReLU, v["dw"])
	v["pool"] = b.Unary(ir.OpGlobalAvgPool, v["relu"])
	v["mul"] = b.Op(ir.OpMul, ir.Attrs{}, nil, v["pool"], v["relu"])
	res := x
	if stride != 1 {
		res = b.Conv2D(x, w("ws", ir.Shape{c, c, 1, 1}), nil, 1, stride, 0, 1, ir.ActNone)
	}
	v["res"] = res
	v["project"] = b.Op(ir.OpConv2D, ir.Attrs{Kernel: [2]int{1, 1}, Stride: 1, Groups: 1}, nil, v["mul"], w("wp", ir.Shape{c, 3 * c, 1, 1}), w("bp", ir.Shape{c}), res)
	hw := h / stride
	v["flat"] = b.Op(ir.OpReshape, ir.Attrs{Shape: ir.Shape{1, c * hw * hw}}, nil, v["project"])
	b.Output(v["flat"])
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	return g, v
}

func TestMemoryPlanReuseDecisions(t *testing.T) {
	for _, stride := range []int{1, 2} {
		g, v := chain(t, stride, ir.F32)
		p := planned(t, g, PlanOptions{})
		want := map[string]Reuse{"expand": ReuseNone, "dw": ReuseDepthwise, "relu": ReuseElementwise, "pool": ReuseNone,
			"mul": ReuseOperand, "project": ReuseResidual, "flat": ReuseAlias}
		if stride == 1 {
			want["expand"] = ReuseNone // x is still needed by the residual
		}
		for name, r := range want {
			vp := p.Value(v[name])
			if vp.Reuse != r {
				t.Errorf("stride %d: %s reuse %q, want %q\n%s", stride, name, vp.Reuse, r, p)
			}
		}
		if got := p.Value(v["mul"]).Reuses; got != v["relu"] {
			t.Errorf("stride %d: mul writes over %v, want the full-shape operand", stride, got)
		}
		dw := p.Nodes[1]
		if dw.ScratchBytes != 8*8*4 || p.ScratchBytes != dw.ScratchBytes {
			t.Errorf("stride %d: depthwise scratch %d, plan scratch %d, want one 8x8 f32 plane", stride, dw.ScratchBytes, p.ScratchBytes)
		}
		if p.Value(v["dw"]).Offset != p.Value(v["expand"]).Offset || p.Value(v["flat"]).Offset != p.Value(v["res"]).Offset {
			t.Errorf("stride %d: in-place values not at their input's offset\n%s", stride, p)
		}
		noReuse := planned(t, g, PlanOptions{NoReuse: true})
		if p.ArenaBytes >= noReuse.ArenaBytes {
			t.Errorf("stride %d: arena %d with reuse, %d without", stride, p.ArenaBytes, noReuse.ArenaBytes)
		}
	}
}

func TestMemoryPlanInputs(t *testing.T) {
	g, v := chain(t, 1, ir.I8)
	// The i8 input is 1 byte an element, its dequantized copy 4: no reuse.
	p := planned(t, g, PlanOptions{})
	deq := g.Nodes[0].Output
	if p.Value(deq).Reuse != ReuseNone || p.Value(v["x"]).Size != 4*8*8 {
		t.Errorf("dequantize i8 -> f32 reuse %q, input %d bytes\n%s", p.Value(deq).Reuse, p.Value(v["x"]).Size, p)
	}
	// Pretending every element is one byte, dequantize works in place.
	p = planned(t, g, PlanOptions{ElemSize: 1})
	if p.Value(deq).Reuse != ReuseElementwise {
		t.Errorf("1-byte dequantize reuse %q, want elementwise", p.Value(deq).Reuse)
	}
	// External inputs are not planned and never written over.
	p = planned(t, g, PlanOptions{ExternalInputs: true, ElemSize: 1})
	if p.Value(v["x"]) != nil || p.Value(deq).Reuse != ReuseNone {
		t.Errorf("external input planned %v, dequantize reuse %q", p.Value(v["x"]), p.Value(deq).Reuse)
	}
}

func TestMemoryPlanKeepsOutputs(t *testing.T) {
	// y = relu(x) and z = sigmoid(y) are both outputs: z must not overwrite
	// y, though y's last reader is z; w = hswish(z) at the last step must
	// not overwrite z either.
	b := ir.NewBuilder("outs")
	x := b.Input("x", ir.F32, ir.Shape{1, 2, 3, 3}, nil)
	y := b.Unary(ir.OpReLU, x)
	z := b.Unary(ir.OpSigmoid, y)
	w := b.Unary(ir.OpHSwish, z)
	b.Output(y, z, w)
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	p := planned(t, g, PlanOptions{})
	if p.Value(y).Reuse != ReuseElementwise || p.Value(z).Reuse != ReuseNone || p.Value(w).Reuse != ReuseNone {
		t.Errorf("reuses %q %q %q, want elementwise, none, none\n%s", p.Value(y).Reuse, p.Value(z).Reuse, p.Value(w).Reuse, p)
	}
	if p.Value(y).Last != 2 || p.Value(x).Last != 0 {
		t.Errorf("lifetimes: x %d-%d, y %d-%d", p.Value(x).First, p.Value(x).Last, p.Value(y).First, p.Value(y).Last)
	}
}

func TestMemoryPlanReshapeAliasKeepsInput(t *testing.T) {
	// r = reshape(x) aliases x while x is still read by the add, so the
	// relu of r may not work in place: it would change x under the add.
	b := ir.NewBuilder("alias")
	x := b.Input("x", ir.F32, ir.Shape{1, 2, 2, 2}, nil)
	r := b.Op(ir.OpReshape, ir.Attrs{Shape: ir.Shape{1, 2, 4, 1}}, nil, x)
	rr := b.Unary(ir.OpReLU, r)
	back := b.Op(ir.OpReshape, ir.Attrs{Shape: ir.Shape{1, 2, 2, 2}}, nil, rr)
	sum := b.Op(ir.OpAdd, ir.Attrs{}, nil, back, x)
	b.Output(sum)
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	p := planned(t, g, PlanOptions{})
	if p.Value(r).Reuse != ReuseAlias || p.Value(rr).Reuse != ReuseNone || p.Value(sum).Reuse != ReuseOperand {
		t.Errorf("reuses %q %q %q, want alias, none, operand\n%s", p.Value(r).Reuse, p.Value(rr).Reuse, p.Value(sum).Reuse, p)
	}
}

func TestCheckMemoryPlanCatchesBrokenPlans(t *testing.T) {
	g, v := chain(t, 2, ir.F32)
	breakers := map[string]func(p *MemoryPlan){
		"overlapping live values": func(p *MemoryPlan) { p.Value(v["x"]).Offset = p.Value(v["expand"]).Offset },
		"scratch over a live value": func(p *MemoryPlan) {
			p.Nodes[1].ScratchOffset = p.Value(v["x"]).Offset
		},
		"in place without a reuse kind": func(p *MemoryPlan) { p.Nodes[2].Reuse = ReuseNone },
		"reuse of the wrong kind": func(p *MemoryPlan) {
			p.Nodes[2].Reuse, p.Value(v["relu"]).Reuse = ReuseResidual, ReuseResidual
		},
		"no scratch":        func(p *MemoryPlan) { p.Nodes[1].ScratchBytes = 0 },
		"wrong lifetime":    func(p *MemoryPlan) { p.Value(v["relu"]).Last++ },
		"arena too small":   func(p *MemoryPlan) { p.ArenaBytes -= 16 },
		"wrong lower bound": func(p *MemoryPlan) { p.LowerBoundBytes-- },
		"unaligned":         func(p *MemoryPlan) { p.Value(v["flat"]).Offset += 4; p.Value(v["project"]).Offset += 4 },
	}
	check := func(name string, g *ir.Graph, p *MemoryPlan) {
		err := CheckMemoryPlan(g, p)
		if err == nil {
			t.Errorf("%s: the checker accepts\n%s", name, p)
		}
		t.Logf("%s: %v", name, err)
	}
	for name, brk := range breakers {
		p := planned(t, g, PlanOptions{})
		brk(p)
		check(name, g, p)
	}
	// y = relu(x) may not overwrite x: the add reads x after it.
	b := ir.NewBuilder("later")
	x := b.Input("x", ir.F32, ir.Shape{1, 2, 3, 3}, nil)
	y := b.Unary(ir.OpReLU, x)
	b.Output(b.Op(ir.OpAdd, ir.Attrs{}, nil, y, x))
	g2, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	p := planned(t, g2, PlanOptions{})
	yp := p.Value(y)
	yp.Reuses, yp.Reuse, yp.Offset = x, ReuseElementwise, p.Value(x).Offset
	p.Nodes[0].InPlace, p.Nodes[0].Reuse = 0, ReuseElementwise
	check("in place over a value read later", g2, p)
}

func TestMemoryPlanTable(t *testing.T) {
	g, _ := chain(t, 2, ir.F32)
	p := planned(t, g, PlanOptions{})
	s := p.String()
	for _, want := range []string{"lower bound", "greedy-by-size", "depthwise over %", "scratch 256 B at", "alias over %", "residual over %"} {
		if !strings.Contains(s, want) {
			t.Errorf("table lacks %q:\n%s", want, s)
		}
	}
	if rows := strings.Count(s, "\n"); rows != 3+len(p.Values) {
		t.Errorf("table has %d lines for %d values:\n%s", rows, len(p.Values), s)
	}
}

func TestPlanMemoryRejects(t *testing.T) {
	g, _ := chain(t, 1, ir.F32)
	if _, err := PlanMemory(g, PlanOptions{Alignment: 12}); err == nil {
		t.Error("alignment 12 accepted")
	}
	g.Nodes[0], g.Nodes[1] = g.Nodes[1], g.Nodes[0]
	if _, err := PlanMemory(g, PlanOptions{}); err == nil {
		t.Error("nodes out of order accepted")
	}
}
