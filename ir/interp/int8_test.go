package interp_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
)

// TestInt8KernelsUseNoFloat reads the integer kernels' source: no float
// type, no float literal, no math package. Together with ir.IntParams
// holding only integers, this is what makes the int8 run integer-only.
func TestInt8KernelsUseNoFloat(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "int8_kernels.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "math" || strings.HasPrefix(p, "math/") {
			t.Errorf("int8_kernels.go imports %s", p)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Ident:
			if strings.HasPrefix(n.Name, "float") || strings.HasPrefix(n.Name, "complex") {
				t.Errorf("%s: int8_kernels.go uses %s", fset.Position(n.Pos()), n.Name)
			}
		case *ast.BasicLit:
			if n.Kind == token.FLOAT || n.Kind == token.IMAG {
				t.Errorf("%s: int8_kernels.go has the literal %s", fset.Position(n.Pos()), n.Value)
			}
		case *ast.SelectorExpr:
			if strings.Contains(n.Sel.Name, "Float") || n.Sel.Name == "Real" || n.Sel.Name == "QuantizeF32" {
				t.Errorf("%s: int8_kernels.go calls %s", fset.Position(n.Pos()), n.Sel.Name)
			}
		}
		return true
	})
}

func randQuant(rng *rand.Rand) *ir.Quant {
	return &ir.Quant{Scale: []float32{float32(math.Ldexp(0.5+rng.Float64(), -rng.IntN(8)))},
		ZeroPoint: []int32{int32(rng.IntN(200) - 100)}, Axis: -1}
}

// realRange is the span of reals a per-tensor quantization represents.
func realRange(q *ir.Quant) (lo, hi float64) {
	s, z := float64(q.Scale[0]), float64(q.ZeroPoint[0])
	return s * (-128 - z), s * (127 - z)
}

// fitQuant covers [lo, hi] (widened to contain 0) with a little slack
// either way, so a few results saturate but most do not.
func fitQuant(rng *rand.Rand, lo, hi float64) *ir.Quant {
	lo, hi = min(lo, 0), max(hi, 0)
	s := (hi - lo) / 255 * (0.8 + 0.5*rng.Float64())
	zp := min(max(math.Round(-128-lo/s), -128), 127)
	return &ir.Quant{Scale: []float32{float32(s)}, ZeroPoint: []int32{int32(zp)}, Axis: -1}
}

func randCodes(rng *rand.Rand, s ir.Shape) interp.Tensor {
	d := make([]float32, s.NumElements())
	for i := range d {
		d[i] = float32(rng.IntN(256) - 128)
	}
	return interp.Tensor{Shape: s, Data: d}
}

