package passes

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/ir/irtest"
	"github.com/ofac-dev/ofac/supernet/data"
)

// calibration returns the first n training images at resolution r as
// calibration samples (test images stay unseen by calibration).
func calibration(splits *data.Splits, n, r int) [][]Sample {
	ep := data.NewLoader(splits.Train, 1, false, 0).Epoch(0)
	labels := make([]int, 1)
	out := make([][]Sample, n)
	for i := range out {
		x := make([]float32, r*r)
		ep.Fill(i, r, x, labels)
		out[i] = []Sample{{Shape: ir.Shape{1, 1, r, r}, Data: x}}
	}
	return out
}

func argmax(d []float32) int {
	best := 0
	for i, v := range d {
		if v > d[best] {
			best = i
		}
	}
	return best
}

func quantized(t testing.TB, g *ir.Graph, calib [][]Sample, percentile float64) *ir.Graph {
	t.Helper()
	q := clone(t, g)
	if err := Run(q, &Options{Int8: true, Calibration: calib, Percentile: percentile}); err != nil {
		t.Fatal(err)
	}
	return q
}

// TestQuantizeSubnets quantizes the fixture and the largest and smallest
// subnets of a randomly initialised supernet (BN recalibrated on real
// images). On the real graphs it checks that the int8 interpreter computes
// every node within one code of the fake-quantized float interpreter given
// the same input codes, and it measures how often the int8 graph predicts
// what the float graph does.
func TestQuantizeSubnets(t *testing.T) {
	splits := testSet(t)
	const calibN, testN = 128, 200
	for gi, g := range testGraphs(t, splits, 2) {
		r := g.Inputs[0].Shape[2]
		q := quantized(t, g, calibration(splits, calibN, r), 0)
		for _, n := range q.Nodes {
			for _, v := range append([]*ir.Value{n.Output}, n.Inputs...) {
				if v.DType == ir.F32 && n.Op != ir.OpQuantize && n.Op != ir.OpDequantize {
					t.Fatalf("graph %d: %s is f32 after quantization", gi, n)
				}
			}
		}
		it8, err := interp.NewInt8(q)
		if err != nil {
			t.Fatalf("graph %d: %v", gi, err)
		}
		ref, err := interp.New(g)
		if err != nil {
			t.Fatal(err)
		}
		xs := images(splits, testN, r)
		differ, total := 0, 0
		for _, x := range xs[:2] {
			d, n := nodeByNode(t, q, it8, x)
			differ += d
			total += n
		}
		agree := 0
		for _, x := range xs {
			f, err := ref.Run(x)
			if err != nil {
				t.Fatal(err)
			}
			i8, err := it8.Run(x)
			if err != nil {
				t.Fatal(err)
			}
			if argmax(f[0].Data) == argmax(i8[0].Data) {
				agree++
			}
		}
		t.Logf("graph %d (%s, %d int8 nodes): node by node, %d of %d int8 codes differ by one from fake quantization; top-1 float vs int8 %d/%d",
			gi, g.Name, len(q.Nodes), differ, total, agree, testN)
		if differ*100 > total {
			t.Errorf("graph %d: %d of %d codes differ from fake quantization", gi, differ, total)
		}
		// The fixture's features separate the classes well enough for
		// int8 noise to flip few predictions. Subnets of an untrained
		// supernet do not: their logits are nearly tied, and the float
		// graph and its fake-quantized twin disagree as often as int8
		// does (about 55% and 75% agreement for the largest and smallest),
		// so for them only gross breakage (chance is 10%) is an error.
		// TODO: require >= 95% once the trained supernet exists.
		want := 40
		if gi == 0 {
			want = 95
		}
		if agree*100 < want*testN {
			t.Errorf("graph %d: float and int8 agree on %d of %d test images, want >= %d%%", gi, agree, testN, want)
		}
	}
}

