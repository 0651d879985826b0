package nn

import (
	"testing"
	"time"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

// benchConvs are the supernet's hot convolution shapes at batch 64.
var benchConvs = []struct {
	name string
	c    convCase
}{
	{"pw16to96_14x14", convCase{64, 16, 14, 14, 96, 1, 1, 0, 1, false}},
	{"pw96to24_14x14", convCase{64, 96, 14, 14, 24, 1, 1, 0, 1, false}},
	{"pw144to40_7x7", convCase{64, 144, 7, 7, 40, 1, 1, 0, 1, false}},
	{"dw96_k7s2_14x14", convCase{64, 96, 14, 14, 96, 7, 2, 3, 96, false}},
	{"dw240_k5s1_7x7", convCase{64, 240, 7, 7, 240, 5, 1, 2, 240, false}},
	{"stem1to16_k3s2_28x28", convCase{64, 1, 28, 28, 16, 3, 2, 1, 1, false}},
}

func reportGFLOPs(b *testing.B, flops float64, start time.Time) {
	b.ReportMetric(flops*float64(b.N)/time.Since(start).Seconds()/1e9, "GFLOP/s")
}

func BenchmarkConvForward(b *testing.B) {
	for _, bc := range benchConvs {
		b.Run(bc.name, func(b *testing.B) {
			cv, x, w, _ := bc.c.setup(1)
			ws := tensor.NewArena(0)
			cv.Forward(ws, x, w, nil)
			ws.Reset()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				cv.Forward(ws, x, w, nil)
				ws.Reset()
			}
			reportGFLOPs(b, cv.FLOPs(x.Shape, w.Shape), start)
		})
	}
}

// BenchmarkConvBackward computes dx and dw, twice the forward's FLOPs.
func BenchmarkConvBackward(b *testing.B) {
	for _, bc := range benchConvs {
		b.Run(bc.name, func(b *testing.B) {
			cv, x, w, _ := bc.c.setup(1)
			dy := randT(newRNG(2), cv.OutShape(x.Shape, w.Shape)...)
			dx, dw := tensor.New(x.Shape...), tensor.New(w.Shape...)
			ws := tensor.NewArena(0)
			cv.Backward(ws, dy, x, w, dx, dw, nil)
			ws.Reset()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				cv.Backward(ws, dy, x, w, dx, dw, nil)
				ws.Reset()
			}
			reportGFLOPs(b, 2*cv.FLOPs(x.Shape, w.Shape), start)
		})
	}
}

func BenchmarkBatchNormTrain(b *testing.B) {
	x := randT(newRNG(3), 64, 96, 14, 14)
	gamma, beta := make([]float32, 96), make([]float32, 96)
	tensor.Fill(gamma, 1)
	dy, dx := randT(newRNG(4), x.Shape...), tensor.New(x.Shape...)
	ws := tensor.NewArena(0)
	BatchNormTrain(ws, x, gamma, beta, nil, nil, 0.1, 1e-5)
	ws.Reset()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		_, sv := BatchNormTrain(ws, x, gamma, beta, nil, nil, 0.1, 1e-5)
		BatchNormBackward(dy, x, gamma, sv, dx, nil, nil)
		ws.Reset()
	}
}

func BenchmarkHardSwish(b *testing.B) {
	x := randT(newRNG(5), 64, 96, 14, 14)
	dy, dx := randT(newRNG(6), x.Shape...), tensor.New(x.Shape...)
	ws := tensor.NewArena(0)
	HardSwish.Forward(ws, x)
	ws.Reset()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		HardSwish.Forward(ws, x)
		HardSwish.Backward(dy, x, dx)
		ws.Reset()
	}
}
