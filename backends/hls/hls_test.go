package hls

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ofac-dev/ofac/backends"
	"github.com/ofac-dev/ofac/frontend"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/passes"
	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/data/datatest"
	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/train"
)

// subnet is a quantized subnet of a randomly initialised supernet (batch
// norm recalibrated on real images), as passes' tests build them.
type subnet struct {
	name string
	g    *ir.Graph
}

var (
	fixtureOnce sync.Once
	splits      *data.Splits
	subnets     []subnet
	fixtureErr  error
	splitsDir   string
)

// numSubnets is how many subnets the C-simulation check compiles: largest,
// smallest and random ones.
func numSubnets() int {
	if testing.Short() {
		return 2
	}
	return 10
}

func testSubnets(t *testing.T) (*data.Splits, []subnet) {
	t.Helper()
	fixtureOnce.Do(func() {
		dir := data.DefaultDir
		if _, err := os.Stat(dir); err != nil {
			// No Fashion-MNIST here: a small synthetic set in its format.
			if splitsDir, fixtureErr = os.MkdirTemp("", "ofac-hls-data"); fixtureErr != nil {
				return
			}
			dir = splitsDir
			if fixtureErr = datatest.Write(dir, 600, 128, 1); fixtureErr != nil {
				return
			}
		}
		if splits, fixtureErr = data.Load(dir); fixtureErr != nil {
			return
		}
		net := ofa.New(ofa.Default, 3)
		rng := rand.New(rand.NewPCG(8, 8))
		archs := []ofa.Arch{ofa.Default.Smallest(), ofa.Default.Largest()}
		names := []string{"smallest", "largest"}
		for len(archs) < numSubnets() {
			archs = append(archs, ofa.Default.Random(rng))
			names = append(names, fmt.Sprintf("random%d", len(archs)-2))
		}
		for i, a := range archs {
			stats := train.Recalibrate(net, a, splits.Train, 128, 64)
			g, err := frontend.Subnet("subnet_"+names[i], net.Extract(a, stats))
			if err != nil {
				fixtureErr = err
				return
			}
			if fixtureErr = passes.Run(g, &passes.Options{Int8: true, Calibration: calibration(splits, 32, a.R)}); fixtureErr != nil {
				return
			}
			subnets = append(subnets, subnet{names[i], g})
		}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return splits, subnets
}

func calibration(s *data.Splits, n, r int) [][]passes.Sample {
	ep := data.NewLoader(s.Train, 1, false, 0).Epoch(0)
	labels := make([]int, 1)
	out := make([][]passes.Sample, n)
	for i := range out {
		x := make([]float32, r*r)
		ep.Fill(i, r, x, labels)
		out[i] = []passes.Sample{{Shape: ir.Shape{1, 1, r, r}, Data: x}}
	}
	return out
}

func testImages(s *data.Splits, n, r int) []interp.Tensor {
	return frontend.Images(s.Test, n, r)
}

func target(t *testing.T, name string) backends.Target {
	t.Helper()
	b, tg, err := backends.For(name)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "hls" {
		t.Fatalf("%s is compiled by %s", name, b.Name())
	}
	return tg
}

// TestCSimMatchesInterpreter compiles subnets for fpga-zu9, builds each
// project's testbench with plain g++ (-std=c++14 -O2) and runs it on 100
// Fashion-MNIST test images: every output code and every dequantized
// output must equal the int8 interpreter's, bit for bit.
func TestCSimMatchesInterpreter(t *testing.T) {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("g++ not found: the C-simulation check needs a C++14 compiler on PATH")
	}
	s, subs := testSubnets(t)
	images := 100
	if testing.Short() {
		images = 10
	}
	tg := target(t, "fpga-zu9")
	for _, sn := range subs[:numSubnets()] {
		t.Run(sn.name, func(t *testing.T) {
			dir := t.TempDir()
			r := sn.g.Inputs[0].Shape[2]
			if err := (Backend{}).EmitProject(sn.g, tg, dir, testImages(s, images, r)); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("nice", "-n", "19", "make", "-s", "csim", "CXX="+gxx)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("make csim: %v\n%s", err, lastLines(out, 40))
			}
			want := fmt.Sprintf("PASS: %d images", images)
			if !bytes.Contains(out, []byte(want)) {
				t.Fatalf("make csim did not report %q:\n%s", want, lastLines(out, 40))
			}
			p := readPlan(t, dir)
			t.Logf("%s: %d nodes, csim bit-exact on %d images; zu9 estimate %d cycles (%.3f ms), DSP %d, BRAM36 %g",
				sn.name, len(sn.g.Nodes), images, p.LatencyCycles, p.LatencyMs, p.DSP, p.BRAM36)
		})
	}
}

