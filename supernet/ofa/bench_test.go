package ofa

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ofac-dev/ofac/supernet/nn"
	"github.com/ofac-dev/ofac/supernet/tensor"
)

// BenchmarkTrainStep times one forward and backward pass of a training step
// (batch 128, 28x28) for the largest and smallest subnets of the default
// space, reporting images/s and achieved GFLOP/s (6 x MACs per image).
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"largest", "smallest"} {
		b.Run(name, func(b *testing.B) {
			a, _ := Default.ResolveArch(name)
			benchTrainStep(b, a)
		})
	}
}

// BenchmarkTrainStepResolution times the largest subnet's step at each input
// resolution of the space: the progressive-shrinking phases sample one per
// batch, so their epochs cost the mean of these.
func BenchmarkTrainStepResolution(b *testing.B) {
	for _, r := range Default.Resolutions {
		b.Run(fmt.Sprintf("r%d", r), func(b *testing.B) {
			a := Default.Largest()
			a.R = r
			benchTrainStep(b, a)
		})
	}
}

func benchTrainStep(b *testing.B, a Arch) {
	net := New(Default, 1)
	rng := rand.New(rand.NewPCG(1, 1))
	const batch = 128
	x := tensor.New(batch, 1, a.R, a.R)
	tensor.RandNormal(x.Data, 1, rng)
	labels := make([]int, batch)
	for i := range labels {
		labels[i] = i % 10
	}
	ws := tensor.NewArena(1 << 20)
	step := func() {
		logits, bp := net.Forward(ws, a, x, Train, nil, 0.1, rng)
		d := ws.Like(logits)
		nn.CrossEntropy(logits, labels, 0.1, 1, d)
		bp.Backward(d)
		ws.Reset()
	}
	step()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(batch*b.N)/sec, "img/s")
	b.ReportMetric(6*float64(net.MACs(a))*float64(batch*b.N)/sec/1e9, "GFLOP/s")
}
