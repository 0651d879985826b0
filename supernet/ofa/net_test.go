package ofa

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/supernet/optim"
	"github.com/ofac-dev/ofac/supernet/tensor"
)

// tinySpace has three classes so the gradient check stays cheap.
var tinySpace = func() SearchSpace {
	s := Tiny
	s.Classes = 3
	return s
}()

func randInput(rng *rand.Rand, n, r int) *tensor.Tensor {
	x := tensor.New(n, 1, r, r)
	tensor.RandNormal(x.Data, 1, rng)
	return x
}

// loss is sum(logits * r), so dloss/dlogits = r.
func loss(net *Net, a Arch, x, r *tensor.Tensor) float64 {
	logits, _ := net.Forward(nil, a, x, Teacher, nil, 0, nil)
	var s float64
	for i, v := range logits.Data {
		s += float64(v) * float64(r.Data[i])
	}
	return s
}

func TestSupernetGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	net := New(tinySpace, 3)
	// Perturb the transforms and BN so their gradients are not degenerate.
	for _, p := range net.Params() {
		if strings.Contains(p.Name, ".t5") || strings.Contains(p.Name, ".t3") || strings.Contains(p.Name, ".bn.") {
			for i := range p.Data {
				p.Data[i] += float32(0.1 * rng.NormFloat64())
			}
		}
	}
	archs := []Arch{
		{KS: []int{3, 5, 7, 3, 5, 3}, E: []int{3, 4, 6, 3, 4, 6}, D: []int{2, 1, 2}, R: 8},
		{KS: []int{5, 3, 3, 7, 3, 5}, E: []int{6, 3, 4, 4, 3, 3}, D: []int{1, 2, 2}, R: 12},
	}
	for ai, a := range archs {
		if err := tinySpace.Validate(a); err != nil {
			t.Fatal(err)
		}
		x := randInput(rng, 3, a.R)
		logits, bp := net.Forward(nil, a, x, Train, nil, 0, nil)
		r := tensor.New(logits.Shape...)
		tensor.RandNormal(r.Data, 1, rng)
		for _, p := range net.Params() {
			clear(p.Grad)
		}
		bp.Backward(r)
		checked := 0
		for _, p := range net.Params() {
			// Check the entries with the largest gradients plus a few random ones.
			idx := []int{argmaxAbs(p.Grad), rng.IntN(len(p.Data)), rng.IntN(len(p.Data))}
			for _, i := range idx {
				if !checkEntry(t, net, a, x, r, p, i) {
					t.Fatalf("arch %d: param %s[%d]: gradient mismatch", ai, p.Name, i)
				}
				checked++
			}
		}
		if checked < 100 {
			t.Fatalf("only %d entries checked", checked)
		}
	}
}

func argmaxAbs(g []float32) int {
	best := 0
	for i, v := range g {
		if math.Abs(float64(v)) > math.Abs(float64(g[best])) {
			best = i
		}
	}
	return best
}

func checkEntry(t *testing.T, net *Net, a Arch, x, r *tensor.Tensor, p *optim.Param, i int) bool {
	t.Helper()
	// Small steps keep ReLU and BN kinks out of the difference; the absolute
	// tolerance covers float32 rounding of the summed loss.
	const eps = 1e-3
	old := p.Data[i]
	p.Data[i] = old + eps
	up := loss(net, a, x, r)
	p.Data[i] = old - eps
	down := loss(net, a, x, r)
	p.Data[i] = old
	num := (up - down) / (2 * eps)
	ana := float64(p.Grad[i])
	ok := math.Abs(num-ana) <= 0.05*math.Max(math.Abs(num), math.Abs(ana))+1e-2
	if !ok {
		t.Logf("%s[%d]: numeric %g, analytic %g", p.Name, i, num, ana)
	}
	return ok
}

func TestUnusedBlocksGetNoGradient(t *testing.T) {
	net := New(tinySpace, 1)
	a := tinySpace.Smallest()
	a.R = 8
	x := randInput(rand.New(rand.NewPCG(2, 2)), 2, 8)
	logits, bp := net.Forward(nil, a, x, Train, nil, 0, nil)
	r := tensor.New(logits.Shape...)
	tensor.Fill(r.Data, 1)
	bp.Backward(r)
	for _, p := range net.Params() {
		if strings.HasPrefix(p.Name, "s0.b1.") { // depth 1 skips the second block
			for _, g := range p.Grad {
				if g != 0 {
					t.Fatalf("%s got a gradient though its block did not run", p.Name)
				}
			}
		}
	}
}

