package passes

import (
	"math"
	"slices"
	"testing"

	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/ir/irtest"
)

// TestCompareLayers checks the layer-by-layer int8 report on the fixture:
// every integer result is matched with its float twin, logits included,
// and ranges calibrated 50 times too wide (steps 50 times too coarse, about
// 34 dB of SQNR) show up as a large fall in every layer.
func TestCompareLayers(t *testing.T) {
	splits := testSet(t)
	g, err := irtest.Fixture()
	if err != nil {
		t.Fatal(err)
	}
	r := g.Inputs[0].Shape[2]
	float := clone(t, g)
	if err := Run(float, &Options{}); err != nil {
		t.Fatal(err)
	}
	fi, err := interp.New(float)
	if err != nil {
		t.Fatal(err)
	}
	var inputs [][]interp.Tensor
	for _, x := range images(splits, 8, r) {
		inputs = append(inputs, []interp.Tensor{x})
	}
	report := func(calib [][]Sample) []interp.LayerError {
		qi, err := interp.NewInt8(quantized(t, g, calib, 0))
		if err != nil {
			t.Fatal(err)
		}
		layers, err := interp.CompareLayers(fi, qi, inputs)
		if err != nil {
			t.Fatal(err)
		}
		return layers
	}
	calib := calibration(splits, 64, r)
	good := report(calib)
	names := map[string]bool{}
	for _, l := range good {
		names[l.Name] = true
		if math.IsNaN(l.SQNR) || l.SQNR < 10 {
			t.Errorf("%s (%s): SQNR %.1f dB with ranges calibrated on the data", l.Name, l.Op, l.SQNR)
		}
	}
	for _, o := range g.Outputs {
		if !names[o.Name] {
			t.Errorf("output %s is not in the report", o.Ref())
		}
	}
	if len(good) < len(float.Nodes)/2 {
		t.Errorf("report has %d layers, the float graph %d nodes", len(good), len(float.Nodes))
	}
	for _, s := range calib {
		for i := range s[0].Data {
			s[0].Data[i] *= 50
		}
	}
	coarse := report(calib)
	if len(coarse) != len(good) {
		t.Fatalf("%d layers with coarse ranges, %d with good ones", len(coarse), len(good))
	}
	var falls []float64
	for i := range good {
		falls = append(falls, good[i].SQNR-coarse[i].SQNR)
	}
	slices.Sort(falls)
	if m := falls[len(falls)/2]; m < 20 {
		t.Errorf("median SQNR fall with 50x coarser ranges is %.1f dB, want >= 20 (falls %v)", m, falls)
	}
	if _, err := interp.CompareLayers(fi, nil, nil); err == nil {
		t.Error("no inputs: no error")
	}
}
