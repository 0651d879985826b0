package optim

import (
	"math"
	"reflect"
	"strconv"
	"testing"
)

// TestSGDMatchesPyTorchRule steps two parameters by hand with the documented
// PyTorch rule in float64 and compares.
func TestSGDMatchesPyTorchRule(t *testing.T) {
	for _, nesterov := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.Nesterov, cfg.WeightDecay = nesterov, 0.01
		w := &Param{Name: "w", Data: []float32{1, -2}, Grad: make([]float32, 2), Decay: true}
		b := &Param{Name: "b", Data: []float32{0.5}, Grad: make([]float32, 1)}
		o := NewSGD(cfg, []*Param{w, b})
		ref := [][]float64{{1, -2}, {0.5}}
		buf := [][]float64{{0, 0}, {0}}
		grads := [][][]float32{{{0.3, -0.1}, {0.2}}, {{-0.4, 0.25}, {0.1}}, {{0.05, 0.6}, {-0.3}}}
		lrs := []float64{0.1, 0.05, 0.02}
		for s, g := range grads {
			copy(w.Grad, g[0])
			copy(b.Grad, g[1])
			o.Step(float32(lrs[s]))
			for pi, decay := range []bool{true, false} {
				for j := range ref[pi] {
					d := float64(g[pi][j])
					if decay {
						d += 0.01 * ref[pi][j]
					}
					buf[pi][j] = 0.9*buf[pi][j] + d
					if nesterov {
						d += 0.9 * buf[pi][j]
					} else {
						d = buf[pi][j]
					}
					ref[pi][j] -= lrs[s] * d
				}
			}
		}
		for pi, p := range []*Param{w, b} {
			for j, v := range p.Data {
				if math.Abs(float64(v)-ref[pi][j]) > 1e-6 {
					t.Errorf("nesterov=%v %s[%d] = %.8f, want %.8f", nesterov, p.Name, j, v, ref[pi][j])
				}
			}
		}
	}
}

// TestSGDStateRoundTrip checks that restoring saved momentum buffers into a
// fresh optimiser continues bit-identically.
func TestSGDStateRoundTrip(t *testing.T) {
	mk := func() (*SGD, *Param) {
		p := &Param{Name: "w", Data: []float32{1, 2, 3}, Grad: make([]float32, 3), Decay: true}
		return NewSGD(DefaultConfig(), []*Param{p}), p
	}
	step := func(o *SGD, p *Param, k int) {
		for j := range p.Grad {
			p.Grad[j] = float32(k+j) * 0.1
		}
		o.Step(0.1)
	}
	a, pa := mk()
	step(a, pa, 0)
	step(a, pa, 1)
	saved := [][]float32{append([]float32(nil), a.State()[0]...)}
	savedData := append([]float32(nil), pa.Data...)
	step(a, pa, 2)

	b, pb := mk()
	copy(pb.Data, savedData)
	if err := b.SetState(saved); err != nil {
		t.Fatal(err)
	}
	step(b, pb, 2)
	for j := range pa.Data {
		if pa.Data[j] != pb.Data[j] {
			t.Fatalf("resumed run differs at %d: %v vs %v", j, pa.Data, pb.Data)
		}
	}
	if err := b.SetState([][]float32{{1}}); err == nil {
		t.Error("SetState accepted a buffer of the wrong length")
	}
}

func TestCosineLR(t *testing.T) {
	const peak, warm, total = 0.1, 10, 110
	if got := CosineLR(peak, 0, warm, total); math.Abs(got-0.01) > 1e-12 {
		t.Errorf("first warm-up step lr %g, want 0.01", got)
	}
	if got := CosineLR(peak, warm-1, warm, total); math.Abs(got-peak) > 1e-12 {
		t.Errorf("last warm-up step lr %g, want %g", got, peak)
	}
	if got := CosineLR(peak, warm, warm, total); got != peak {
		t.Errorf("first cosine step lr %g, want %g", got, peak)
	}
	if got := CosineLR(peak, warm+50, warm, total); math.Abs(got-peak/2) > 1e-12 {
		t.Errorf("midpoint lr %g, want %g", got, peak/2)
	}
	if got := CosineLR(peak, total, warm, total); got > 1e-12 {
		t.Errorf("final lr %g, want 0", got)
	}
	prev := math.Inf(1)
	for s := warm; s <= total; s++ {
		lr := CosineLR(peak, s, warm, total)
		if lr > prev {
			t.Fatalf("lr rose at step %d", s)
		}
		prev = lr
	}
	if got := (Config{WarmupEpochs: 1.5}).WarmupSteps(100); got != 150 {
		t.Errorf("warm-up steps %d, want 150", got)
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Momentum != 0.9 || !c.Nesterov || c.WeightDecay != 3e-5 || c.LabelSmoothing != 0.1 || c.Dropout != 0.1 {
		t.Errorf("defaults %+v", c)
	}
}

// TestConfigTagsMatchDefaults keeps the kong default tags and DefaultConfig
// from drifting apart.
func TestConfigTagsMatchDefaults(t *testing.T) {
	def := reflect.ValueOf(DefaultConfig())
	typ := def.Type()
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag, ok := f.Tag.Lookup("default")
		if !ok || f.Tag.Get("help") == "" {
			t.Errorf("%s lacks help or default tag", f.Name)
			continue
		}
		var want any
		var err error
		switch f.Type.Kind() {
		case reflect.Float64:
			want, err = strconv.ParseFloat(tag, 64)
		case reflect.Bool:
			want, err = strconv.ParseBool(tag)
		default:
			t.Fatalf("%s: unhandled kind %v", f.Name, f.Type.Kind())
		}
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if got := def.Field(i).Interface(); got != want {
			t.Errorf("%s: DefaultConfig has %v, tag says %v", f.Name, got, want)
		}
	}
}