func TestCalibratedStatsDifferFromRunning(t *testing.T) {
	net := New(tinySpace, 1)
	rng := rand.New(rand.NewPCG(4, 4))
	a := tinySpace.Largest()
	a.R = 8
	stats := NewStats()
	for i := 0; i < 3; i++ {
		net.Forward(nil, a, randInput(rng, 4, 8), Calibrate, stats, 0, nil)
	}
	x := randInput(rng, 2, 8)
	plain, _ := net.Forward(nil, a, x, Eval, nil, 0, nil)
	cal, _ := net.Forward(nil, a, x, Eval, stats, 0, nil)
	if tensor.MaxAbsDiff(plain.Data, cal.Data) == 0 {
		t.Fatal("recalibrated statistics had no effect")
	}
	// Calibrating on the batch itself, Eval must match the Teacher pass
	// (batch statistics) up to the variance round trip.
	one := NewStats()
	net.Forward(nil, a, x, Calibrate, one, 0, nil)
	ev, _ := net.Forward(nil, a, x, Eval, one, 0, nil)
	te, _ := net.Forward(nil, a, x, Teacher, nil, 0, nil)
	if d := tensor.MaxAbsDiff(ev.Data, te.Data); d > 1e-3 {
		t.Fatalf("eval with own-batch stats differs from batch-stat pass by %g", d)
	}
}

func TestMACsLargestAndSmallest(t *testing.T) {
	net := New(Default, 1)
	l, s := net.MACs(Default.Largest()), net.MACs(Default.Smallest())
	if !(s > 0 && l > 3*s) {
		t.Fatalf("largest %d MACs, smallest %d: want largest well above smallest", l, s)
	}
	t.Logf("largest %d MACs, smallest %d MACs", l, s)
}

// TestMACsFine checks the count follows the strides: Fine runs the stem and
// first block at the input's resolution and stage 5 at twice Default's side.
func TestMACsFine(t *testing.T) {
	for _, a := range []Arch{Default.Largest(), Default.Smallest()} {
		d, f := New(Default, 1).MACs(a), New(Fine, 1).MACs(a)
		if f <= d*11/10 || f >= 2*d {
			t.Fatalf("%s: Fine %d MACs, Default %d; want 1.1-2 times", a.JSON(), f, d)
		}
		t.Logf("%s: %d MACs in Default, %d in Fine", a.JSON(), d, f)
	}
}

// TestMACsWide checks Wide is Fine at 1.5 times the width: pointwise convs
// grow with the square of the width, depthwise ones linearly, so the same
// architecture costs between 1.5 and 2.25 times Fine's MACs, and it takes
// the same architectures (the elastic choices are unchanged).
func TestMACsWide(t *testing.T) {
	if Wide.MaxBlocks() != Fine.MaxBlocks() || Wide.Name() != "wide" {
		t.Fatalf("Wide: %d blocks, name %q; want Fine's %d blocks and the name wide", Wide.MaxBlocks(), Wide.Name(), Fine.MaxBlocks())
	}
	for _, a := range []Arch{Fine.Largest(), Fine.Smallest()} {
		f, w := New(Fine, 1).MACs(a), New(Wide, 1).MACs(a)
		if w <= f*3/2 || w >= f*9/4 {
			t.Fatalf("%s: Wide %d MACs, Fine %d; want 1.5-2.25 times", a.JSON(), w, f)
		}
		t.Logf("%s: %d MACs in Fine, %d in Wide", a.JSON(), f, w)
	}
}

// TestCopyFromRefusesAnotherSpace: Default and Fine have tensors of the same
// shapes, so only the space itself tells a Fine checkpoint from a Default one.
func TestCopyFromRefusesAnotherSpace(t *testing.T) {
	err := New(Default, 1).CopyFrom(New(Fine, 1))
	if err == nil || !strings.Contains(err.Error(), "fine and default") {
		t.Fatalf("copying a Fine network into a Default one: %v; want an error naming both spaces", err)
	}
	if err := New(Fine, 1).CopyFrom(New(Fine, 2)); err != nil {
		t.Fatalf("copying within Fine: %v", err)
	}
}

