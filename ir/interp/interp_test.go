package interp_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/ir/irtest"
)

func randTensor(rng *rand.Rand, s ir.Shape) interp.Tensor {
	d := make([]float32, s.NumElements())
	for i := range d {
		d[i] = float32(rng.NormFloat64())
	}
	return interp.Tensor{Shape: s, Data: d}
}

// naiveConv is the textbook definition, with a bounds test per tap.
func naiveConv(x, w, b []float32, n, c, h, wd, o, k, s, p, g int) []float32 {
	oh, ow := (h+2*p-k)/s+1, (wd+2*p-k)/s+1
	out := make([]float32, n*o*oh*ow)
	cg, og := c/g, o/g
	for bi := 0; bi < n; bi++ {
		for oc := 0; oc < o; oc++ {
			for y := 0; y < oh; y++ {
				for xx := 0; xx < ow; xx++ {
					var acc float64
					if b != nil {
						acc = float64(b[oc])
					}
					for ic := 0; ic < cg; ic++ {
						cin := (oc/og)*cg + ic
						for ky := 0; ky < k; ky++ {
							for kx := 0; kx < k; kx++ {
								iy, ix := y*s+ky-p, xx*s+kx-p
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								acc += float64(x[((bi*c+cin)*h+iy)*wd+ix]) * float64(w[((oc*cg+ic)*k+ky)*k+kx])
							}
						}
					}
					out[((bi*o+oc)*oh+y)*ow+xx] = float32(acc)
				}
			}
		}
	}
	return out
}

func TestConv2DMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 300; trial++ {
		n, c, h, wd := 1+rng.IntN(2), 1+rng.IntN(6), 1+rng.IntN(9), 1+rng.IntN(9)
		k := 1 + 2*rng.IntN(4)
		s, p := 1+rng.IntN(3), rng.IntN(k/2+2)
		if h+2*p < k || wd+2*p < k {
			continue
		}
		g := 1
		if rng.IntN(2) == 0 {
			g = c
		}
		o := g * (1 + rng.IntN(3))
		b := ir.NewBuilder("conv")
		xv := b.Input("x", ir.F32, ir.Shape{n, c, h, wd}, nil)
		wt := randTensor(rng, ir.Shape{o, c / g, k, k})
		bt := randTensor(rng, ir.Shape{o})
		y := b.Op(ir.OpConv2D, ir.Attrs{Kernel: [2]int{k, k}, Stride: s, Pad: p, Groups: g}, nil,
			xv, b.ConstF32("w", wt.Shape, wt.Data), b.ConstF32("b", bt.Shape, bt.Data))
		b.Output(y)
		graph, err := b.Graph()
		if err != nil {
			t.Fatal(err)
		}
		it, err := interp.New(graph)
		if err != nil {
			t.Fatal(err)
		}
		x := randTensor(rng, xv.Shape)
		got, err := it.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		want := naiveConv(x.Data, wt.Data, bt.Data, n, c, h, wd, o, k, s, p, g)
		for i := range want {
			if math.Abs(float64(got[0].Data[i]-want[i])) > 1e-4*(1+math.Abs(float64(want[i]))) {
				t.Fatalf("trial %d (n%d c%d %dx%d o%d k%d s%d p%d g%d): element %d = %g, want %g",
					trial, n, c, h, wd, o, k, s, p, g, i, got[0].Data[i], want[i])
			}
		}
	}
}

