package c

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/ofac-dev/ofac/backends"
	"github.com/ofac-dev/ofac/frontend"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/ir/irtest"
	"github.com/ofac-dev/ofac/passes"
	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/data/datatest"
	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/train"
)

// tool returns the path of a program the test needs, or skips the test
// saying how to get it: a missing tool is never a failure.
func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (tools/install-deps.sh installs it): skipping", name)
	}
	return p
}

func runCmd(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	out, err := run(dir, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	splitsOnce sync.Once
	splits     *data.Splits
	splitsErr  error
)

// testSet is Fashion-MNIST when installed, a small synthetic stand-in
// otherwise (written once per test binary).
func testSet(t testing.TB) *data.Splits {
	t.Helper()
	splitsOnce.Do(func() {
		dir := data.DefaultDir
		if _, err := os.Stat(dir); err != nil {
			dir, splitsErr = os.MkdirTemp("", "ofac-fmnist")
			if splitsErr == nil {
				splitsErr = datatest.Write(dir, 600, 256, 1)
			}
		}
		if splitsErr == nil {
			splits, splitsErr = data.Load(dir)
		}
	})
	if splitsErr != nil {
		t.Fatal(splitsErr)
	}
	return splits
}

// images returns n images of set at resolution r.
func images(set *data.Dataset, n, r int) [][]float32 {
	ep := data.NewLoader(set, 1, false, 0).Epoch(0)
	labels := make([]int, 1)
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, r*r)
		ep.Fill(i, r, out[i], labels)
	}
	return out
}

// quantize runs the int8 pipeline on g with calibN training images.
func quantize(t testing.TB, g *ir.Graph, calibN int) *ir.Graph {
	t.Helper()
	r := g.Inputs[0].Shape[2]
	var cal [][]passes.Sample
	for _, x := range images(testSet(t).Train, calibN, r) {
		cal = append(cal, []passes.Sample{{Shape: ir.Shape{1, 1, r, r}, Data: x}})
	}
	if err := passes.Run(g, &passes.Options{Int8: true, Calibration: cal}); err != nil {
		t.Fatal(err)
	}
	return g
}

func fixtureInt8(t testing.TB) *ir.Graph {
	t.Helper()
	g, err := irtest.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	return quantize(t, g, 64)
}

// subnets returns n int8 subnets of a randomly initialised supernet with
// batch norm recalibrated on real images: the smallest, then random ones.
func subnets(t testing.TB, n int, seed uint64) []*ir.Graph {
	t.Helper()
	set := testSet(t)
	net := ofa.New(ofa.Default, 3)
	rng := rand.New(rand.NewPCG(seed, 7))
	archs := []ofa.Arch{ofa.Default.Smallest()}
	for len(archs) < n {
		archs = append(archs, ofa.Default.Random(rng))
	}
	var out []*ir.Graph
	for _, a := range archs[:n] {
		stats := train.Recalibrate(net, a, set.Train, 64, 64)
		g, err := frontend.Subnet("subnet", net.Extract(a, stats))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, quantize(t, g, 64))
	}
	return out
}

func plan(t testing.TB, g *ir.Graph) *passes.MemoryPlan {
	t.Helper()
	p, err := passes.PlanMemory(g, passes.PlanOptions{ExternalInputs: true})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustTarget(t testing.TB, name string) backends.Target {
	t.Helper()
	tg, ok := backends.Lookup(name)
	if !ok {
		t.Fatalf("target %s not registered", name)
	}
	return tg
}

// emit writes g's library for target into a fresh folder.
func emit(t testing.TB, g *ir.Graph, target string) (string, *schedule) {
	t.Helper()
	p := plan(t, g)
	dir := t.TempDir()
	if err := (Backend{}).Emit(g, p, mustTarget(t, target), dir); err != nil {
		t.Fatal(err)
	}
	s, err := buildSchedule(g, p)
	if err != nil {
		t.Fatal(err)
	}
	return dir, s
}

// oracle runs the int8 interpreter on xs and returns the output codes the
// library must produce (the i32 logits or i8 codes) and the input codes.
func oracle(t testing.TB, g *ir.Graph, s *schedule, xs [][]float32) (inCodes [][]int8, outCodes [][]int32) {
	t.Helper()
	it, err := interp.NewInt8(g)
	if err != nil {
		t.Fatal(err)
	}
	q := s.input.Quant
	for _, x := range xs {
		_, all, err := it.RunAll(interp.Tensor{Shape: g.Inputs[0].Shape, Data: x})
		if err != nil {
			t.Fatal(err)
		}
		in := make([]int8, len(x))
		for i, v := range x {
			in[i] = ir.QuantizeF32(v, q.Scale[0], q.ZeroPoint[0])
		}
		for i, v := range all[s.input].Data {
			if int8(v) != in[i] {
				t.Fatalf("input code %d: interpreter %v, QuantizeF32 %d", i, v, in[i])
			}
		}
		o := all[s.output].Data
		oc := make([]int32, len(o))
		for i, v := range o {
			oc[i] = int32(v)
		}
		inCodes, outCodes = append(inCodes, in), append(outCodes, oc)
	}
	return inCodes, outCodes
}

// runHost builds lib with the host runner (sanitizers on, warnings as
// errors) and returns its outputs for inputs, as int32 whatever the output
// type.
func runHost(t testing.TB, lib string, s *schedule, inputs [][]int8) [][]int32 {
	t.Helper()
	gcc := tool(t, "gcc")
	flags := append(append([]string{}, strictFlags...), "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all")
	out, err := runLibrary(gcc, lib, t.TempDir(), s, inputs, flags)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func argmax(v []int32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
