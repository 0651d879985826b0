package passes

import (
	"math"
	"testing"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
)

// TestQuantizeCorrectsRoundingBias builds a depthwise convolution whose
// second input channel sits at 0.75 of an int8 step everywhere, so rounding
// always lifts it by a quarter step, and checks that the int8 graph's mean
// result for that channel matches the float graph's within half of the
// shift that uncorrected rounding causes (about 0.07).
func TestQuantizeCorrectsRoundingBias(t *testing.T) {
	const hw = 6
	step := float32(10.0 / 255)
	x := make([]float32, 2*hw*hw)
	x[0] = 10 // channel 0 sets the range [0, 10]
	for i := hw * hw; i < len(x); i++ {
		x[i] = 0.75 * step
	}
	w := make([]float32, 2*9)
	for i := range w {
		w[i] = 1
	}
	b := ir.NewBuilder("bias")
	shape := ir.Shape{1, 2, hw, hw}
	in := b.Input("x", ir.F32, shape, nil)
	y := b.Conv2D(in, b.ConstF32("w", ir.Shape{2, 1, 3, 3}, w), b.ConstF32("b", ir.Shape{2}, []float32{0, 0}), 3, 1, 1, 2, ir.ActNone)
	b.Output(y)
	g, err := b.Graph()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := interp.New(g)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Run(interp.Tensor{Shape: shape, Data: x})
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(g, &Options{Int8: true, Calibration: [][]Sample{{{Shape: shape, Data: x}}}}); err != nil {
		t.Fatal(err)
	}
	it, err := interp.NewInt8(g)
	if err != nil {
		t.Fatal(err)
	}
	got, err := it.Run(interp.Tensor{Shape: shape, Data: x})
	if err != nil {
		t.Fatal(err)
	}
	var gap float64
	for i := hw * hw; i < 2*hw*hw; i++ {
		gap += float64(got[0].Data[i]-want[0].Data[i]) / (hw * hw)
	}
	// Uncorrected, the mean rises by a quarter step times the weights, each
	// tap counted over the 5 of 6 rows or columns it reads inside the input.
	side := 5.0/6 + 1 + 5.0/6
	if uncorrected := 0.25 * float64(step) * side * side; math.Abs(gap) > uncorrected/2 {
		t.Errorf("channel 1: int8 mean is off the float mean by %g, want under %g", gap, uncorrected/2)
	}
}
