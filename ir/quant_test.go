package ir_test

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/ir"
)

// edgeInt32s are the values where fixed-point arithmetic goes wrong first.
var edgeInt32s = []int32{math.MinInt32, math.MinInt32 + 1, -1 << 30, -3, -2, -1, 0, 1, 2, 3, 1 << 30, math.MaxInt32 - 1, math.MaxInt32}

// randInt32 draws from edges, small values and the full range.
func randInt32(rng *rand.Rand) int32 {
	switch rng.IntN(4) {
	case 0:
		return edgeInt32s[rng.IntN(len(edgeInt32s))]
	case 1:
		return int32(rng.IntN(2001) - 1000)
	}
	return int32(rng.Uint32())
}

// floorDiv is floor(a/b) for b > 0, exactly.
func floorDiv(a, b *big.Int) *big.Int {
	q, m := new(big.Int), new(big.Int)
	q.DivMod(a, b, m) // Euclidean: m >= 0, so q is the floor for b > 0
	return q
}

func TestSaturatingRoundingDoublingHighMulExact(t *testing.T) {
	// Reference: floor(a*b/2^31 + 1/2) = floor((2ab + 2^31) / 2^32) in exact
	// integers, saturated to int32.
	ref := func(a, b int32) int32 {
		p := new(big.Int).Mul(big.NewInt(int64(a)), big.NewInt(int64(b)))
		p.Lsh(p, 1).Add(p, big.NewInt(1<<31))
		q := floorDiv(p, big.NewInt(1<<32))
		if q.Cmp(big.NewInt(math.MaxInt32)) > 0 {
			return math.MaxInt32
		}
		return int32(q.Int64())
	}
	check := func(a, b int32) {
		if got, want := ir.SaturatingRoundingDoublingHighMul(a, b), ref(a, b); got != want {
			t.Fatalf("SRDHM(%d, %d) = %d, want %d", a, b, got, want)
		}
	}
	for _, a := range edgeInt32s {
		for _, b := range edgeInt32s {
			check(a, b)
		}
	}
	if got := ir.SaturatingRoundingDoublingHighMul(math.MinInt32, math.MinInt32); got != math.MaxInt32 {
		t.Fatalf("MinInt32 * MinInt32 = %d, want saturation to MaxInt32", got)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := 0; i < 200000; i++ {
		check(randInt32(rng), randInt32(rng))
	}
	// Ties round up for both signs: 2^30 * 1 / 2^31 = 0.5 -> 1, -0.5 -> 0.
	if a, b := ir.SaturatingRoundingDoublingHighMul(1<<30, 1), ir.SaturatingRoundingDoublingHighMul(-1<<30, 1); a != 1 || b != 0 {
		t.Fatalf("ties: +0.5 -> %d, -0.5 -> %d; want 1 and 0", a, b)
	}
}

func TestRoundingDivideByPOTExact(t *testing.T) {
	// Reference: x / 2^e rounded to nearest, ties away from zero.
	ref := func(x int32, e int32) int32 {
		d := int64(1) << e
		ax := int64(x)
		if ax < 0 {
			ax = -ax
		}
		q := (2*ax + d) / (2 * d)
		if x < 0 {
			q = -q
		}
		return int32(q)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	for i := 0; i < 200000; i++ {
		x, e := randInt32(rng), int32(rng.IntN(32))
		if got, want := ir.RoundingDivideByPOT(x, e), ref(x, e); got != want {
			t.Fatalf("RoundingDivideByPOT(%d, %d) = %d, want %d", x, e, got, want)
		}
	}
	for _, c := range []struct{ x, e, want int32 }{{3, 1, 2}, {-3, 1, -2}, {5, 2, 1}, {-5, 2, -1}, {6, 2, 2}, {-6, 2, -2}, {math.MinInt32, 31, -1}, {math.MaxInt32, 31, 1}} {
		if got := ir.RoundingDivideByPOT(c.x, c.e); got != c.want {
			t.Errorf("RoundingDivideByPOT(%d, %d) = %d, want %d", c.x, c.e, got, c.want)
		}
	}
}

func TestQuantizeMultiplier(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < 100000; i++ {
		m := math.Ldexp(0.5+rng.Float64()/2, rng.IntN(60)-31) // 2^-32 .. 2^29
		r, err := ir.QuantizeMultiplier(m)
		if err != nil {
			t.Fatalf("QuantizeMultiplier(%g): %v", m, err)
		}
		if r.Multiplier < 1<<30 || r.Shift < -31 || r.Shift > 30 {
			t.Fatalf("QuantizeMultiplier(%g) = %+v: multiplier outside [2^30, 2^31) or shift out of range", m, r)
		}
		if rel := math.Abs(r.Real()-m) / m; rel > math.Ldexp(1, -31) {
			t.Fatalf("QuantizeMultiplier(%g) = %+v stands for %g, relative error %g", m, r, r.Real(), rel)
		}
	}
	// Exact powers of two and the round-up-to-one case.
	for _, c := range []struct {
		m    float64
		want ir.Requant
	}{{1, ir.Requant{Multiplier: 1 << 30, Shift: 1}}, {0.5, ir.Requant{Multiplier: 1 << 30, Shift: 0}}, {0, ir.Requant{}},
		{1 - math.Ldexp(1, -40), ir.Requant{Multiplier: 1 << 30, Shift: 1}}, {math.Ldexp(1, -40), ir.Requant{}}} {
		if r, err := ir.QuantizeMultiplier(c.m); err != nil || r != c.want {
			t.Errorf("QuantizeMultiplier(%g) = %+v, %v; want %+v", c.m, r, err, c.want)
		}
	}
	for _, bad := range []float64{-1, math.NaN(), math.Inf(1), math.Ldexp(1, 30)} {
		if _, err := ir.QuantizeMultiplier(bad); err == nil {
			t.Errorf("QuantizeMultiplier(%g) succeeded", bad)
		}
	}
}

func TestMultiplyByQuantizedMultiplierMatchesFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for i := 0; i < 200000; i++ {
		m := math.Ldexp(0.5+rng.Float64()/2, rng.IntN(40)-30)
		r, err := ir.QuantizeMultiplier(m)
		if err != nil {
			t.Fatal(err)
		}
		x := randInt32(rng)
		got := ir.MultiplyByQuantizedMultiplier(x, r)
		// The exact product of the (saturated, shifted) input and the
		// fixed-point multiplier; two roundings keep the result within 1.
		shifted := float64(x)
		if r.Shift > 0 {
			shifted = math.Max(math.MinInt32, math.Min(math.MaxInt32, math.Ldexp(float64(x), int(r.Shift))))
		}
		want := shifted * math.Ldexp(float64(r.Multiplier), -31-int(max(0, -r.Shift)))
		if math.Abs(float64(got)-want) > 1 {
			t.Fatalf("MBQM(%d, %+v) = %d, want %g within 1", x, r, got, want)
		}
		// And against the real multiplier, well inside int32.
		if math.Abs(float64(x)*m) < 1<<30 && r.Shift <= 0 && math.Abs(float64(got)-float64(x)*m) > 1+math.Abs(float64(x)*m)*math.Ldexp(1, -30) {
			t.Fatalf("MBQM(%d, %g) = %d, want %g", x, m, got, float64(x)*m)
		}
	}
	// A multiplier of 1 is 2^30 * 2^(1-31): exact for |x| < 2^30, where the
	// left shift cannot saturate.
	one, _ := ir.QuantizeMultiplier(1)
	for _, x := range []int32{-1<<30 + 1, -12345, -1, 0, 1, 12345, 1<<30 - 1} {
		if got := ir.MultiplyByQuantizedMultiplier(x, one); got != x {
			t.Errorf("MBQM(%d, 1) = %d", x, got)
		}
	}
	// Left shifts saturate instead of wrapping.
	if got := ir.MultiplyByQuantizedMultiplier(math.MaxInt32, ir.Requant{Multiplier: 1 << 30, Shift: 2}); got != 1<<30 {
		t.Errorf("saturated left shift: got %d, want %d", got, 1<<30)
	}
	if got := ir.MultiplyByQuantizedMultiplier(math.MinInt32, ir.Requant{Multiplier: 1 << 30, Shift: 2}); got != -1<<30 {
		t.Errorf("saturated left shift: got %d, want %d", got, -1<<30)
	}
	if got := ir.Requantize(math.MaxInt32, one, 127, -128, 127); got != 127 {
		t.Errorf("Requantize does not saturate: %d", got)
	}
}

func perTensor(s float32, zp int32) *ir.Quant {
	return &ir.Quant{Scale: []float32{s}, ZeroPoint: []int32{zp}, Axis: -1}
}

func TestActivationTable(t *testing.T) {
	in, out := perTensor(8.0/255, -50), perTensor(1.0/255, -128)
	for _, op := range []ir.Op{ir.OpHSigmoid, ir.OpSigmoid} {
		tab, err := ir.ActivationTable(op, in, out, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < 256; i++ {
			if tab[i] < tab[i-1] {
				t.Fatalf("%s table is not monotonic at %d", op, i)
			}
		}
	}
	out = perTensor(6.0/255, -10)
	tab, err := ir.ActivationTable(ir.OpHSwish, in, out, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range tab {
		x := float64(in.Scale[0]) * float64(i-128-int(in.ZeroPoint[0]))
		y := x * min(max(x+3, 0), 6) / 6
		want := min(max(math.RoundToEven(y/float64(out.Scale[0]))+float64(out.ZeroPoint[0]), -128), 127)
		if float64(c) != want {
			t.Fatalf("hswish table[%d] = %d, want %g", i, c, want)
		}
	}
	if tab[128+int(in.ZeroPoint[0])] != int8(out.ZeroPoint[0]) {
		t.Fatalf("hswish(0) is not the output zero point")
	}
	if _, err := ir.ActivationTable(ir.OpReLU, in, out, 0); err == nil {
		t.Fatal("relu has a table")
	}
}

func TestVerifierChecksActivationTables(t *testing.T) {
	q := perTensor(0.1, 0)
	build := func(table bool, dt ir.DType, tshape ir.Shape) error {
		b := ir.NewBuilder("g")
		var x *ir.Value
		if dt == ir.I8 {
			x = b.Input("x", ir.I8, ir.Shape{1, 4}, q)
		} else {
			x = b.Input("x", ir.F32, ir.Shape{1, 4}, nil)
		}
		ins := []*ir.Value{x}
		if table {
			ins = append(ins, b.Const("t", ir.I8, tshape, q, make([]int8, tshape.NumElements())))
		}
		var oq *ir.Quant
		if dt == ir.I8 {
			oq = q
		}
		b.Output(b.Op(ir.OpHSwish, ir.Attrs{}, oq, ins...))
		_, err := b.Graph()
		return err
	}
	if err := build(true, ir.I8, ir.Shape{256}); err != nil {
		t.Fatalf("i8 hswish with its table: %v", err)
	}
	if err := build(false, ir.F32, nil); err != nil {
		t.Fatalf("f32 hswish: %v", err)
	}
	for _, c := range []struct {
		table bool
		dt    ir.DType
		shape ir.Shape
		want  string
	}{{false, ir.I8, nil, "needs a lookup table"}, {true, ir.F32, ir.Shape{256}, "only an i8 input"}, {true, ir.I8, ir.Shape{255}, "i8[256] constant"}} {
		err := build(c.table, c.dt, c.shape)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("table %v on %s%s: error %v, want one containing %q", c.table, c.dt, c.shape, err, c.want)
		}
	}
}

func TestIntegerParamsRejects(t *testing.T) {
	q := perTensor(0.1, 3)
	conv := func(act ir.Act, wzp int32, bscale float32) error {
		b := ir.NewBuilder("g")
		x := b.Input("x", ir.I8, ir.Shape{1, 2, 3, 3}, q)
		wq := &ir.Quant{Scale: []float32{0.5, 0.25}, ZeroPoint: []int32{0, wzp}, Axis: 0}
		w := b.Const("w", ir.I8, ir.Shape{2, 2, 1, 1}, wq, make([]int8, 4))
		bq := &ir.Quant{Scale: []float32{0.05, bscale}, ZeroPoint: []int32{0, 0}, Axis: 0}
		bias := b.Const("b", ir.I32, ir.Shape{2}, bq, make([]int32, 2))
		y := b.Op(ir.OpConv2D, ir.Attrs{Kernel: [2]int{1, 1}, Stride: 1, Groups: 1, Act: act}, q, x, w, bias)
		b.Output(y)
		g, err := b.Graph()
		if err != nil {
			return err
		}
		_, err = ir.IntegerParams(g.Nodes[0])
		return err
	}
	if err := conv(ir.ActReLU6, 0, 0.025); err != nil {
		t.Fatalf("valid conv: %v", err)
	}
	for _, c := range []struct {
		act    ir.Act
		wzp    int32
		bscale float32
		want   string
	}{{ir.ActHSwish, 0, 0.025, "lookup-table node"}, {ir.ActNone, 1, 0.025, "zero point 1"}, {ir.ActNone, 0, 0.03, "bias"}} {
		if err := conv(c.act, c.wzp, c.bscale); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one containing %q", c, err, c.want)
		}
	}
}

// TestIntegerParamsPerChannel checks where per-channel activations (axis 1)
// are accepted: a conv2d's result with act=none, a depthwise conv2d's input
// (one zero point per channel in InZP), table ops with one table per
// channel; and that every other use is refused by name.
func TestIntegerParamsPerChannel(t *testing.T) {
	ch := &ir.Quant{Scale: []float32{0.1, 0.01}, ZeroPoint: []int32{-100, 20}, Axis: 1}
	pt := perTensor(0.1, 3)
	conv := func(in, out *ir.Quant, groups int, act ir.Act) (*ir.IntParams, error) {
		b := ir.NewBuilder("g")
		x := b.Input("x", ir.I8, ir.Shape{1, 2, 3, 3}, in)
		wq := &ir.Quant{Scale: []float32{0.5, 0.25}, ZeroPoint: []int32{0, 0}, Axis: 0}
		w := b.Const("w", ir.I8, ir.Shape{2, 2 / groups, 1, 1}, wq, make([]int8, 4/groups))
		bq := &ir.Quant{Scale: make([]float32, 2), ZeroPoint: []int32{0, 0}, Axis: 0}
		for c := range bq.Scale {
			si, _ := in.ScaleAt(c)
			bq.Scale[c] = si * wq.Scale[c]
		}
		bias := b.Const("b", ir.I32, ir.Shape{2}, bq, make([]int32, 2))
		b.Output(b.Op(ir.OpConv2D, ir.Attrs{Kernel: [2]int{1, 1}, Stride: 1, Groups: groups, Act: act}, out, x, w, bias))
		g, err := b.Graph()
		if err != nil {
			return nil, err
		}
		return ir.IntegerParams(g.Nodes[0])
	}
	p, err := conv(pt, ch, 1, ir.ActNone)
	if err != nil {
		t.Fatalf("per-channel result: %v", err)
	}
	if p.OutZPAt(0) != -100 || p.OutZPAt(1) != 20 {
		t.Errorf("per-channel result: zero points %d, %d, want -100, 20", p.OutZPAt(0), p.OutZPAt(1))
	}
	if want := 0.1 * 0.25 / 0.01; math.Abs(p.OutMul[1].Real()-want) > 1e-6*want {
		t.Errorf("per-channel result: channel 1 multiplier %g, want %g", p.OutMul[1].Real(), want)
	}
	if p, err = conv(ch, pt, 2, ir.ActReLU); err != nil {
		t.Fatalf("depthwise with per-channel input: %v", err)
	}
	if len(p.InZP) != 2 || p.InZP[1] != 20 {
		t.Errorf("depthwise with per-channel input: InZP %v, want [-100 20]", p.InZP)
	}
	if want := 0.01 * 0.25 / 0.1; math.Abs(p.OutMul[1].Real()-want) > 1e-6*want {
		t.Errorf("depthwise with per-channel input: channel 1 multiplier %g, want %g", p.OutMul[1].Real(), want)
	}
	for _, c := range []struct {
		name    string
		in, out *ir.Quant
		groups  int
		act     ir.Act
		want    string
	}{
		{"per-channel result with relu", pt, ch, 1, ir.ActReLU, "act=relu"},
		{"per-channel input, not depthwise", ch, pt, 1, ir.ActNone, "depthwise"},
		{"axis 2", pt, &ir.Quant{Scale: []float32{1, 1, 1}, ZeroPoint: []int32{0, 0, 0}, Axis: 2}, 1, ir.ActNone, "axis 2"},
	} {
		if _, err := conv(c.in, c.out, c.groups, c.act); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}

	b := ir.NewBuilder("g")
	x := b.Input("x", ir.I8, ir.Shape{1, 2, 3, 3}, ch)
	y := b.Input("y", ir.I8, ir.Shape{1, 2, 3, 3}, pt)
	b.Output(b.Op(ir.OpAdd, ir.Attrs{}, pt, x, y))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ir.IntegerParams(g.Nodes[0]); err == nil || !strings.Contains(err.Error(), "per tensor") {
		t.Errorf("add of a per-channel input: error %v, want one saying per tensor", err)
	}

	table := func(shape ir.Shape) error {
		b := ir.NewBuilder("g")
		x := b.Input("x", ir.I8, ir.Shape{1, 2, 3, 3}, ch)
		tv := b.Const("t", ir.I8, shape, pt, make([]int8, shape.NumElements()))
		b.Output(b.Op(ir.OpHSwish, ir.Attrs{}, pt, x, tv))
		g, err := b.Graph()
		if err != nil {
			return err
		}
		_, err = ir.IntegerParams(g.Nodes[0])
		return err
	}
	if err := table(ir.Shape{2, 256}); err != nil {
		t.Errorf("per-channel tables: %v", err)
	}
	if err := table(ir.Shape{256}); err == nil || !strings.Contains(err.Error(), "one table per channel") {
		t.Errorf("a single table for a per-channel input: error %v, want one asking for a table per channel", err)
	}
}