// run builds a one-node graph over x and returns its output.
func run(t *testing.T, op ir.Op, a ir.Attrs, x interp.Tensor) []float32 {
	t.Helper()
	b := ir.NewBuilder("g")
	b.Output(b.Op(op, a, nil, b.Input("x", ir.F32, x.Shape, nil)))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	it, err := interp.New(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := it.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	return out[0].Data
}

func TestElementwiseOps(t *testing.T) {
	x := interp.Tensor{Shape: ir.Shape{1, 1, 1, 6}, Data: []float32{-4, -3, -1, 0, 2, 7}}
	tests := []struct {
		op   ir.Op
		a    ir.Attrs
		want []float32
	}{
		{ir.OpReLU, ir.Attrs{}, []float32{0, 0, 0, 0, 2, 7}},
		{ir.OpClip, ir.Attrs{Min: 0, Max: 6}, []float32{0, 0, 0, 0, 2, 6}},
		{ir.OpHSigmoid, ir.Attrs{}, []float32{0, 0, 2.0 / 6, 0.5, 5.0 / 6, 1}},
		{ir.OpHSwish, ir.Attrs{}, []float32{0, 0, -2.0 / 6, 0, 10.0 / 6, 7}},
		{ir.OpAdd, ir.Attrs{Act: ir.ActReLU6}, []float32{0, 0, 0, 0, 4, 6}},
	}
	for _, tc := range tests {
		var got []float32
		if tc.op == ir.OpAdd {
			b := ir.NewBuilder("g")
			in := b.Input("x", ir.F32, x.Shape, nil)
			b.Output(b.Op(ir.OpAdd, tc.a, nil, in, in))
			g, err := b.Graph()
			if err != nil {
				t.Fatal(err)
			}
			it, _ := interp.New(g)
			out, err := it.Run(x)
			if err != nil {
				t.Fatal(err)
			}
			got = out[0].Data
		} else {
			got = run(t, tc.op, tc.a, x)
		}
		for i := range tc.want {
			if math.Abs(float64(got[i]-tc.want[i])) > 1e-6 {
				t.Errorf("%s: got %v, want %v", tc.op, got, tc.want)
				break
			}
		}
	}
}

func TestSqueezeExciteBroadcastAndPool(t *testing.T) {
	b := ir.NewBuilder("se")
	x := b.Input("x", ir.F32, ir.Shape{1, 2, 2, 2}, nil)
	p := b.Unary(ir.OpGlobalAvgPool, x)
	y := b.Op(ir.OpMul, ir.Attrs{}, nil, x, p)
	b.Output(y)
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	it, _ := interp.New(g)
	out, err := it.Run(interp.Tensor{Shape: x.Shape, Data: []float32{1, 2, 3, 6, -1, -1, -1, -1}})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{3, 6, 9, 18, 1, 1, 1, 1} // channel means 3 and -1
	for i := range want {
		if out[0].Data[i] != want[i] {
			t.Fatalf("got %v, want %v", out[0].Data, want)
		}
	}
}

func TestQuantizeRoundsAndClamps(t *testing.T) {
	q := &ir.Quant{Scale: []float32{0.5}, ZeroPoint: []int32{10}, Axis: -1}
	b := ir.NewBuilder("q")
	x := b.Input("x", ir.F32, ir.Shape{1, 5}, nil)
	y := b.Op(ir.OpQuantize, ir.Attrs{}, q, x)
	z := b.Unary(ir.OpDequantize, y)
	b.Output(y, z)
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	it, _ := interp.New(g)
	out, err := it.Run(interp.Tensor{Shape: x.Shape, Data: []float32{0, 1.25, -100, 100, 0.74}})
	if err != nil {
		t.Fatal(err)
	}
	// 1.25/0.5 = 2.5 rounds to even 2; -100 clamps to -128; 100 to 127.
	wantCodes := []float32{10, 12, -128, 127, 11}
	wantReal := []float32{0, 1, -69, 58.5, 0.5}
	for i := range wantCodes {
		if out[0].Data[i] != wantCodes[i] || out[1].Data[i] != wantReal[i] {
			t.Fatalf("codes %v reals %v, want %v and %v", out[0].Data, out[1].Data, wantCodes, wantReal)
		}
	}
}

// TestLeaveUnroundedKeepsRealValues also checks RoundingErrors against the
// difference of the two runs.
func TestLeaveUnroundedKeepsRealValues(t *testing.T) {
	q := &ir.Quant{Scale: []float32{0.5}, ZeroPoint: []int32{0}, Axis: -1}
	b := ir.NewBuilder("u")
	x := b.Input("x", ir.I8, ir.Shape{1, 4}, q)
	y := b.Op(ir.OpMul, ir.Attrs{}, q, x, x)
	z := b.Unary(ir.OpDequantize, y)
	b.Output(z)
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	in := interp.Tensor{Shape: x.Shape, Data: []float32{-2, 1, 3, 5}} // codes of -1, 0.5, 1.5, 2.5
	it, err := interp.New(g)
	if err != nil {
		t.Fatal(err)
	}
	rounded, err := it.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := it.RoundingErrors(in)
	if err != nil {
		t.Fatal(err)
	}
	it.LeaveUnrounded(y)
	exact, err := it.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	wantExact := []float32{1, 0.25, 2.25, 6.25}
	wantRounded := []float32{1, 0, 2, 6} // x*x onto the 0.5 grid, ties to even
	for i := range wantExact {
		if exact[0].Data[i] != wantExact[i] || rounded[0].Data[i] != wantRounded[i] {
			t.Fatalf("unrounded %v rounded %v, want %v and %v", exact[0].Data, rounded[0].Data, wantExact, wantRounded)
		}
		if e := errs[y].Data[i]; e != wantRounded[i]-wantExact[i] {
			t.Fatalf("rounding errors %v, want rounded - unrounded", errs[y].Data)
		}
	}
}

func TestSoftmaxSumsToOne(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	x := randTensor(rng, ir.Shape{3, 10})
	got := run(t, ir.OpSoftmax, ir.Attrs{Axis: -1}, x)
	for r := 0; r < 3; r++ {
		var s float64
		for _, v := range got[r*10 : r*10+10] {
			s += float64(v)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Fatalf("row %d sums to %g", r, s)
		}
	}
}

func TestFixtureRunsDeterministically(t *testing.T) {
	g, err := irtest.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	it, err := interp.New(g)
	if err != nil {
		t.Fatal(err)
	}
	x := randTensor(rand.New(rand.NewPCG(9, 9)), g.Inputs[0].Shape)
	a, err := it.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	b, err := it.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	if len(a[0].Data) != 10 {
		t.Fatalf("logits have %d elements, want 10", len(a[0].Data))
	}
	for i := range a[0].Data {
		if a[0].Data[i] != b[0].Data[i] || math.IsNaN(float64(a[0].Data[i])) {
			t.Fatalf("runs differ or are NaN: %v vs %v", a[0].Data, b[0].Data)
		}
	}
	if _, err := it.Run(); err == nil {
		t.Fatal("run without inputs succeeded")
	}
}

func BenchmarkFixturePerImage(b *testing.B) {
	g, err := irtest.Fixture()
	if err != nil {
		b.Fatal(err)
	}
	it, err := interp.New(g)
	if err != nil {
		b.Fatal(err)
	}
	x := randTensor(rand.New(rand.NewPCG(9, 9)), g.Inputs[0].Shape)
	_, tot := ir.Stats(g)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := it.Run(x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tot.MACs)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
}