// nodeByNode runs every integer node of q on its own, on the input codes the
// int8 interpreter computed for x, with both interpreters. The fake-quantized
// float interpreter rounds each result once from its exact value; fixed
// point may land one code off on near-ties, never more. It returns how many
// codes differ, out of how many.
func nodeByNode(t *testing.T, q *ir.Graph, it8 *interp.Int8, x interp.Tensor) (differ, total int) {
	t.Helper()
	_, codes, err := it8.RunAll(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range q.Nodes {
		if n.Op == ir.OpQuantize || n.Op == ir.OpDequantize {
			continue
		}
		one := &ir.Graph{Name: "one"}
		var ins []interp.Tensor
		node := &ir.Node{Op: n.Op, Attrs: n.Attrs}
		for i, in := range n.Inputs {
			if in.Kind == ir.ConstValue {
				one.Consts = append(one.Consts, in)
				node.Inputs = append(node.Inputs, in)
				continue
			}
			v := &ir.Value{Name: fmt.Sprintf("x%d", i), Kind: ir.InputValue, Type: in.Type}
			one.Inputs = append(one.Inputs, v)
			node.Inputs = append(node.Inputs, v)
			ins = append(ins, codes[in])
		}
		node.Output = &ir.Value{Name: "y", Kind: ir.NodeValue, Type: n.Output.Type}
		one.Nodes = []*ir.Node{node}
		one.Outputs = []*ir.Value{node.Output}
		fake, err := interp.New(one)
		if err != nil {
			t.Fatalf("%s: %v", n.Name(), err)
		}
		exact, err := interp.NewInt8(one)
		if err != nil {
			t.Fatalf("%s: %v", n.Name(), err)
		}
		want, err := fake.Run(ins...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := exact.Run(ins...)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range want[0].Data {
			c := got[0].Data[i]
			if c != codes[n.Output].Data[i] {
				t.Fatalf("%s element %d: %g on its own, %g in the whole graph", n.Name(), i, c, codes[n.Output].Data[i])
			}
			if d := math.Abs(float64(c - w)); d > 1 {
				t.Fatalf("%s element %d: int8 %g, fake quantization %g", n, i, c, w)
			} else if d != 0 {
				differ++
			}
			total++
		}
	}
	return differ, total
}

// TestQuantizeIsDeterministicAndSaves quantizes the fixture twice: the model
// files are byte for byte the same, and a model read back (tables and all)
// runs to the same outputs.
func TestQuantizeIsDeterministicAndSaves(t *testing.T) {
	splits := testSet(t)
	g, err := irtest.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	r := g.Inputs[0].Shape[2]
	calib := calibration(splits, 16, r)
	a, b := quantized(t, g, calib, 0), quantized(t, g, calib, 0)
	ea, err := ir.EncodeModel(a)
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := ir.EncodeModel(b)
	if !bytes.Equal(ea, eb) {
		t.Fatal("two quantizations of the same graph differ")
	}
	back, err := ir.DecodeModel(ea)
	if err != nil {
		t.Fatal(err)
	}
	text := ir.Print(back)
	for _, want := range []string{"quantize(%image)", "hswish(", ".lut)", "dequantize(%logits.q)", ": i32[1,10] q(axis=1"} {
		if !strings.Contains(text, want) {
			t.Errorf("quantized graph lacks %q:\n%s", want, text)
		}
	}
	ia, _ := interp.NewInt8(a)
	ib, err := interp.NewInt8(back)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range images(splits, 4, r) {
		oa, _ := ia.Run(x)
		ob, _ := ib.Run(x)
		oc, _ := ia.Run(x)
		for i := range oa[0].Data {
			if oa[0].Data[i] != ob[0].Data[i] || oa[0].Data[i] != oc[0].Data[i] {
				t.Fatalf("logit %d: %g, %g after a save and load, %g on a second run", i, oa[0].Data[i], ob[0].Data[i], oc[0].Data[i])
			}
		}
	}
}

func TestQuantizePercentileNarrowsRanges(t *testing.T) {
	splits := testSet(t)
	g, _ := irtest.Fixture()
	calib := calibration(splits, 16, g.Inputs[0].Shape[2])
	full, clipped := quantized(t, g, calib, 0), quantized(t, g, calib, 99)
	narrower := 0
	for i, n := range full.Nodes {
		m := clipped.Nodes[i]
		if n.Output.DType != ir.I8 {
			continue
		}
		if m.Output.Quant.Scale[0] > n.Output.Quant.Scale[0]*1.0001 {
			t.Errorf("%s: the 99th percentile scale %g exceeds the min/max scale %g", n.Name(), m.Output.Quant.Scale[0], n.Output.Quant.Scale[0])
		}
		if m.Output.Quant.Scale[0] < n.Output.Quant.Scale[0]*0.99 {
			narrower++
		}
	}
	if narrower == 0 {
		t.Error("percentile calibration narrowed no range")
	}
	if _, err := interp.NewInt8(clipped); err != nil {
		t.Fatal(err)
	}
	if _, err := Calibrate(g, calib, 100); err == nil {
		t.Error("percentile 100 accepted")
	}
}

func TestQuantizeErrors(t *testing.T) {
	g, _ := irtest.Fixture()
	calib := [][]Sample{{{Shape: g.Inputs[0].Shape, Data: make([]float32, g.Inputs[0].Shape.NumElements())}}}
	before := ir.Print(g)
	if err := Quantize(g, &Options{Calibration: calib}); err != nil || ir.Print(g) != before {
		t.Fatalf("Quantize without Options.Int8 changed the graph (err %v)", err)
	}
	if err := Quantize(g, &Options{Int8: true}); err == nil || !strings.Contains(err.Error(), "calibration") {
		t.Errorf("no calibration samples: error %v", err)
	}
	// With foldbn disabled a batchnorm reaches the quantizer: the error
	// names the node and the pass that would have removed it.
	err := Run(g, &Options{Int8: true, Calibration: calib, Disabled: map[string]bool{"foldbn": true}})
	if err == nil || !strings.Contains(err.Error(), "batchnorm") || !strings.Contains(err.Error(), "foldbn") || !strings.Contains(err.Error(), "%") {
		t.Errorf("batchnorm: error %v", err)
	}
	b := ir.NewBuilder("g")
	x := b.Input("x", ir.F32, ir.Shape{1, 4}, nil)
	b.Output(b.Op(ir.OpSoftmax, ir.Attrs{Axis: -1}, nil, x))
	sg, _ := b.Graph()
	err = Run(sg, &Options{Int8: true, Calibration: [][]Sample{{{Shape: x.Shape, Data: make([]float32, 4)}}}})
	if err == nil || !strings.Contains(err.Error(), "%1 = softmax") {
		t.Errorf("softmax: error %v", err)
	}
}

// TestQuantizeClipsTableInputs checks that a table activation's input is
// quantized only over the inputs where the activation changes (hswish above
// -3, hsigmoid in [-3, 3]) and that nothing is lost: the int8 graph's
// results stay within two steps of the activation of every input, however
// far beyond the clip.
func TestQuantizeClipsTableInputs(t *testing.T) {
	xs := []float32{-10, -6, -3.2, -3, -1.5, 0, 0.7, 2.9, 3, 4.5, 10}
	for _, tc := range []struct {
		op     ir.Op
		f      func(float64) float64
		lo, hi float64 // the clipped input range
	}{
		{ir.OpHSwish, func(x float64) float64 { return x * min(max(x+3, 0), 6) / 6 }, -3, 10},
		{ir.OpHSigmoid, func(x float64) float64 { return min(max(x+3, 0), 6) / 6 }, -3, 3},
	} {
		g, act := quantizedActivation(t, tc.op, xs)
		shape := g.Inputs[0].Shape
		in := act.Inputs[0].Quant
		s, zp := float64(in.Scale[0]), float64(in.ZeroPoint[0])
		lo, hi := s*(-128-zp), s*(127-zp)
		if lo > tc.lo || lo < tc.lo-2*s || hi < tc.hi-s || hi > tc.hi+2*s {
			t.Errorf("%s: input quantized over [%g, %g], want just beyond [%g, %g]", tc.op, lo, hi, tc.lo, tc.hi)
		}
		it, err := interp.NewInt8(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := it.Run(interp.Tensor{Shape: shape, Data: xs})
		if err != nil {
			t.Fatal(err)
		}
		step := float64(act.Output.Quant.Scale[0])
		for i, v := range xs {
			// One step for the input's rounding (slope <= 1.5 over half a
			// step), one for the result's.
			if want := tc.f(float64(v)); math.Abs(float64(got[0].Data[i])-want) > 2*step {
				t.Errorf("%s(%g) = %g in int8, want %g within %g", tc.op, v, got[0].Data[i], want, 2*step)
			}
		}
	}
}

// quantizedActivation quantizes x -> x*1 -> op, calibrated on xs, and
// returns the graph and its activation node. The multiplication makes the
// activation's input a node result that only the activation reads.
func quantizedActivation(t *testing.T, op ir.Op, xs []float32) (*ir.Graph, *ir.Node) {
	t.Helper()
	b := ir.NewBuilder("act")
	shape := ir.Shape{1, len(xs)}
	x := b.Input("x", ir.F32, shape, nil)
	pre := b.Op(ir.OpMul, ir.Attrs{}, nil, x, b.ConstF32("one", ir.Shape{1, 1}, []float32{1}))
	b.Output(b.Unary(op, pre))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(g, &Options{Int8: true, Calibration: [][]Sample{{{Shape: shape, Data: xs}}}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range g.Nodes {
		if n.Op == op {
			return g, n
		}
	}
	t.Fatalf("no %s left after quantization", op)
	return nil, nil
}

// TestQuantizeHSwishGrid checks that hswish's result takes its input's grid
// when most inputs lie above 3 (where hswish is the identity and the shared
// grid saves a rounding), and a grid of its own range when they lie below,
// where its own range is far narrower than its input's.
func TestQuantizeHSwishGrid(t *testing.T) {
	var high []float32
	for x := float32(3); x <= 20; x += 0.25 {
		high = append(high, x)
	}
	high = append(high, -3.5, -1, 0)
	low := []float32{-3.5, -2.5, -2, -1.5, -1, -0.5, 0, 0.25, 0.5}
	for _, tc := range []struct {
		name   string
		xs     []float32
		shared bool
	}{{"mostly above 3", high, true}, {"below 3", low, false}} {
		_, act := quantizedActivation(t, ir.OpHSwish, tc.xs)
		in, out := act.Inputs[0].Quant, act.Output.Quant
		same := in.Scale[0] == out.Scale[0] && in.ZeroPoint[0] == out.ZeroPoint[0]
		if same != tc.shared {
			t.Errorf("%s: input quantized %v, result %v; want the same grid: %v", tc.name, in, out, tc.shared)
		}
	}
}

// TestQuantizeStemPerChannel quantizes a stem whose four channels span
// ranges 1000x apart (conv2d + h-swish, read by a depthwise conv2d and a
// residual add): the stem gets per-channel grids, one table per channel,
// and the add a per-tensor copy of the activation; the narrowest channel
// gets a step near its own range/255 instead of the widest channel's, and
// the int8 graph's output stays within 5% (RMS) of the float graph's.
func TestQuantizeStemPerChannel(t *testing.T) {
	const c, h = 4, 8
	gain := []float32{10, 1, 0.1, 0.01} // per-channel spread of the stem's results
	b := ir.NewBuilder("stem")
	x := b.Input("x", ir.F32, ir.Shape{1, 1, h, h}, nil)
	rng := rand.New(rand.NewPCG(3, 3))
	w := make([]float32, c*9)
	for i := range w {
		w[i] = gain[i/9] * float32(rng.NormFloat64())
	}
	stem := b.Conv2D(x, b.ConstF32("w", ir.Shape{c, 1, 3, 3}, w), b.ConstF32("b", ir.Shape{c}, make([]float32, c)), 3, 1, 1, 1, ir.ActHSwish)
	dww := make([]float32, c*9)
	for i := range dww {
		dww[i] = float32(rng.NormFloat64()) / gain[i/9]
	}
	dw := b.Conv2D(stem, b.ConstF32("dw", ir.Shape{c, 1, 3, 3}, dww), b.ConstF32("dwb", ir.Shape{c}, make([]float32, c)), 3, 1, 1, c, ir.ActNone)
	b.Output(b.Op(ir.OpAdd, ir.Attrs{}, nil, dw, stem))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	var calib [][]Sample
	var inputs []interp.Tensor
	for i := 0; i < 64; i++ {
		d := make([]float32, h*h)
		for j := range d {
			d[j] = float32(rng.NormFloat64())
		}
		calib = append(calib, []Sample{{Shape: ir.Shape{1, 1, h, h}, Data: d}})
		inputs = append(inputs, interp.Tensor{Shape: ir.Shape{1, 1, h, h}, Data: d})
	}
	float, err := interp.New(clone(t, g))
	if err != nil {
		t.Fatal(err)
	}
	q := quantized(t, g, calib, 0)
	var tables []*ir.Node
	for _, n := range q.Nodes {
		if n.Op == ir.OpHSwish {
			tables = append(tables, n)
		}
	}
	if len(tables) != 2 {
		t.Fatalf("%d hswish nodes, want 2 (the depthwise conv's per channel, the add's per tensor):\n%s", len(tables), ir.Print(q))
	}
	act, copied := tables[0], tables[1]
	if act.Inputs[0].Quant.Axis != 1 || act.Output.Quant.Axis != 1 || !act.Inputs[1].Shape.Equal(ir.Shape{c, 256}) {
		t.Errorf("stem activation: input axis %d, result axis %d, table %s; want per channel (axis 1) with tables [%d,256]",
			act.Inputs[0].Quant.Axis, act.Output.Quant.Axis, act.Inputs[1].Shape, c)
	}
	if !copied.Output.Quant.PerTensor() || copied.Inputs[0] != act.Inputs[0] {
		t.Errorf("the add's copy of the activation: result per tensor %v, same pre-activation %v; want both", copied.Output.Quant.PerTensor(), copied.Inputs[0] == act.Inputs[0])
	}
	for _, n := range q.Nodes {
		if n.Op == ir.OpAdd && (n.Inputs[1] != copied.Output && n.Inputs[0] != copied.Output) {
			t.Errorf("the add reads %s and %s, not the per-tensor copy %s", n.Inputs[0].Ref(), n.Inputs[1].Ref(), copied.Output.Ref())
		}
	}
	// The narrowest channel's step against the widest's.
	if s := act.Output.Quant.Scale; len(s) != c || !(s[3] < s[0]/100) {
		t.Errorf("stem result steps %v: want the narrowest channel's 100x finer than the widest's", s)
	}
	it8, err := interp.NewInt8(q)
	if err != nil {
		t.Fatal(err)
	}
	var errSum, refSum float64
	for _, in := range inputs {
		want, err := float.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := it8.Run(in)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range want[0].Data {
			d := float64(got[0].Data[i] - v)
			errSum += d * d
			refSum += float64(v) * float64(v)
		}
	}
	// Per tensor, the narrow channels' rounding, amplified by the
	// depthwise weights, makes this error 0.15.
	if rel := math.Sqrt(errSum / refSum); rel > 0.05 {
		t.Errorf("int8 output error %.4f of the output's RMS, want under 0.05", rel)
	}
}