func TestSortChannelsKeepsTheFunction(t *testing.T) {
	net := New(tinySpace, 5)
	rng := rand.New(rand.NewPCG(6, 6))
	// Make importance differ from index order.
	for _, p := range net.Params() {
		tensor.RandNormal(p.Data, 0.5, rng)
	}
	x := randInput(rng, 3, 8)
	a := tinySpace.Largest()
	a.R = 8
	before, _ := net.Forward(nil, a, x, Teacher, nil, 0, nil)
	net.SortChannels()
	after, _ := net.Forward(nil, a, x, Teacher, nil, 0, nil)
	if d := tensor.MaxAbsDiff(before.Data, after.Data); d > 1e-3 {
		t.Fatalf("sorting channels changed the logits by %g", d)
	}
	b := net.blocks[0]
	imp := func(c int) (s float64) {
		for o := 0; o < b.out; o++ {
			s += math.Abs(float64(b.project.w.Data[o*b.maxHidden+c]))
		}
		return s
	}
	for c := 1; c < b.maxHidden; c++ {
		if imp(c) > imp(c-1) {
			t.Fatalf("channel %d is more important than channel %d after sorting", c, c-1)
		}
	}
}

// A training step reuses its arena, and several of its buffers are handed
// out uninitialised for kernels that overwrite them. Run the step on an
// arena filled with NaN: any element a kernel failed to write would poison
// the gradients, which must equal those of a step on fresh, zeroed memory.
func TestTrainStepIgnoresStaleArena(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	net := New(tinySpace, 3)
	a := Arch{KS: []int{3, 5, 7, 3, 5, 3}, E: []int{3, 4, 6, 3, 4, 6}, D: []int{2, 1, 2}, R: 12}
	x := randInput(rng, 4, a.R)
	r := tensor.New(4, tinySpace.Classes)
	tensor.RandNormal(r.Data, 1, rng)
	step := func(ws *tensor.Arena) [][]float32 {
		for _, p := range net.Params() {
			clear(p.Grad)
		}
		logits, bp := net.Forward(ws, a, x, Train, nil, 0, nil)
		bp.Backward(r)
		out := [][]float32{append([]float32(nil), logits.Data...)}
		for _, p := range net.Params() {
			out = append(out, append([]float32(nil), p.Grad...))
		}
		return out
	}
	want := step(nil)
	ws := tensor.NewArena(0)
	step(ws)
	used := ws.Used()
	ws.Reset() // regrows the arena to the step's size
	tensor.Fill(ws.AllocRaw(used), float32(math.NaN()))
	ws.Reset()
	got := step(ws)
	if ws.Used() != used {
		t.Fatalf("second step used %d floats, first %d", ws.Used(), used)
	}
	for i := range want {
		if d := tensor.MaxAbsDiff(got[i], want[i]); !(d == 0) {
			name := "logits"
			if i > 0 {
				name = net.Params()[i-1].Name
			}
			t.Errorf("%s: max abs diff %g from a step on zeroed memory", name, d)
		}
	}
}

// TestNearResolutions: Near differs from Fine in its resolutions alone, so
// Fine's largest architecture is valid in Near only once moved to one of
// Near's resolutions, and every Near resolution builds a network whose MACs
// grow with the resolution.
func TestNearResolutions(t *testing.T) {
	if Near.Name() != "near" || Near.MaxBlocks() != Fine.MaxBlocks() {
		t.Fatalf("Near: name %q, %d blocks; want near and Fine's %d", Near.Name(), Near.MaxBlocks(), Fine.MaxBlocks())
	}
	a := Fine.Largest()
	a.R = 20
	if err := Near.Validate(a); err == nil {
		t.Fatalf("Near accepted resolution 20")
	}
	n := New(Near, 1)
	var prev int64
	for _, r := range Near.Resolutions {
		a.R = r
		if err := Near.Validate(a); err != nil {
			t.Fatalf("r%d: %v", r, err)
		}
		m := n.MACs(a)
		if m <= prev {
			t.Fatalf("r%d: %d MACs, not more than the resolution below (%d)", r, m, prev)
		}
		prev = m
	}
}
