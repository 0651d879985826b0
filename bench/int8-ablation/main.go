// Command int8-ablation measures where a subnet's int8 accuracy goes, by
// changing the quantization of chosen activations and measuring top-1 with
// the reference interpreter's fake quantization (real arithmetic, every int8
// result rounded onto its grid; it differs from the integer interpreter by a
// step or two of rounding, so its int8 figure is close to, not equal to,
// `ofac eval --int8`):
//
//	go run ./bench/int8-ablation -supernet runs/ps9/supernet.ckpt -arch smallest
//
// It prints top-1 in float, then int8 as compiled (A: per-tensor
// activations but for the stem, which passes.Quantize quantizes per channel),
// and int8 with (B) the first depthwise convolution's input (the stem's
// output) on per-channel min/max grids, (C) that input left unrounded, (D) every
// depthwise convolution's input per channel, (E) D and C together. -sweep
// instead leaves each activation unrounded in turn and prints the gain.
// Per-channel ranges are the min/max of each channel over the calibration
// images, read with those inputs left unrounded. B to E change roundings
// after the quantizer's bias correction (passes.Quantize) has been fitted to
// A's, and do not refit it, so against a quantizer with bias correction they
// show what those roundings cost with stale corrections: C still measures
// the stem output's remaining loss, B and D mostly the staleness.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"

	"github.com/ofac-dev/ofac/frontend"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/passes"
	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/train"
)

type config struct {
	supernet, arch, data, split string
	bnCalib, int8Calib, images  int
	sweep                       bool
}

func main() {
	var c config
	flag.StringVar(&c.supernet, "supernet", "models/supernet.ckpt", "supernet checkpoint")
	flag.StringVar(&c.arch, "arch", "smallest", "subnet: largest, smallest, random:SEED or a JSON file")
	flag.StringVar(&c.data, "data", "/usr/share/datasets/fashion-mnist", "Fashion-MNIST folder")
	flag.StringVar(&c.split, "split", "val", "measure on: val or test")
	flag.IntVar(&c.bnCalib, "calib", 2000, "training images that recalibrate batch norm")
	flag.IntVar(&c.int8Calib, "int8-calib", 512, "training images that calibrate int8 ranges")
	flag.IntVar(&c.images, "images", 2000, "images of the split to measure on")
	flag.BoolVar(&c.sweep, "sweep", false, "leave each activation unrounded in turn and print the gain")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "int8-ablation:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	ck, err := train.LoadCheckpoint(c.supernet)
	if err != nil {
		return err
	}
	a, err := ck.Net.Space.ResolveArch(c.arch)
	if err != nil {
		return err
	}
	splits, err := data.Load(c.data)
	if err == nil {
		splits, err = splits.HoldOut(ck.Config.ValImages)
	}
	if err != nil {
		return err
	}
	set := splits.Val
	if c.split == "test" {
		set = splits.Test
	} else if c.split != "val" {
		return fmt.Errorf("-split %q: want val or test", c.split)
	}
	n := c.images
	if n <= 0 || n > set.Len() {
		n = set.Len()
	}
	stats := train.Recalibrate(ck.Net, a, splits.Train, c.bnCalib, 128)
	g, err := frontend.Subnet("subnet", ck.Net.Extract(a, stats))
	if err != nil {
		return err
	}
	r := a.R
	floatTop1, err := top1(g, nil, set, r, n)
	if err != nil {
		return err
	}
	fmt.Printf("arch %s, %s split, first %d images\n", a.JSON(), c.split, n)
	fmt.Printf("float                                   %.2f%%\n", 100*floatTop1)

	shape := g.Inputs[0].Shape
	ep := data.NewLoader(splits.Train, 1, false, 0).Epoch(0)
	labels := make([]int, 1)
	var samples [][]passes.Sample
	for i := 0; i < c.int8Calib; i++ {
		x := make([]float32, r*r)
		ep.Fill(i, r, x, labels)
		samples = append(samples, []passes.Sample{{Shape: shape, Data: x}})
	}
	if err := passes.Run(g, &passes.Options{Int8: true, Calibration: samples}); err != nil {
		return err
	}
	base, err := top1(g, nil, set, r, n)
	if err != nil {
		return err
	}
	fmt.Printf("A int8 as compiled                      %.2f%%\n", 100*base)
	if c.sweep {
		for _, nd := range g.Nodes {
			if nd.Output.DType != ir.I8 {
				continue
			}
			t, err := top1(g, []*ir.Value{nd.Output}, set, r, n)
			if err != nil {
				return err
			}
			fmt.Printf("  %-9s %-14s %-14v unrounded: %+.2f points\n", nd.Output.Ref(), nd.Op, nd.Output.Shape, 100*(t-base))
		}
		return nil
	}

	var dwIn []*ir.Value
	seen := map[*ir.Value]bool{}
	for _, nd := range g.Nodes {
		if nd.Op == ir.OpConv2D && nd.Attrs.Groups > 1 && !seen[nd.Inputs[0]] {
			seen[nd.Inputs[0]] = true
			dwIn = append(dwIn, nd.Inputs[0])
		}
	}
	if len(dwIn) == 0 {
		return fmt.Errorf("the subnet has no depthwise convolution")
	}
	perChannel, err := channelQuant(g, dwIn, samples)
	if err != nil {
		return err
	}
	stem := dwIn[0]
	perTensor := stem.Quant
	report := func(label string, unrounded ...*ir.Value) error {
		t, err := top1(g, unrounded, set, r, n)
		if err != nil {
			return err
		}
		fmt.Printf("%-39s %.2f%% (%+.2f points against A)\n", label, 100*t, 100*(t-base))
		return nil
	}
	stem.Quant = perChannel[stem]
	if err := report(fmt.Sprintf("B %s per channel", stem.Ref())); err != nil {
		return err
	}
	stem.Quant = perTensor
	if err := report(fmt.Sprintf("C %s unrounded", stem.Ref()), stem); err != nil {
		return err
	}
	for _, v := range dwIn {
		v.Quant = perChannel[v]
	}
	if err := report(fmt.Sprintf("D %d depthwise inputs per channel", len(dwIn))); err != nil {
		return err
	}
	return report("E D, and C", stem)
}

