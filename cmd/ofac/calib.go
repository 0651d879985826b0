package main

import (
	"fmt"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/passes"
	"github.com/ofac-dev/ofac/supernet/data"
)

// calibrationSamples returns the first n training images at the model's
// input resolution, normalised as in training, for int8 calibration.
func calibrationSamples(g *ir.Graph, dir string, n int) ([][]passes.Sample, error) {
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("int8 calibration needs a model with one input, it has %d", len(g.Inputs))
	}
	in := g.Inputs[0].Shape
	if len(in) != 4 || in[0] != 1 || in[1] != 1 || in[2] != in[3] {
		return nil, fmt.Errorf("int8 calibration feeds grey square images, but the model takes %s", in)
	}
	if n < 1 {
		return nil, usageError{fmt.Errorf("--calib must be at least 1, got %d", n)}
	}
	splits, err := data.Load(dir)
	if err != nil {
		return nil, err
	}
	r := in[2]
	loader := data.NewLoader(splits.Train, 1, false, 0)
	ep := loader.Epoch(0)
	labels := make([]int, 1)
	out := make([][]passes.Sample, min(n, splits.Train.Len()))
	for i := range out {
		x := make([]float32, r*r)
		ep.Fill(i, r, x, labels)
		out[i] = []passes.Sample{{Shape: in, Data: x}}
	}
	return out, nil
}