// compareInt8 runs g, whose inputs and output are i8 codes, on both
// interpreters: the float one fake-quantizes each result, the int8 one
// rounds in fixed point, so single ops differ by at most one code. It
// returns how many codes differ.
func compareInt8(t *testing.T, what string, g *ir.Graph, xs ...interp.Tensor) int {
	t.Helper()
	ref, err := interp.New(g)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	it, err := interp.NewInt8(g)
	if err != nil {
		t.Fatalf("%s: %v\n%s", what, err, ir.Print(g))
	}
	want, err := ref.Run(xs...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := it.Run(xs...)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := it.Run(xs...)
	differ, saturated := 0, 0
	for i := range want[0].Data {
		d := math.Abs(float64(got[0].Data[i] - want[0].Data[i]))
		if d > 1 {
			t.Fatalf("%s: element %d: int8 %g, float %g\n%s", what, i, got[0].Data[i], want[0].Data[i], ir.Print(g))
		}
		if d != 0 {
			differ++
		}
		if v := want[0].Data[i]; v == -128 || v == 127 {
			saturated++
		}
		if again[0].Data[i] != got[0].Data[i] {
			t.Fatalf("%s: two runs differ", what)
		}
	}
	// Most results must land inside the int8 range, or the comparison
	// would only check saturation.
	if n := len(want[0].Data); saturated*2 > n {
		t.Fatalf("%s: %d of %d results saturate; the test's scales are off", what, saturated, n)
	}
	return differ
}

func TestInt8ConvAndDenseWithinOneCode(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	total, differ := 0, 0
	for trial := 0; trial < 150; trial++ {
		n, c, h, wd := 1+rng.IntN(2), 1+rng.IntN(6), 1+rng.IntN(8), 1+rng.IntN(8)
		k := 1 + 2*rng.IntN(3)
		s, p := 1+rng.IntN(2), rng.IntN(k/2+1)
		if h+2*p < k || wd+2*p < k {
			continue
		}
		g := 1
		if rng.IntN(2) == 0 {
			g = c
		}
		o := g * (1 + rng.IntN(3))
		dense := trial%5 == 0
		inQ := randQuant(rng)
		wshape := ir.Shape{o, c / g, k, k}
		xshape := ir.Shape{n, c, h, wd}
		if dense {
			wshape, xshape = ir.Shape{o, c * h}, ir.Shape{n, c * h}
		}
		per := wshape.NumElements() / o
		wq := &ir.Quant{Axis: 0, ZeroPoint: make([]int32, o)}
		bq := &ir.Quant{Axis: 0, ZeroPoint: make([]int32, o)}
		for i := 0; i < o; i++ {
			sw := float32(math.Ldexp(0.7+0.3*rng.Float64(), -6))
			wq.Scale = append(wq.Scale, sw)
			bq.Scale = append(bq.Scale, float32(float64(inQ.Scale[0])*float64(sw)))
		}
		// An output range that holds about three standard deviations of
		// the accumulator.
		spread := float64(inQ.Scale[0]) * float64(wq.Scale[0]) * 3 * 74 * 73 * math.Sqrt(float64(per))
		outQ := fitQuant(rng, -spread, spread)
		wd8 := make([]int8, wshape.NumElements())
		for i := range wd8 {
			wd8[i] = int8(rng.IntN(255) - 127)
		}
		bias := make([]int32, o)
		for i := range bias {
			bias[i] = int32(rng.IntN(20001) - 10000)
		}
		acts := []ir.Act{ir.ActNone, ir.ActReLU, ir.ActReLU6}
		b := ir.NewBuilder("g")
		x := b.Input("x", ir.I8, xshape, inQ)
		w := b.Const("w", ir.I8, wshape, wq, wd8)
		bv := b.Const("b", ir.I32, ir.Shape{o}, bq, bias)
		var y *ir.Value
		if dense {
			y = b.Op(ir.OpDense, ir.Attrs{Act: acts[rng.IntN(3)]}, outQ, x, w, bv)
		} else {
			y = b.Op(ir.OpConv2D, ir.Attrs{Kernel: [2]int{k, k}, Stride: s, Pad: p, Groups: g, Act: acts[rng.IntN(3)]}, outQ, x, w, bv)
		}
		b.Output(y)
		graph, err := b.Graph()
		if err != nil {
			t.Fatal(err)
		}
		differ += compareInt8(t, "conv/dense trial "+strconv.Itoa(trial), graph, randCodes(rng, xshape))
		total += y.Shape.NumElements()
	}
	t.Logf("%d of %d codes differ by one from the float reference", differ, total)
	if differ*20 > total {
		t.Errorf("%d of %d codes differ: fixed-point rounding should rarely differ", differ, total)
	}
}

func TestInt8ElementwiseWithinOneCode(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	shape := ir.Shape{2, 5, 4, 3}
	for trial := 0; trial < 200; trial++ {
		b := ir.NewBuilder("g")
		qa, qb := randQuant(rng), randQuant(rng)
		if trial%9 >= 7 { // table ops: an input range around their bends
			qa = fitQuant(rng, -3-rng.Float64(), 3+rng.Float64())
		}
		alo, ahi := realRange(qa)
		blo, bhi := realRange(qb)
		qo := fitQuant(rng, alo, ahi)
		x := b.Input("x", ir.I8, shape, qa)
		var y *ir.Value
		var inputs []interp.Tensor
		inputs = append(inputs, randCodes(rng, shape))
		switch op := trial % 9; op {
		case 0, 1: // add, same shape and broadcast
			s2 := shape
			if op == 1 {
				s2 = ir.Shape{1, 5, 1, 3}
			}
			z := b.Input("z", ir.I8, s2, qb)
			inputs = append(inputs, randCodes(rng, s2))
			qo = fitQuant(rng, alo+blo, ahi+bhi)
			y = b.Op(ir.OpAdd, ir.Attrs{Act: []ir.Act{ir.ActNone, ir.ActReLU, ir.ActReLU6}[rng.IntN(3)]}, qo, x, z)
		case 2: // squeeze-excite mul
			z := b.Input("z", ir.I8, ir.Shape{2, 5, 1, 1}, qb)
			inputs = append(inputs, randCodes(rng, z.Shape))
			p := []float64{alo * blo, alo * bhi, ahi * blo, ahi * bhi}
			qo = fitQuant(rng, min(p[0], p[1], p[2], p[3]), max(p[0], p[1], p[2], p[3]))
			y = b.Op(ir.OpMul, ir.Attrs{}, qo, x, z)
		case 3:
			y = b.Op(ir.OpGlobalAvgPool, ir.Attrs{}, qo, x)
		case 4:
			y = b.Op(ir.OpReshape, ir.Attrs{Shape: ir.Shape{2, 60}}, qo, x)
		case 5:
			y = b.Op(ir.OpReLU, ir.Attrs{}, qo, x)
		case 6:
			y = b.Op(ir.OpClip, ir.Attrs{Min: -0.5, Max: 1.5}, qo, x)
		default:
			op := []ir.Op{ir.OpHSwish, ir.OpHSigmoid, ir.OpSigmoid}[rng.IntN(3)]
			if op == ir.OpHSwish {
				qo = fitQuant(rng, -0.375, ahi*min(max(ahi+3, 0), 6)/6)
			} else {
				qo = fitQuant(rng, 0, 1)
			}
			tab, err := ir.ActivationTable(op, qa, qo, 0)
			if err != nil {
				t.Fatal(err)
			}
			y = b.Op(op, ir.Attrs{}, qo, x, b.Const("lut", ir.I8, ir.Shape{256}, qo, tab))
		}
		b.Output(y)
		g, err := b.Graph()
		if err != nil {
			t.Fatal(err)
		}
		compareInt8(t, "trial "+strconv.Itoa(trial)+" "+g.Nodes[0].Op.String(), g, inputs...)
	}
}

func TestInt8BoundaryAndErrors(t *testing.T) {
	q := &ir.Quant{Scale: []float32{0.05}, ZeroPoint: []int32{-3}, Axis: -1}
	b := ir.NewBuilder("g")
	x := b.Input("x", ir.F32, ir.Shape{1, 6}, nil)
	xq := b.Op(ir.OpQuantize, ir.Attrs{}, q, x)
	r := b.Op(ir.OpReLU, ir.Attrs{}, q, xq)
	b.Output(b.Unary(ir.OpDequantize, r))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	it, err := interp.NewInt8(g)
	if err != nil {
		t.Fatal(err)
	}
	out, err := it.Run(interp.Tensor{Shape: x.Shape, Data: []float32{-1, 0, 0.074, 0.076, 1, 100}})
	if err != nil {
		t.Fatal(err)
	}
	// Codes: relu clamps at the zero point; 100 saturates at 127.
	want := []float32{0, 0, 0.05, 0.1, 1, 0.05 * 130}
	for i, w := range want {
		if math.Abs(float64(out[0].Data[i]-w)) > 1e-6 {
			t.Fatalf("got %v, want %v", out[0].Data, want)
		}
	}

	// Ops with no integer kernel are refused by name.
	b = ir.NewBuilder("g")
	x = b.Input("x", ir.F32, ir.Shape{1, 6}, nil)
	b.Output(b.Op(ir.OpSoftmax, ir.Attrs{Axis: -1}, nil, x))
	g, _ = b.Graph()
	if _, err := interp.NewInt8(g); err == nil || !strings.Contains(err.Error(), "%1") {
		t.Fatalf("softmax: error %v, want one naming %%1", err)
	}
	b = ir.NewBuilder("g")
	xi := b.Input("x", ir.I8, ir.Shape{1, 6}, q)
	b.Output(b.Op(ir.OpAdd, ir.Attrs{Act: ir.ActHSwish}, q, xi, xi))
	g, _ = b.Graph()
	if _, err := interp.NewInt8(g); err == nil || !strings.Contains(err.Error(), "lookup-table") {
		t.Fatalf("add{act=hswish}: error %v", err)
	}
	if _, err := it.Run(interp.Tensor{Shape: ir.Shape{1, 5}, Data: make([]float32, 5)}); err == nil {
		t.Fatal("wrong input shape accepted")
	}
}
