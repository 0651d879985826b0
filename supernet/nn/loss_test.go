package nn

import (
	"math"
	"testing"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

func TestCrossEntropyValue(t *testing.T) {
	logits := tensor.FromSlice([]float32{1, 2, 3, 0, 0, 0}, 2, 3)
	labels := []int{2, 0}
	lse0 := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3))
	lse1 := math.Log(3)
	plain := ((lse0 - 3) + lse1) / 2
	if got := CrossEntropy(logits, labels, 0, 1, nil); math.Abs(got-plain) > 1e-9 {
		t.Errorf("loss %g, want %g", got, plain)
	}
	// Smoothing 0.3 over 3 classes: target 0.8 on the label, 0.1 elsewhere.
	sm := (0.1*(lse0-1) + 0.1*(lse0-2) + 0.8*(lse0-3) + lse1) / 2
	if got := CrossEntropy(logits, labels, 0.3, 1, nil); math.Abs(got-sm) > 1e-6 {
		t.Errorf("smoothed loss %g, want %g", got, sm)
	}
}

func TestLossGradients(t *testing.T) {
	rng := newRNG(31)
	logits := randT(rng, 4, 5)
	labels := []int{0, 3, 4, 1}
	teacher := Softmax(nil, randT(rng, 4, 5))
	for _, smoothing := range []float32{0, 0.1} {
		f := func() float64 { return 0.5 * CrossEntropy(logits, labels, smoothing, 1, nil) }
		d := tensor.New(4, 5)
		CrossEntropy(logits, labels, smoothing, 0.5, d)
		gradCheck(t, f, []gparam{{"logits", logits.Data, d.Data}}, 1e-2, 1e-3)
	}
	f := func() float64 { return SoftCrossEntropy(logits, teacher, 1, nil) }
	d := tensor.New(4, 5)
	SoftCrossEntropy(logits, teacher, 1, d)
	gradCheck(t, f, []gparam{{"logits", logits.Data, d.Data}}, 1e-2, 1e-3)
}

func TestSoftmaxAndArgmax(t *testing.T) {
	p := Softmax(nil, tensor.FromSlice([]float32{0, 1000, 0, 0, 0, 0}, 2, 3))
	if p.Data[1] != 1 || math.Abs(float64(p.Data[3])-1.0/3) > 1e-7 {
		t.Errorf("softmax %v", p.Data)
	}
	if got := Argmax(tensor.FromSlice([]float32{0, 2, 1, 5, 5, 0}, 2, 3)); got[0] != 1 || got[1] != 0 {
		t.Errorf("argmax %v", got)
	}
}
