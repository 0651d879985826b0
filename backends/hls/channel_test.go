package hls

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
)

// channelGraph is an int8 graph with every per-channel case the templates
// take, on c channels (axis 1), from a [1,2,7,7] input:
//
//	conv2d 3x3       per-tensor input -> per-channel result (zo_)
//	depthwise 3x3    per-channel input (zi_) -> per-channel result (zo_)
//	hswish           per-channel table, per-channel input and result
//	depthwise 3x3    per-channel input (zi_) -> per-tensor result, relu
//	sigmoid          per-channel table, per-tensor input, per-channel result
//
// and the host dequantizes the result per channel. The quantizer makes only
// some of these (a stem); the kernels take them all. Scales follow the
// accumulators' spread, different in every channel, so that codes span
// most of int8 rather than saturate.
func channelGraph(t *testing.T, c int) *ir.Graph {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 5))
	perChannel := func(scale func(ch int) float64, axis int) *ir.Quant {
		q := &ir.Quant{Axis: axis}
		for ch := 0; ch < c; ch++ {
			q.Scale = append(q.Scale, float32(scale(ch)))
			q.ZeroPoint = append(q.ZeroPoint, int32(rng.IntN(81)-40))
		}
		return q
	}
	b := ir.NewBuilder("channels")
	x := b.Input("x", ir.F32, ir.Shape{1, 2, 7, 7}, nil)
	xq := b.Op(ir.OpQuantize, ir.Attrs{}, &ir.Quant{Scale: []float32{1.0 / 64}, ZeroPoint: []int32{3}, Axis: -1}, x)
	// conv appends a 3x3 conv2d (pad 1) reading in (quantized as inQ, cin
	// channels) whose result has spread (in accumulator standard
	// deviations) times a per-channel factor and quantization outQ (nil:
	// per channel).
	conv := func(name string, in *ir.Value, inQ *ir.Quant, cin, groups int, act ir.Act, outQ *ir.Quant) (*ir.Value, *ir.Quant) {
		per := cin / groups
		wq := &ir.Quant{ZeroPoint: make([]int32, c), Axis: 0}
		bq := &ir.Quant{ZeroPoint: make([]int32, c), Axis: 0}
		for ch := 0; ch < c; ch++ {
			sw := float32(math.Ldexp(0.7+0.3*rng.Float64(), -7))
			si, _ := inQ.ScaleAt(ch)
			wq.Scale = append(wq.Scale, sw)
			bq.Scale = append(bq.Scale, float32(float64(si)*float64(sw)))
		}
		// Three standard deviations of an accumulator of 9*per products
		// of codes uniform over int8.
		spread := func(ch int) float64 { return float64(bq.Scale[ch]) * 3 * 74 * 73 * math.Sqrt(float64(9*per)) }
		if outQ == nil {
			outQ = perChannel(func(ch int) float64 { return 2 * spread(ch) * (0.5 + float64(ch)) / 255 }, 1)
		}
		w := make([]int8, c*per*9)
		for i := range w {
			w[i] = int8(rng.IntN(255) - 127)
		}
		bias := make([]int32, c)
		for i := range bias {
			bias[i] = int32(rng.IntN(4001) - 2000)
		}
		wv := b.Const(name+".w", ir.I8, ir.Shape{c, per, 3, 3}, wq, w)
		bv := b.Const(name+".b", ir.I32, ir.Shape{c}, bq, bias)
		return b.Op(ir.OpConv2D, ir.Attrs{Kernel: [2]int{3, 3}, Stride: 1, Pad: 1, Groups: groups, Act: act}, outQ, in, wv, bv), outQ
	}
	// table appends op reading in (inQ) with result quantization outQ.
	table := func(name string, op ir.Op, in *ir.Value, inQ, outQ *ir.Quant) *ir.Value {
		tab, err := ir.ActivationTable(op, inQ, outQ, c)
		if err != nil {
			t.Fatal(err)
		}
		tq := outQ
		if !outQ.PerTensor() {
			tq = &ir.Quant{Scale: outQ.Scale, ZeroPoint: outQ.ZeroPoint, Axis: 0}
		}
		tv := b.Const(name, ir.I8, ir.Shape{c, 256}, tq, tab)
		return b.Op(op, ir.Attrs{}, outQ, in, tv)
	}
	y1, q1 := conv("conv", xq, xq.Quant, 2, 1, ir.ActNone, nil)
	y2, q2 := conv("dw1", y1, q1, c, c, ir.ActNone, nil)
	q3 := perChannel(func(ch int) float64 { s, _ := q2.ScaleAt(ch); return float64(s) * 0.75 }, 1)
	y3 := table("hswish.lut", ir.OpHSwish, y2, q2, q3)
	q4 := &ir.Quant{Scale: []float32{0.05}, ZeroPoint: []int32{-128}, Axis: -1}
	y4, _ := conv("dw2", y3, q3, c, c, ir.ActReLU, q4)
	q5 := perChannel(func(ch int) float64 { return (1 + 0.2*float64(ch)) / 255 }, 1)
	for i := range q5.ZeroPoint {
		q5.ZeroPoint[i] = -128
	}
	y5 := table("sigmoid.lut", ir.OpSigmoid, y4, q4, q5)
	b.Output(b.Unary(ir.OpDequantize, y5))
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestPerChannelCSim emits channelGraph with every combination of lanes
// (a per-channel table or zero-point array with one lane, some and one per
// channel) and runs each C simulation against the int8 interpreter.
func TestPerChannelCSim(t *testing.T) {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("g++ not found: the C-simulation check needs a C++14 compiler on PATH")
	}
	const c = 6
	g := channelGraph(t, c)
	d, err := analyse(g)
	if err != nil {
		t.Fatal(err)
	}
	// The test is only as good as its codes: every per-channel value must
	// take many codes, not saturate.
	inputs := SyntheticInputs(g, 20)
	for _, l := range d.layers {
		if l.kind == kindLoad || l.kind == kindStore {
			continue
		}
		n := distinctCodes(t, g, l.n.Output, inputs)
		if n < 40 {
			t.Errorf("%s (%s) takes %d distinct codes on the test inputs; rescale channelGraph", l.n.Name(), l.kind, n)
		}
		t.Logf("%s (%s): %d distinct codes", l.n.Name(), l.kind, n)
	}
	s := target(t, "fpga-zu9").Spec.(Spec)
	if len(d.classes) != 2 || d.classes[1].channels != c {
		t.Fatalf("want the input's lane class and one of %d channels, got %+v", c, d.classes)
	}
	for _, in := range d.classes[0].divisors {
		for _, u := range d.classes[1].divisors {
			t.Run(fmt.Sprintf("lanes%d-%d", in, u), func(t *testing.T) {
				p := d.planWith([]int{in, u}, s, "fpga-zu9", 0)
				dir := t.TempDir()
				if err := d.writeProject(p, s, dir, inputs); err != nil {
					t.Fatal(err)
				}
				arrays := checkWeightsMatchPlan(t, dir, p)
				for _, name := range []string{"zo_l001_conv", "zi_l002_dwconv", "zo_l002_dwconv", "t_l003_table", "zi_l004_dwconv", "t_l005_table"} {
					a, ok := arrays[name]
					if !ok {
						t.Fatalf("no %s in the plan", name)
					}
					per := c
					if name[0] == 't' {
						per *= 256
					}
					if a.Banks != u || a.Depth != per/u {
						t.Errorf("%s is [%d][%d], want [%d][%d]: one row of channels ct*%d.. per bank", name, a.Depth, a.Banks, per/u, u, u)
					}
				}
				if _, ok := arrays["zo_l004_dwconv"]; ok {
					t.Error("zo_l004_dwconv: a per-tensor result needs no zero-point array")
				}
				cmd := exec.Command("nice", "-n", "19", "make", "-s", "csim", "CXX="+gxx)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				if err != nil || !bytes.Contains(out, []byte(fmt.Sprintf("PASS: %d images", len(inputs)))) {
					t.Fatalf("make csim: %v\n%s", err, lastLines(out, 40))
				}
			})
		}
	}
}

