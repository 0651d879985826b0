package frontend

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/data/datatest"
	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/train"
)

// testImages returns the real Fashion-MNIST splits when installed, and a
// synthetic stand-in otherwise.
func testImages(t *testing.T) *data.Splits {
	t.Helper()
	if _, err := os.Stat(data.DefaultDir); err == nil {
		s, err := data.Load(data.DefaultDir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dir := t.TempDir()
	if err := datatest.Write(dir, 600, 64, 1); err != nil {
		t.Fatal(err)
	}
	s, err := data.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestInterpreterMatchesEngine extracts 20 random subnets (plus the largest
// and smallest) and checks that the reference interpreter's logits on 64
// test images equal the training engine's inference logits.
func TestInterpreterMatchesEngine(t *testing.T) {
	interpreterMatchesEngine(t, ofa.Default, 20)
}

// TestInterpreterMatchesEngineFine does the same for the space with other
// strides (a stride-1 stem), whose extraction must carry them.
func TestInterpreterMatchesEngineFine(t *testing.T) {
	interpreterMatchesEngine(t, ofa.Fine, 2)
}

func interpreterMatchesEngine(t *testing.T, space ofa.SearchSpace, random int) {
	splits := testImages(t)
	idx := make([]int32, 64)
	for i := range idx {
		idx[i] = int32(i)
	}
	images := splits.Test.Subset("test64", idx)
	net := ofa.New(space, 7)
	rng := rand.New(rand.NewPCG(11, 11))
	archs := []ofa.Arch{space.Largest(), space.Smallest()}
	for len(archs) < random+2 {
		archs = append(archs, space.Random(rng))
	}
	var worst float64
	for i, a := range archs {
		stats := train.Recalibrate(net, a, splits.Train, 256, 64)
		want := train.Logits(net, a, stats, images, 64)
		g, err := Subnet("subnet", net.Extract(a, stats))
		if err != nil {
			t.Fatalf("arch %d: %v", i, err)
		}
		it, err := interp.New(g)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, a.R*a.R)
		for img := 0; img < images.Len(); img++ {
			fillImage(x, images, img, a.R)
			out, err := it.Run(interp.Tensor{Shape: ir.Shape{1, 1, a.R, a.R}, Data: x})
			if err != nil {
				t.Fatal(err)
			}
			for c, v := range out[0].Data {
				d := math.Abs(float64(v - want.Data[img*space.Classes+c]))
				worst = math.Max(worst, d)
				if d > 1e-4 {
					t.Fatalf("arch %d %s, image %d, class %d: interpreter %g, engine %g", i, a.JSON(), img, c, v, want.Data[img*space.Classes+c])
				}
			}
		}
	}
	t.Logf("largest |interpreter - engine| over %d subnets x 64 images: %.2g", len(archs), worst)
}

// fillImage writes image i of set at resolution r, normalised the way the
// evaluation loader does it.
func fillImage(x []float32, set *data.Dataset, i, r int) {
	loader := data.NewLoader(set, 1, false, 0)
	labels := make([]int, 1)
	loader.Epoch(0).Fill(i, r, x, labels)
}

// BenchmarkInterpreterLargest times the reference interpreter on one 28x28
// image through the largest subnet of the default space.
func BenchmarkInterpreterLargest(b *testing.B) {
	net := ofa.New(ofa.Default, 7)
	a := ofa.Default.Largest()
	g, err := Subnet("largest", net.Extract(a, nil))
	if err != nil {
		b.Fatal(err)
	}
	it, err := interp.New(g)
	if err != nil {
		b.Fatal(err)
	}
	x := interp.Tensor{Shape: ir.Shape{1, 1, 28, 28}, Data: make([]float32, 28*28)}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := it.Run(x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/image")
}