// channelQuant gives each value asymmetric int8 parameters per channel
// (axis 1) from its per-channel min/max over the samples, widened to
// contain 0 as the per-tensor ones are.
func channelQuant(g *ir.Graph, vs []*ir.Value, samples [][]passes.Sample) (map[*ir.Value]*ir.Quant, error) {
	it, err := interp.New(g)
	if err != nil {
		return nil, err
	}
	it.LeaveUnrounded(vs...)
	lo, hi := map[*ir.Value][]float64{}, map[*ir.Value][]float64{}
	for _, v := range vs {
		lo[v], hi[v] = make([]float64, v.Shape[1]), make([]float64, v.Shape[1])
	}
	for _, s := range samples {
		all, err := it.RunAll(interp.Tensor{Shape: s[0].Shape, Data: s[0].Data})
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			plane := v.Shape[2] * v.Shape[3]
			d := all[v].Data
			for ch := range lo[v] {
				for _, x := range d[ch*plane : (ch+1)*plane] {
					lo[v][ch] = math.Min(lo[v][ch], float64(x))
					hi[v][ch] = math.Max(hi[v][ch], float64(x))
				}
			}
		}
	}
	out := map[*ir.Value]*ir.Quant{}
	for _, v := range vs {
		c := v.Shape[1]
		q := &ir.Quant{Scale: make([]float32, c), ZeroPoint: make([]int32, c), Axis: 1}
		for ch := 0; ch < c; ch++ {
			s := (hi[v][ch] - lo[v][ch]) / 255
			if !(s > 1e-30) {
				s = 1
			}
			q.Scale[ch] = float32(s)
			q.ZeroPoint[ch] = int32(min(max(math.RoundToEven(-128-lo[v][ch]/s), -128), 127))
		}
		out[v] = q
	}
	return out, nil
}

// top1 runs the first n images of set through the reference interpreter on
// every core, with the given values left unrounded.
func top1(g *ir.Graph, unrounded []*ir.Value, set *data.Dataset, r, n int) (float64, error) {
	return data.Top1(set, r, n, func() (data.Classifier, error) {
		it, err := interp.New(g)
		if err != nil {
			return nil, err
		}
		it.LeaveUnrounded(unrounded...)
		return func(x []float32) ([]float32, error) {
			out, err := it.Run(interp.Tensor{Shape: ir.Shape{1, 1, r, r}, Data: x})
			if err != nil {
				return nil, err
			}
			return out[0].Data, nil
		}, nil
	})
}