// distinctCodes counts the codes v takes over inputs in the int8
// interpreter.
func distinctCodes(t *testing.T, g *ir.Graph, v *ir.Value, inputs []interp.Tensor) int {
	t.Helper()
	it, err := interp.NewInt8(g)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[float32]bool{}
	for _, x := range inputs {
		_, all, err := it.RunAll(x)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range all[v].Data {
			seen[c] = true
		}
	}
	return len(seen)
}

// checkWeightsMatchPlan reads the constant arrays weights.h declares and
// checks they are the plan's arrays, each [Depth][banks...] with as many
// banks and as wide elements as the plan (and so the cost model) says. It
// returns the plan's arrays by name.
func checkWeightsMatchPlan(t *testing.T, dir string, p *Plan) map[string]ArrayPlan {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "firmware", "weights.h"))
	if err != nil {
		t.Fatal(err)
	}
	planned := map[string]ArrayPlan{}
	for _, l := range p.Layers {
		for _, a := range l.Arrays {
			planned[a.Name] = a
		}
	}
	declared := 0
	for _, m := range regexp.MustCompile(`(?m)^static const int(8|32)_t (\w+)((?:\[\d+\])+) =`).FindAllStringSubmatch(string(src), -1) {
		declared++
		a, ok := planned[m[2]]
		if !ok {
			t.Errorf("weights.h declares %s, which the plan does not cost", m[2])
			continue
		}
		dims := strings.Split(strings.Trim(m[3], "[]"), "][")
		depth, _ := strconv.Atoi(dims[0])
		banks := 1
		for _, s := range dims[1:] {
			n, _ := strconv.Atoi(s)
			banks *= n
		}
		if width, _ := strconv.Atoi(m[1]); depth != a.Depth || banks != a.Banks || width != a.Width {
			t.Errorf("weights.h declares %s%s of int%s_t, plan %d deep, %d banks of %d bits", m[2], m[3], m[1], a.Depth, a.Banks, a.Width)
		}
	}
	if declared != len(planned) {
		t.Errorf("weights.h declares %d arrays, the plan has %d", declared, len(planned))
	}
	return planned
}
