package ir_test

import (
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/irtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata from the generators")

// goldens are the text IR files in testdata and the graphs they must equal.
var goldens = map[string]func() (*ir.Graph, error){
	"mbv3_tiny.ir": irtest.Fixture,
	"random_7.ir":  func() (*ir.Graph, error) { return irtest.RandomGraph(rand.New(rand.NewPCG(7, 7))), nil },
	"random_int8.ir": func() (*ir.Graph, error) {
		// Seed chosen so the graph holds quantize, an int8 conv with
		// per-channel weights and an int32 bias, and dequantize.
		return irtest.RandomGraph(rand.New(rand.NewPCG(8, 1))), nil
	},
}

// ignoreData compares graphs as the text form carries them: without weights.
var ignoreData = cmpopts.IgnoreFields(ir.Value{}, "Data")

func TestGoldensRoundTrip(t *testing.T) {
	for name, gen := range goldens {
		t.Run(name, func(t *testing.T) {
			g, err := gen()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name)
			if *update {
				if err := os.WriteFile(path, []byte(ir.Print(g)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./ir -update to create it)", err)
			}
			parsed, err := ir.Parse(string(want))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), ir.Print(parsed)); diff != "" {
				t.Errorf("print(parse(golden)) differs (-golden +printed):\n%s", diff)
			}
			if diff := cmp.Diff(g, parsed, ignoreData); diff != "" {
				t.Errorf("golden no longer matches its generator (-generated +golden):\n%s", diff)
			}
		})
	}
}

func TestInt8GoldenHasQuantizedOps(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("testdata", "random_int8.ir"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"= quantize(", "q(axis=0 scale=[", ": i32[", "= dequantize("} {
		if !strings.Contains(string(text), want) {
			t.Errorf("random_int8.ir has no %q; pick another seed", want)
		}
	}
}

func TestRandomGraphsRoundTrip(t *testing.T) {
	for seed := uint64(0); seed < 1000; seed++ {
		g := irtest.RandomGraph(rand.New(rand.NewPCG(seed, 42)))
		text := ir.Print(g)
		parsed, err := ir.Parse(text)
		if err != nil {
			t.Fatalf("seed %d: %v\n%s", seed, err, text)
		}
		if diff := cmp.Diff(text, ir.Print(parsed)); diff != "" {
			t.Fatalf("seed %d: print(parse(text)) != text:\n%s", seed, diff)
		}
		if diff := cmp.Diff(g, parsed, ignoreData); diff != "" {
			t.Fatalf("seed %d: parse(print(g)) != g:\n%s", seed, diff)
		}
	}
}

func TestParseErrors(t *testing.T) {
	head := "ofac-ir 1\ngraph g\ninput %x : f32[1,2,4,4]\n"
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", "empty input"},
		{"not ir", "# README\nhello world\n", "not ofac text IR"},
		{"version", "ofac-ir 2\n", `unsupported text IR version "ofac-ir 2"`},
		{"unknown op", head + "%y = conv3d(%x) : f32[1,2,4,4]\noutput %y\n", `line 4 col 6: unknown op "conv3d"`},
		{"undefined operand", head + "%y = relu(%z) : f32[1,2,4,4]\noutput %y\n", "%z is used before it is defined"},
		{"bad dtype", head + "%y = relu(%x) : f16[1,2,4,4]\noutput %y\n", `unknown dtype "f16"`},
		{"bad attr", head + "%y = relu(%x) {kernel=3x3} : f32[1,2,4,4]\noutput %y\n", `relu has no attribute "kernel"`},
		{"bad act", head + "%y = add(%x, %x) {act=gelu} : f32[1,2,4,4]\noutput %y\n", `unknown activation "gelu"`},
		{"shape mismatch", head + "%y = relu(%x) : f32[1,2,4,5]\noutput %y\n", "%y: relu produces shape [1,2,4,4], declared [1,2,4,5]"},
		{"duplicate", head + "%x = relu(%x) : f32[1,2,4,4]\noutput %x\n", "%x is defined twice"},
		{"no output", head, "missing output line"},
		{"trailing", head + "output %x\n%y = relu(%x) : f32[1,2,4,4]\n", "nothing may follow the output line"},
		{"huge dim", "ofac-ir 1\ngraph g\ninput %x : f32[99999,99999,99999]\n", "out of range"},
		{"int without quant", head + "%y = quantize(%x) : i8[1,2,4,4]\noutput %y\n", "needs quantization parameters"},
		{"unterminated attrs", head + "%y = clip(%x) {min=0 max=6 : f32[1,2,4,4]\noutput %y\n", "line 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ir.Parse(tc.text)
			if err == nil {
				t.Fatalf("parse succeeded, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error spans several lines: %q", err)
			}
		})
	}
}

func TestVerifyReportsEveryProblem(t *testing.T) {
	b := ir.NewBuilder("g")
	x := b.Input("x", ir.F32, ir.Shape{1, 4, 8, 8}, nil)
	w := b.ConstF32("w", ir.Shape{4, 1, 3, 3}, make([]float32, 36))
	y := b.Conv2D(x, w, nil, 3, 1, 1, 4, ir.ActNone)
	z := b.Unary(ir.OpReLU, y)
	b.Output(z)
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	// Break three things in three different places.
	g.Nodes[0].Attrs.Groups = 3                 // does not divide 4
	g.Nodes[1].Output.Shape = ir.Shape{1, 4, 8} // wrong declared shape
	g.Consts[0].Data = make([]float32, 35)      // short weights
	err = ir.Verify(g)
	if err == nil {
		t.Fatal("broken graph verified")
	}
	ve, ok := err.(*ir.VerifyError)
	if !ok {
		t.Fatalf("error is %T, want *ir.VerifyError", err)
	}
	wantPrefixes := []string{"@w: has 35 elements", "%1: conv2d: groups 3 must divide", "%2: relu produces shape"}
	if len(ve.Problems) != len(wantPrefixes) {
		t.Fatalf("got %d problems, want %d: %q", len(ve.Problems), len(wantPrefixes), ve.Problems)
	}
	for i, p := range wantPrefixes {
		if !strings.HasPrefix(ve.Problems[i], p) {
			t.Errorf("problem %d = %q, want prefix %q", i, ve.Problems[i], p)
		}
	}
}

func TestMACs(t *testing.T) {
	g, err := irtest.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	stem := g.Nodes[0] // 3x3 stride 2 conv, 1 -> 8 channels, 28x28 -> 14x14
	if got, want := stem.MACs(), int64(8*14*14*1*3*3); got != want {
		t.Errorf("stem MACs = %d, want %d", got, want)
	}
	last := g.Nodes[len(g.Nodes)-1] // dense 96 -> 10
	if got, want := last.MACs(), int64(96*10); got != want {
		t.Errorf("classifier MACs = %d, want %d", got, want)
	}
	_, tot := ir.Stats(g)
	var sum int64
	for _, n := range g.Nodes {
		sum += n.MACs()
	}
	if tot.MACs != sum || sum == 0 {
		t.Errorf("total MACs %d != sum of nodes %d", tot.MACs, sum)
	}
}
