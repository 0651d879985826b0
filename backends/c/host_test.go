package c

import (
	"bytes"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/backends"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/ir/irtest"
)

// TestFixtureHost checks the fixture's library against the int8
// interpreter on 50 test images.
func TestFixtureHost(t *testing.T) {
	tool(t, "gcc")
	g := fixtureInt8(t)
	lib, s := emit(t, g, "mcu-m4")
	xs := images(testSet(t).Test, 50, g.Inputs[0].Shape[2])
	in, want := oracle(t, g, s, xs)
	got := runHost(t, lib, s, in)
	compare(t, "fixture", want, got)
}

func compare(t *testing.T, what string, want, got [][]int32) {
	t.Helper()
	for i := range want {
		for j := range want[i] {
			if want[i][j] != got[i][j] {
				t.Fatalf("%s: image %d output %d: interpreter %d, C %d", what, i, j, want[i][j], got[i][j])
			}
		}
	}
}

// TestSubnetsHost is check (a): for 10 subnets (the smallest and nine
// random ones of a randomly initialised supernet, BN recalibrated on real
// images) the library's outputs equal the int8 interpreter's on 200 test
// images, bit for bit. Each library is compiled once (ASan + UBSan) and
// fed every image through one host program.
func TestSubnetsHost(t *testing.T) {
	tool(t, "gcc")
	const nets, n = 10, 200
	graphs := subnets(t, nets, 11)
	set := testSet(t)
	for i, g := range graphs {
		lib, s := emit(t, g, []string{"mcu-m4", "mcu-m7", "mcu-h7"}[i%3])
		xs := images(set.Test, n, g.Inputs[0].Shape[2])
		in, want := oracle(t, g, s, xs)
		got := runHost(t, lib, s, in)
		compare(t, fmt.Sprintf("subnet %d (%d nodes, arena %d B)", i, len(g.Nodes), s.plan.ArenaBytes), want, got)
	}
	t.Logf("%d subnets x %d images: every output identical to the int8 interpreter", nets, n)
}

// TestDeterministic emits the same graph twice (separately quantized) and
// compares the folders byte for byte.
func TestDeterministic(t *testing.T) {
	a, _ := emit(t, fixtureInt8(t), "mcu-h7")
	b, _ := emit(t, fixtureInt8(t), "mcu-h7")
	fa, fb := readTree(t, a), readTree(t, b)
	if len(fa) != len(fb) || len(fa) < 10 {
		t.Fatalf("emitted %d and %d files", len(fa), len(fb))
	}
	for name, d := range fa {
		if !bytes.Equal(d, fb[name]) {
			t.Fatalf("%s differs between two emissions", name)
		}
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEstimate checks the Backend interface's estimate: resources, layers,
// and that faster cores give lower latency for the same graph.
func TestEstimate(t *testing.T) {
	g := fixtureInt8(t)
	p := plan(t, g)
	var lat []float64
	for _, name := range []string{"mcu-m4", "mcu-m7", "mcu-h7"} {
		b, tg, err := backends.For(name)
		if err != nil {
			t.Fatal(err)
		}
		c, err := b.Estimate(g, p, tg)
		if err != nil {
			t.Fatal(err)
		}
		if c.Resources["sram_bytes"] < float64(p.ArenaBytes) || c.Resources["flash_bytes"] <= 0 || len(c.Layers) == 0 || c.LatencyMs <= 0 {
			t.Fatalf("%s: estimate %+v", name, c)
		}
		var sum float64
		for _, l := range c.Layers {
			sum += l.LatencyMs
		}
		if math.Abs(sum-c.LatencyMs) > 1e-9*c.LatencyMs {
			t.Fatalf("%s: layers add up to %g ms, total %g", name, sum, c.LatencyMs)
		}
		t.Logf("%s: %.2f ms, SRAM %.0f B, flash %.0f B", name, c.LatencyMs, c.Resources["sram_bytes"], c.Resources["flash_bytes"])
		lat = append(lat, c.LatencyMs)
	}
	if !(lat[0] > lat[1] && lat[1] > lat[2]) {
		t.Fatalf("latencies %v: want m4 > m7 > h7", lat)
	}
	if _, err := (Backend{}).Estimate(g, p, backends.Target{Name: "x", Backend: "c"}); err == nil {
		t.Fatal("a target without a Spec was accepted")
	}
	// A float graph is refused with a reason.
	fg, _ := irtest.Fixture()
	if _, err := (Backend{}).Estimate(fg, plan(t, fg), mustTarget(t, "mcu-m4")); err == nil || !strings.Contains(err.Error(), "int8") {
		t.Fatalf("float graph: %v", err)
	}
}

// TestVerify runs the backend's own host check, the one ofac build calls,
// on the fixture with 20 test images.
func TestVerify(t *testing.T) {
	tool(t, "gcc")
	g := fixtureInt8(t)
	var in []interp.Tensor
	for _, x := range images(testSet(t).Test, 20, g.Inputs[0].Shape[2]) {
		in = append(in, interp.Tensor{Shape: g.Inputs[0].Shape, Data: x})
	}
	if err := (Backend{}).Verify(g, plan(t, g), mustTarget(t, "mcu-m7"), in); err != nil {
		t.Fatal(err)
	}
}
