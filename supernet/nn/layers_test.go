package nn

import (
	"math"
	"testing"

	"github.com/ofac-dev/ofac/supernet/tensor"
)

func TestLinearGradients(t *testing.T) {
	rng := newRNG(21)
	x, w, b := randT(rng, 3, 5, 1, 1), randT(rng, 4, 5), randT(rng, 4).Data
	r := randT(rng, 3, 4)
	f := func() float64 { return dot(Linear(nil, x, w, b).Data, r.Data) }
	dx, dw, db := tensor.New(x.Shape...), tensor.New(w.Shape...), make([]float32, 4)
	LinearBackward(r, x, w, dx, dw, db)
	gradCheck(t, f, []gparam{{"x", x.Data, dx.Data}, {"w", w.Data, dw.Data}, {"b", b, db}}, 1e-2, 2e-3)
}

func TestGlobalAvgPoolGradients(t *testing.T) {
	rng := newRNG(22)
	x := randT(rng, 2, 3, 3, 2)
	r := randT(rng, 2, 3)
	y := GlobalAvgPool(nil, x)
	if want := float32((float64(x.Data[0]) + float64(x.Data[1]) + float64(x.Data[2]) + float64(x.Data[3]) + float64(x.Data[4]) + float64(x.Data[5])) / 6); math.Abs(float64(y.Data[0]-want)) > 1e-6 {
		t.Errorf("pool = %g, want %g", y.Data[0], want)
	}
	f := func() float64 { return dot(GlobalAvgPool(nil, x).Data, r.Data) }
	dx := tensor.New(x.Shape...)
	GlobalAvgPoolBackward(r, dx)
	gradCheck(t, f, []gparam{{"x", x.Data, dx.Data}}, 1e-2, 2e-3)
}

func TestSqueezeExciteGradients(t *testing.T) {
	rng := newRNG(23)
	const c, mid = 6, 3
	x := randT(rng, 2, c, 3, 3)
	p := SEWeights{W1: randT(rng, mid, c, 1, 1), B1: randT(rng, mid).Data, W2: randT(rng, c, mid, 1, 1), B2: randT(rng, c).Data}
	// Keep the pre-activations away from the ReLU and hard-sigmoid kinks by
	// checking them after the forward pass below.
	r := randT(rng, x.Shape...)
	f := func() float64 {
		y, _ := SqueezeExcite(nil, x, p)
		return dot(y.Data, r.Data)
	}
	_, cc := SqueezeExcite(nil, x, p)
	for i, v := range cc.Z1.Data {
		if math.Abs(float64(v)) < 0.05 {
			t.Fatalf("z1[%d] = %g too close to the ReLU kink; pick another seed", i, v)
		}
	}
	for i, v := range cc.Z2.Data {
		if math.Abs(math.Abs(float64(v))-3) < 0.05 {
			t.Fatalf("z2[%d] = %g too close to a hard-sigmoid kink; pick another seed", i, v)
		}
	}
	dx := tensor.New(x.Shape...)
	g := SEWeights{W1: tensor.New(mid, c, 1, 1), B1: make([]float32, mid), W2: tensor.New(c, mid, 1, 1), B2: make([]float32, c)}
	SqueezeExciteBackward(nil, r, x, p, cc, dx, g)
	gradCheck(t, f, []gparam{
		{"x", x.Data, dx.Data}, {"w1", p.W1.Data, g.W1.Data}, {"b1", p.B1, g.B1},
		{"w2", p.W2.Data, g.W2.Data}, {"b2", p.B2, g.B2},
	}, 1e-2, 2e-3)
}

func TestResidualAdd(t *testing.T) {
	rng := newRNG(24)
	a, b := randT(rng, 2, 3), randT(rng, 2, 3)
	y := Add(nil, a, b)
	for i := range y.Data {
		if y.Data[i] != a.Data[i]+b.Data[i] {
			t.Fatalf("y[%d] wrong", i)
		}
	}
	r := randT(rng, 2, 3)
	f := func() float64 { return dot(Add(nil, a, b).Data, r.Data) }
	da, db := tensor.New(2, 3), tensor.New(2, 3)
	AddBackward(r, da, db)
	gradCheck(t, f, []gparam{{"a", a.Data, da.Data}, {"b", b.Data, db.Data}}, 1e-2, 2e-3)
}

func TestDropout(t *testing.T) {
	x := tensor.New(4, 16, 8, 8)
	tensor.Fill(x.Data, 1)
	y1, m1 := Dropout(nil, x, 0.25, newRNG(5))
	y2, _ := Dropout(nil, x, 0.25, newRNG(5))
	if tensor.MaxAbsDiff(y1.Data, y2.Data) != 0 {
		t.Fatal("same seed gave different masks")
	}
	var kept int
	for i, v := range y1.Data {
		switch v {
		case 0:
		case 1 / 0.75:
			kept++
		default:
			t.Fatalf("y[%d] = %g, want 0 or 1/(1-p)", i, v)
		}
		if m1.Data[i] != v {
			t.Fatalf("mask[%d] = %g disagrees with y", i, m1.Data[i])
		}
	}
	if frac := float64(kept) / float64(len(y1.Data)); math.Abs(frac-0.75) > 0.03 {
		t.Errorf("kept %.3f of elements, want about 0.75", frac)
	}
	r := randT(newRNG(6), x.Shape...)
	dx := tensor.New(x.Shape...)
	DropoutBackward(r, m1, dx)
	for i := range dx.Data {
		if dx.Data[i] != r.Data[i]*m1.Data[i] {
			t.Fatalf("dx[%d] wrong", i)
		}
	}
	y0, m0 := Dropout(nil, x, 0, nil)
	if m0 != nil || tensor.MaxAbsDiff(y0.Data, x.Data) != 0 {
		t.Error("p = 0 should be the identity")
	}
}