func readPlan(t *testing.T, dir string) Totals {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"latency_cycles": (\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("report.json has no latency_cycles")
	}
	var tot Totals
	tot.LatencyCycles, _ = strconv.ParseInt(string(m[1]), 10, 64)
	if m := regexp.MustCompile(`"latency_ms": ([0-9.e-]+)`).FindSubmatch(b); m != nil {
		tot.LatencyMs, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	if m := regexp.MustCompile(`"dsp": (\d+)`).FindSubmatch(b); m != nil {
		tot.DSP, _ = strconv.Atoi(string(m[1]))
	}
	if m := regexp.MustCompile(`"bram36": ([0-9.]+)`).FindSubmatch(b); m != nil {
		tot.BRAM36, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	return tot
}

// TestPragmasMatchPlan parses the emitted ofac.cpp and checks every layer's
// loop bounds, PIPELINE II and lane unrolls, and every buffer's partition,
// against the plan, and the constant arrays of weights.h against the
// plan's arrays.
func TestPragmasMatchPlan(t *testing.T) {
	_, subs := testSubnets(t)
	for _, tname := range []string{"fpga-zu9", "fpga-zu3"} {
		tg := target(t, tname)
		g := subs[0].g // smallest: fits both parts
		dir := t.TempDir()
		if err := (Backend{}).EmitProject(g, tg, dir, SyntheticInputs(g, 1)); err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(filepath.Join(dir, "firmware", "ofac.cpp"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := PlanFor(g, tg.Spec.(Spec), tname)
		if err != nil {
			t.Fatal(err)
		}
		checkWeightsMatchPlan(t, dir, p)
		text := string(src)
		funcs := regexp.MustCompile(`(?m)^static void (l\d+_\w+)\(`).FindAllStringSubmatchIndex(text, -1)
		if len(funcs) != len(p.Layers) {
			t.Fatalf("%s: %d layer functions, plan has %d layers", tname, len(funcs), len(p.Layers))
		}
		loopRe := regexp.MustCompile(`l\d+_[a-z]+_([a-z]+): for \(int \w+ = 0; \w+ < (\d+); \w+\+\+\)( \{\n#pragma HLS (PIPELINE II=(\d+)|UNROLL))?`)
		unrolls := 0
		for i, f := range funcs {
			end := len(text)
			if i+1 < len(funcs) {
				end = funcs[i+1][0]
			}
			body := text[f[0]:end]
			lp := p.Layers[i]
			if name := text[f[2]:f[3]]; name != lp.Func {
				t.Fatalf("function %d is %s, plan says %s", i, name, lp.Func)
			}
			var nest []Loop
			ii := -1
			lanes := map[string]int{}
			for _, m := range loopRe.FindAllStringSubmatch(body, -1) {
				trip, _ := strconv.Atoi(m[2])
				switch {
				case m[4] == "UNROLL":
					lanes[m[1]] = trip
					unrolls++
				case strings.HasPrefix(m[4], "PIPELINE"):
					ii, _ = strconv.Atoi(m[5])
					nest = append(nest, Loop{m[1], trip})
				default:
					nest = append(nest, Loop{m[1], trip})
				}
			}
			if fmt.Sprint(nest) != fmt.Sprint(lp.Loops) {
				t.Errorf("%s %s: loop nest %v, plan %v", tname, lp.Func, nest, lp.Loops)
			}
			if ii != lp.II {
				t.Errorf("%s %s: PIPELINE II=%d, plan %d", tname, lp.Func, ii, lp.II)
			}
			if u, ok := lanes["uo"]; ok && u != lp.LanesOut {
				t.Errorf("%s %s: output lanes unrolled %d, plan %d", tname, lp.Func, u, lp.LanesOut)
			}
			if u, ok := lanes["ui"]; ok && u != lp.LanesIn {
				t.Errorf("%s %s: input lanes unrolled %d, plan %d", tname, lp.Func, u, lp.LanesIn)
			}
			for _, a := range lp.Arrays {
				want := fmt.Sprintf("#pragma HLS BIND_STORAGE variable=%s type=rom_1p impl=%s", a.Name, a.Storage)
				if !strings.Contains(body, want) {
					t.Errorf("%s %s: no %q", tname, lp.Func, want)
				}
			}
		}
		if unrolls == 0 {
			t.Errorf("%s: no UNROLL pragmas found", tname)
		}
		for _, b := range p.Buffers {
			decl := regexp.MustCompile(`static int(8|32)_t ` + b.Name + `\[(\d+)\]\[(\d+)\];\n#pragma HLS ARRAY_PARTITION variable=` + b.Name + ` complete dim=2\n#pragma HLS BIND_STORAGE variable=` + b.Name + ` type=ram_2p impl=(\w+)`)
			m := decl.FindStringSubmatch(text)
			if m == nil {
				t.Fatalf("%s: buffer %s (%v) has no declaration with its partition", tname, b.Name, b.Values)
			}
			if m[2] != strconv.Itoa(b.Depth) || m[3] != strconv.Itoa(b.Banks) || m[4] != b.Storage {
				t.Errorf("%s: buffer %s declared [%s][%s] %s, plan [%d][%d] %s", tname, b.Name, m[2], m[3], m[4], b.Depth, b.Banks, b.Storage)
			}
			if lanes := p.Classes[b.Class].Lanes; lanes != b.Banks {
				t.Errorf("%s: buffer %s has %d banks, its class %d lanes", tname, b.Name, b.Banks, lanes)
			}
		}
		wantPart := "set_part {" + tg.Spec.(Spec).Part + "}"
		if tcl, _ := os.ReadFile(filepath.Join(dir, "build_prj.tcl")); !bytes.Contains(tcl, []byte(wantPart)) {
			t.Errorf("%s: build_prj.tcl lacks %q", tname, wantPart)
		}
	}
}

// TestZU3NeverFaster estimates every test subnet on both parts: the ZU3EG
// has less of everything, so it is never faster; a subnet too big for it is
// a backends.DoesNotFitError that says by how much and carries a cost over
// the part's capacity, which a search's budget then rejects.
func TestZU3NeverFaster(t *testing.T) {
	_, subs := testSubnets(t)
	zu9, zu3 := target(t, "fpga-zu9"), target(t, "fpga-zu3")
	capacity := map[string]float64{"dsp": 360, "bram36": 216, "lut": 70560, "ff": 141120}
	fitBoth, tooBig := 0, 0
	for _, sn := range subs {
		c9, err := Backend{}.Estimate(sn.g, nil, zu9)
		if err != nil {
			t.Fatalf("%s on fpga-zu9: %v", sn.name, err)
		}
		c3, err := Backend{}.Estimate(sn.g, nil, zu3)
		if err != nil {
			var nf *backends.DoesNotFitError
			if !errors.As(err, &nf) || !strings.Contains(err.Error(), "over by") {
				t.Fatalf("%s on fpga-zu3: %v", sn.name, err)
			}
			over := false
			for k, c := range capacity {
				over = over || nf.Cost.Resources[k] > c
			}
			if !over || nf.Cost.LatencyMs <= 0 {
				t.Errorf("%s: the cost of a design too big for fpga-zu3 is within the part: %+v", sn.name, nf.Cost.Resources)
			}
			tooBig++
			t.Logf("%s: zu9 %.4f ms (DSP %g, BRAM36 %g); zu3: %v", sn.name, c9.LatencyMs, c9.Resources["dsp"], c9.Resources["bram36"], err)
			continue
		}
		fitBoth++
		t.Logf("%s: zu9 %.4f ms (DSP %g, BRAM36 %g, LUT %g); zu3 %.4f ms (DSP %g, BRAM36 %g, LUT %g)", sn.name,
			c9.LatencyMs, c9.Resources["dsp"], c9.Resources["bram36"], c9.Resources["lut"],
			c3.LatencyMs, c3.Resources["dsp"], c3.Resources["bram36"], c3.Resources["lut"])
		if c3.LatencyMs < c9.LatencyMs {
			t.Errorf("%s: fpga-zu3 %.5f ms is faster than fpga-zu9 %.5f ms", sn.name, c3.LatencyMs, c9.LatencyMs)
		}
		for _, k := range []string{"dsp", "bram36", "lut", "ff"} {
			if c3.Resources[k] > capacity[k] {
				t.Errorf("%s: fpga-zu3 uses %g %s, more than the part has", sn.name, c3.Resources[k], k)
			}
		}
	}
	if fitBoth == 0 || tooBig == 0 {
		t.Errorf("%d test subnets fit fpga-zu3 and %d do not: the test needs both", fitBoth, tooBig)
	}
}

// TestEmitDeterministic emits the same subnet twice: the folders are byte
// for byte the same.
func TestEmitDeterministic(t *testing.T) {
	_, subs := testSubnets(t)
	tg := target(t, "fpga-zu3")
	g := subs[0].g
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		if err := (Backend{}).Emit(g, nil, tg, dir); err != nil {
			t.Fatal(err)
		}
	}
	files := 0
	err := filepath.WalkDir(a, func(path string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, path)
		x, _ := os.ReadFile(path)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two emissions", rel)
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Errorf("only %d files emitted", files)
	}
}

// TestCostModel checks the estimate is the sum of the plan's layers and
// every layer follows (trips-1)*II + depth + overhead.
func TestCostModel(t *testing.T) {
	_, subs := testSubnets(t)
	tg := target(t, "fpga-zu9")
	p, err := PlanFor(subs[0].g, tg.Spec.(Spec), tg.Name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Backend{}.Estimate(subs[0].g, nil, tg)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Layers) != len(subs[0].g.Nodes) {
		t.Fatalf("%d layer costs for %d nodes", len(c.Layers), len(subs[0].g.Nodes))
	}
	var cycles float64
	var dsp int
	for i, l := range p.Layers {
		trips := int64(1)
		for _, lo := range l.Loops {
			trips *= int64(lo.Trip)
		}
		if want := (trips-1)*int64(l.II) + int64(l.Depth) + callOverhead; l.Cycles != want || trips != l.Trips {
			t.Errorf("%s: %d cycles for %d trips, II %d, depth %d", l.Node, l.Cycles, trips, l.II, l.Depth)
		}
		if c.Layers[i].Node != subs[0].g.Nodes[i].Name() {
			t.Errorf("layer %d is %s, node %s", i, c.Layers[i].Node, subs[0].g.Nodes[i].Name())
		}
		cycles += c.Layers[i].Cycles
		dsp += l.DSP
	}
	if int64(cycles) != p.Total.LatencyCycles || c.Resources["dsp"] != float64(dsp) {
		t.Errorf("totals %d cycles, %g DSP; layers sum to %g, %d", p.Total.LatencyCycles, c.Resources["dsp"], cycles, dsp)
	}
	if want := float64(p.Total.LatencyCycles) / 200e3; c.LatencyMs != want {
		t.Errorf("latency %g ms, want %g at 200 MHz", c.LatencyMs, want)
	}
	for _, k := range []string{"dsp", "bram36", "lut", "ff"} {
		if _, ok := c.Resources[k]; !ok {
			t.Errorf("Cost.Resources lacks %q", k)
		}
	}
}

// TestVerify runs the backend's own C-simulation check, the one ofac build
// calls, on one subnet with 10 test images.
func TestVerify(t *testing.T) {
	if _, err := exec.LookPath("g++"); err != nil {
		t.Skip("g++ not found: the C-simulation check needs a C++14 compiler on PATH")
	}
	s, subs := testSubnets(t)
	g := subs[0].g
	err := (Backend{}).Verify(g, nil, target(t, "fpga-zu3"), testImages(s, 10, g.Inputs[0].Shape[2]))
	if err != nil {
		t.Fatal(err)
	}
}
