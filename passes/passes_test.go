package passes

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/ofac-dev/ofac/frontend"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/ir/irtest"
	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/data/datatest"
	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/train"
)

// testSet returns Fashion-MNIST when installed, a synthetic stand-in
// otherwise.
func testSet(t testing.TB) *data.Splits {
	t.Helper()
	dir := data.DefaultDir
	if _, err := os.Stat(dir); err != nil {
		dir = t.TempDir()
		if err := datatest.Write(dir, 600, 64, 1); err != nil {
			t.Fatal(err)
		}
	}
	s, err := data.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testGraphs are the fixture and random subnets of a randomly initialised
// supernet with batch norm recalibrated on real images, so activations have
// realistic ranges.
func testGraphs(t testing.TB, splits *data.Splits, subnets int) []*ir.Graph {
	t.Helper()
	fx, err := irtest.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	graphs := []*ir.Graph{fx}
	net := ofa.New(ofa.Default, 3)
	rng := rand.New(rand.NewPCG(5, 5))
	archs := []ofa.Arch{ofa.Default.Largest(), ofa.Default.Smallest()}
	for len(archs) < subnets {
		archs = append(archs, ofa.Default.Random(rng))
	}
	for _, a := range archs {
		stats := train.Recalibrate(net, a, splits.Train, 128, 64)
		g, err := frontend.Subnet("subnet", net.Extract(a, stats))
		if err != nil {
			t.Fatal(err)
		}
		graphs = append(graphs, g)
	}
	return graphs
}

// images returns n test images at resolution r as interpreter inputs.
func images(splits *data.Splits, n, r int) []interp.Tensor {
	return frontend.Images(splits.Test, n, r)
}

func clone(t testing.TB, g *ir.Graph) *ir.Graph {
	t.Helper()
	b, err := ir.EncodeModel(g)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ir.DecodeModel(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func outputs(t testing.TB, g *ir.Graph, xs []interp.Tensor) [][]float32 {
	t.Helper()
	it, err := interp.New(g)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]float32
	for _, x := range xs {
		o, err := it.Run(x)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o[0].Data)
	}
	return out
}

// agree checks outputs to 1e-5 relative to the largest magnitude of each
// output vector.
func agree(t *testing.T, what string, want, got [][]float32) {
	t.Helper()
	for i := range want {
		scale := 1.0
		for _, v := range want[i] {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for j := range want[i] {
			if d := math.Abs(float64(want[i][j] - got[i][j])); d > 1e-5*scale {
				t.Fatalf("%s: image %d output %d: %g before, %g after (|diff| %.3g > 1e-5 x %.3g)", what, i, j, want[i][j], got[i][j], d, scale)
			}
		}
	}
}

func TestEveryPassKeepsOutputs(t *testing.T) {
	splits := testSet(t)
	for gi, g := range testGraphs(t, splits, 6) {
		xs := images(splits, 8, g.Inputs[0].Shape[2])
		want := outputs(t, g, xs)
		for _, p := range Pipeline {
			c := clone(t, g)
			if err := p.Fn(c, &Options{}); err != nil {
				t.Fatalf("graph %d pass %s: %v", gi, p.Name, err)
			}
			if err := ir.Verify(c); err != nil {
				t.Fatalf("graph %d pass %s: %v", gi, p.Name, err)
			}
			agree(t, g.Name+" after "+p.Name, want, outputs(t, c, xs))
		}
		c := clone(t, g)
		if err := Run(c, nil); err != nil {
			t.Fatal(err)
		}
		agree(t, g.Name+" after the whole pipeline", want, outputs(t, c, xs))
		counts := map[ir.Op]int{}
		fusedResidual := 0
		for _, n := range c.Nodes {
			counts[n.Op]++
			if n.Op == ir.OpConv2D && len(n.Inputs) == 4 {
				fusedResidual++
			}
		}
		if counts[ir.OpBatchNorm] != 0 || counts[ir.OpReLU] != 0 || counts[ir.OpHSwish] != 0 {
			t.Errorf("graph %d: %d batchnorm, %d relu, %d hswish left after the pipeline", gi, counts[ir.OpBatchNorm], counts[ir.OpReLU], counts[ir.OpHSwish])
		}
		if counts[ir.OpAdd] != 0 || fusedResidual == 0 {
			t.Errorf("graph %d: %d adds left, %d residuals fused", gi, counts[ir.OpAdd], fusedResidual)
		}
		if len(c.Nodes) >= len(g.Nodes)/2 {
			t.Errorf("graph %d: %d nodes after the pipeline from %d", gi, len(c.Nodes), len(g.Nodes))
		}
	}
}

func TestDeadValuesAndConstantFolding(t *testing.T) {
	b := ir.NewBuilder("g")
	x := b.Input("x", ir.F32, ir.Shape{1, 2, 2, 2}, nil)
	c := b.ConstF32("c", ir.Shape{1, 2, 1, 1}, []float32{-1, 2})
	r := b.Unary(ir.OpReLU, c) // constant: folds to [0, 2]
	y := b.Op(ir.OpMul, ir.Attrs{}, nil, x, r)
	b.Unary(ir.OpSigmoid, x) // dead
	b.ConstF32("unused", ir.Shape{3}, []float32{1, 2, 3})
	b.Output(y)
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(g, nil); err != nil {
		t.Fatal(err)
	}
	if len(g.Nodes) != 1 || g.Nodes[0].Op != ir.OpMul || len(g.Consts) != 1 {
		t.Fatalf("after the pipeline:\n%s", ir.Print(g))
	}
	if d := g.Consts[0].Float32s(); d[0] != 0 || d[1] != 2 {
		t.Fatalf("folded constant is %v, want [0 2]", d)
	}
}

func TestPipelineOptions(t *testing.T) {
	g, _ := irtest.Fixture()
	if err := Run(g, &Options{Disabled: map[string]bool{"nope": true}}); err == nil {
		t.Fatal("unknown pass accepted by --disable")
	}
	if err := Run(g, &Options{DumpAfter: "nope"}); err == nil {
		t.Fatal("unknown pass accepted by --dump-after")
	}
	var dump dumpBuffer
	if err := Run(g, &Options{Disabled: map[string]bool{"foldbn": true}, DumpAfter: "fuseact", Dump: &dump}); err != nil {
		t.Fatal(err)
	}
	if len(dump) == 0 || !containsOp(g, ir.OpBatchNorm) {
		t.Fatalf("dump %d bytes; batchnorm left: %v", len(dump), containsOp(g, ir.OpBatchNorm))
	}
}

type dumpBuffer []byte

func (d *dumpBuffer) Write(p []byte) (int, error) { *d = append(*d, p...); return len(p), nil }

func containsOp(g *ir.Graph, op ir.Op) bool {
	for _, n := range g.Nodes {
		if n.Op == op {
			return true
		}
	}
	return false
}
