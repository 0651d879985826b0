package nn

import (
	"math"
	"testing"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

func TestBatchNormTrainGradients(t *testing.T) {
	rng := newRNG(7)
	for _, shape := range [][]int{{3, 4, 3, 3}, {4, 2, 1, 1}, {2, 3, 5, 4}} {
		x := randT(rng, shape...)
		gamma, beta := randT(rng, shape[1]).Data, randT(rng, shape[1]).Data
		r := randT(rng, shape...)
		f := func() float64 {
			y, _ := BatchNormTrain(nil, x, gamma, beta, nil, nil, 0.1, 1e-5)
			return dot(y.Data, r.Data)
		}
		_, sv := BatchNormTrain(nil, x, gamma, beta, nil, nil, 0.1, 1e-5)
		dx, dg, db := tensor.New(shape...), make([]float32, shape[1]), make([]float32, shape[1])
		BatchNormBackward(r, x, gamma, sv, dx, dg, db)
		gradCheck(t, f, []gparam{{"x", x.Data, dx.Data}, {"gamma", gamma, dg}, {"beta", beta, db}}, 1e-2, 5e-3)
	}
}

func TestBatchNormStatistics(t *testing.T) {
	// Two images, one channel, two pixels: values 1,2,3,6 -> mean 3,
	// biased variance 3.5, unbiased 14/3.
	x := tensor.FromSlice([]float32{1, 2, 3, 6}, 2, 1, 1, 2)
	bn := NewBatchNorm2d(2) // wider than x: an elastic width uses the prefix
	bn.RunningMean[1], bn.RunningVar[1] = 7, 7
	y, sv := bn.Forward(nil, x, []float32{2}, []float32{1}, true)
	inv := 1 / math.Sqrt(3.5+1e-5)
	for i, v := range []float64{1, 2, 3, 6} {
		want := 2*(v-3)*inv + 1
		if math.Abs(float64(y.Data[i])-want) > 1e-5 {
			t.Errorf("y[%d] = %g, want %g", i, y.Data[i], want)
		}
	}
	if sv.Mean[0] != 3 {
		t.Errorf("saved mean %g", sv.Mean[0])
	}
	if got, want := bn.RunningMean[0], float32(0.9*0+0.1*3); math.Abs(float64(got-want)) > 1e-6 {
		t.Errorf("running mean %g, want %g", got, want)
	}
	if got, want := bn.RunningVar[0], float32(0.9*1+0.1*14.0/3); math.Abs(float64(got-want)) > 1e-6 {
		t.Errorf("running var %g, want %g", got, want)
	}
	if bn.RunningMean[1] != 7 || bn.RunningVar[1] != 7 {
		t.Error("statistics beyond the input's width changed")
	}
	// Inference uses the running statistics and leaves them alone.
	y, _ = bn.Forward(nil, x, []float32{2}, []float32{1}, false)
	m, v := float64(bn.RunningMean[0]), float64(bn.RunningVar[0])
	if want := 2*(6-m)/math.Sqrt(v+1e-5) + 1; math.Abs(float64(y.Data[3])-want) > 1e-5 {
		t.Errorf("eval y = %g, want %g", y.Data[3], want)
	}
	if bn.RunningMean[0] != float32(0.3) {
		t.Error("inference changed the running mean")
	}
}

// The fused batch norm + activation must give the unfused pair's results to
// the bit, forward and backward (training runs resumed across the change
// stay reproducible), and must overwrite, not add to, its dx.
func TestBatchNormActMatchesUnfused(t *testing.T) {
	rng := newRNG(11)
	for _, act := range []Act{Identity, ReLU, HardSwish, HardSigmoid} {
		for _, shape := range [][]int{{3, 4, 3, 3}, {5, 2, 7, 7}} {
			x := randT(rng, shape...)
			gamma, beta := randT(rng, shape[1]).Data, randT(rng, shape[1]).Data
			dy := randT(rng, shape...)

			pre, sv := BatchNormTrain(nil, x, gamma, beta, nil, nil, 0.1, 1e-5)
			want := act.Forward(nil, pre)
			dpre := tensor.New(shape...)
			act.Backward(dy, pre, dpre)
			wantDX := tensor.New(shape...)
			wantDG, wantDB := make([]float32, shape[1]), make([]float32, shape[1])
			BatchNormBackward(dpre, x, gamma, sv, wantDX, wantDG, wantDB)

			got, sv2 := BatchNormActTrain(tensor.NewArena(0), x, gamma, beta, nil, nil, 0.1, 1e-5, act)
			gotDX := randT(rng, shape...) // stale contents must be overwritten
			gotDG, gotDB := make([]float32, shape[1]), make([]float32, shape[1])
			BatchNormActBackward(tensor.NewArena(0), act, dy, x, gamma, beta, sv2, gotDX, gotDG, gotDB)

			for name, pair := range map[string][2][]float32{
				"y": {want.Data, got.Data}, "dx": {wantDX.Data, gotDX.Data},
				"dgamma": {wantDG, gotDG}, "dbeta": {wantDB, gotDB},
			} {
				for i := range pair[0] {
					if math.Float32bits(pair[0][i]) != math.Float32bits(pair[1][i]) {
						t.Errorf("%v %v: %s[%d] = %g fused, %g unfused", act, shape, name, i, pair[1][i], pair[0][i])
						break
					}
				}
			}
		}
	}
}
