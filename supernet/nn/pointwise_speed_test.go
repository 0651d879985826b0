package nn

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

func withFuseMax(hw int, f func()) {
	old, oldB := pointwiseFuseMaxHW, pointwiseFuseMaxHWBwd
	pointwiseFuseMaxHW, pointwiseFuseMaxHWBwd = hw, hw
	defer func() { pointwiseFuseMaxHW, pointwiseFuseMaxHWBwd = old, oldB }()
	f()
}

// TestPointwiseFusedMatchesPerImage compares the batch-fused 1x1 path with
// the per-image one, and checks it is bit-identical on 1, 2 and 3 threads.
func TestPointwiseFusedMatchesPerImage(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for i, c := range []convCase{
		{5, 7, 2, 2, 9, 1, 1, 0, 1, true},
		{4, 33, 3, 3, 17, 1, 1, 0, 1, false},
		{16, 48, 4, 4, 96, 1, 1, 0, 1, true},
		{9, 40, 1, 1, 24, 1, 1, 0, 1, true},
	} {
		var ref dwResult
		withFuseMax(0, func() { ref = runDW(c, uint64(i), true, true) })
		var first dwResult
		for _, procs := range []int{1, 2, 3} {
			runtime.GOMAXPROCS(procs)
			var got dwResult
			withFuseMax(1<<30, func() { got = runDW(c, uint64(i), true, true) })
			for _, o := range []struct {
				name      string
				got, want []float32
			}{{"y", got.y, ref.y}, {"dx", got.dx, ref.dx}, {"dw", got.dw, ref.dw}, {"db", got.db, ref.db}} {
				if !closeTo(o.got, o.want) {
					t.Errorf("%v: fused %s differs by %g", c, o.name, tensor.MaxAbsDiff(o.got, o.want))
				}
			}
			if procs == 1 {
				first = got
				continue
			}
			for _, o := range [][2][]float32{{got.y, first.y}, {got.dx, first.dx}, {got.dw, first.dw}, {got.db, first.db}} {
				if tensor.MaxAbsDiff(o[0], o[1]) != 0 {
					t.Fatalf("%v: fused results differ with GOMAXPROCS=%d", c, procs)
				}
			}
		}
	}
}

// BenchmarkPointwiseFused compares per-image and batch-fused 1x1 convs on
// the supernet's small planes at batch 64.
func BenchmarkPointwiseFused(b *testing.B) {
	for _, bc := range []struct {
		name string
		c    convCase
	}{
		{"pw144to40_7x7", convCase{64, 144, 7, 7, 40, 1, 1, 0, 1, false}},
		{"pw40to240_7x7", convCase{64, 40, 7, 7, 240, 1, 1, 0, 1, false}},
		{"pw240to80_4x4", convCase{64, 240, 4, 4, 80, 1, 1, 0, 1, false}},
		{"pw96to576_4x4", convCase{64, 96, 4, 4, 576, 1, 1, 0, 1, false}},
		{"pw576to96_2x2", convCase{64, 576, 2, 2, 96, 1, 1, 0, 1, false}},
	} {
		for _, fused := range []bool{false, true} {
			lim := 0
			if fused {
				lim = 1 << 30
			}
			cv, x, w, _ := bc.c.setup(1)
			dy := randT(newRNG(2), cv.OutShape(x.Shape, w.Shape)...)
			dx, dw := tensor.New(x.Shape...), tensor.New(w.Shape...)
			flops := cv.FLOPs(x.Shape, w.Shape)
			b.Run(fmt.Sprintf("fwd/%s/fused=%v", bc.name, fused), func(b *testing.B) {
				withFuseMax(lim, func() {
					ws := tensor.NewArena(0)
					cv.Forward(ws, x, w, nil)
					ws.Reset()
					b.ResetTimer()
					start := time.Now()
					for range b.N {
						cv.Forward(ws, x, w, nil)
						ws.Reset()
					}
					reportGFLOPs(b, flops, start)
				})
			})
			b.Run(fmt.Sprintf("bwd/%s/fused=%v", bc.name, fused), func(b *testing.B) {
				withFuseMax(lim, func() {
					ws := tensor.NewArena(0)
					cv.Backward(ws, dy, x, w, dx, dw, nil)
					ws.Reset()
					b.ResetTimer()
					start := time.Now()
					for range b.N {
						cv.Backward(ws, dy, x, w, dx, dw, nil)
						ws.Reset()
					}
					reportGFLOPs(b, 2*flops, start)
				})
			})
		}
	}
}
