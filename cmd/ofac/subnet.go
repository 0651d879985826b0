package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"text/tabwriter"

	"github.com/ofac-dev/ofac/frontend"
	"github.com/ofac-dev/ofac/internal/humanize"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/passes"
	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/nn"
	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/train"
)

// defaultSupernet is where the shipped, trained supernet lives.
const defaultSupernet = "models/supernet.ckpt"

// loadSupernet reads a checkpoint with the one-line error a missing file
// deserves.
func loadSupernet(path string) (*train.Checkpoint, error) {
	ck, err := train.LoadCheckpoint(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no supernet at %s: run ofac from the repository's root, where the shipped one is, or pass --supernet FILE (or train one with 'ofac train')", path)
	}
	return ck, err
}

// supernetData reads the data set split as ck was trained: its validation
// split holds out the images it never trained on (train.Config.ValImages).
func supernetData(dir string, ck *train.Checkpoint) (*data.Splits, error) {
	splits, err := data.Load(dir)
	if err != nil {
		return nil, err
	}
	return splits.HoldOut(ck.Config.ValImages)
}

// supernetFlags are shared by the commands that take a subnet out of a
// trained supernet.
type supernetFlags struct {
	Supernet string `placeholder:"FILE" default:"${default_supernet}" help:"Trained supernet checkpoint (default ${default_supernet})."`
	Arch     string `required:"" placeholder:"ARCH" help:"Subnet: largest, smallest, random:SEED or a JSON file {\"ks\": [...], \"e\": [...], \"d\": [...], \"r\": 28}."`
	Data     string `placeholder:"DIR" default:"${default_data}" help:"Folder with the Fashion-MNIST files (BN recalibration uses 2,000 training images)."`
	Calib    int    `default:"2000" help:"Training images that recalibrate batch norm."`
}

// load reads the supernet, resolves the arch and the data, and recalibrates
// batch norm for the subnet.
func (f *supernetFlags) load() (*ofa.Net, ofa.Arch, *data.Splits, *ofa.Stats, error) {
	ck, err := loadSupernet(f.Supernet)
	if err != nil {
		return nil, ofa.Arch{}, nil, nil, err
	}
	a, err := ck.Net.Space.ResolveArch(f.Arch)
	if err != nil {
		return nil, ofa.Arch{}, nil, nil, usageError{err}
	}
	splits, err := supernetData(f.Data, ck)
	if err != nil {
		return nil, ofa.Arch{}, nil, nil, err
	}
	stats := train.Recalibrate(ck.Net, a, splits.Train, f.Calib, 128)
	return ck.Net, a, splits, stats, nil
}

type evalCmd struct {
	supernetFlags
	Split      string  `default:"test" enum:"test,val" help:"Data to measure on: the official test set or the validation split (${enum})."`
	Images     int     `help:"Measure on only the first N images of the split (quick checks)."`
	Int8       bool    `name:"int8" help:"Also measure the int8-quantized subnet with the integer interpreter (the oracle of the integer backends)."`
	Int8Calib  int     `name:"int8-calib" default:"512" help:"Training images that calibrate int8 activation ranges."`
	Int8Layers bool    `name:"int8-layers" help:"With --int8, also compare the int8 graph with the float one layer by layer on the first 16 images and print each layer's SQNR (signal-to-quantization-noise ratio): the first layer where it falls is where precision is lost."`
	Int8Pct    float64 `name:"int8-percentile" placeholder:"P" help:"Clip each int8 activation range to the P-th percentile of its calibration values (e.g. 99.9) instead of their min and max, trading rare outliers for finer steps; 0 keeps min/max, as every compiled artifact does."`
	JSON       bool    `help:"Print one JSON object instead of text."`
}

func (c *evalCmd) Help() string {
	return `Takes the subnet out of the supernet with its shared weights, recomputes
batch norm statistics on training images (as the reference does after
extraction) and measures top-1 on the test set, or on the validation split
held out of training (--split val), the one the accuracy predictor's data is measured on.

--int8 also quantizes the subnet as the integer backends do and runs it with
the integer interpreter, their bit-exact oracle; --int8-layers then shows
where accuracy goes, layer by layer.

Examples:
  ofac eval --arch largest
  ofac eval --arch random:3 --int8
  ofac eval --arch smallest --split val --images 2000 --int8 --int8-layers
  ofac eval --supernet runs/supernet.ckpt --arch arch.json --json`
}

func (c *evalCmd) Run(e *env) error {
	if c.Int8Layers && !c.Int8 {
		return usageError{fmt.Errorf("--int8-layers needs --int8")}
	}
	if c.Int8Pct != 0 && !(c.Int8Pct > 0 && c.Int8Pct < 100) {
		return usageError{fmt.Errorf("--int8-percentile %g must be in (0, 100), or 0 for min/max", c.Int8Pct)}
	}
	net, a, splits, stats, err := c.load()
	if err != nil {
		return err
	}
	set := splits.Test
	if c.Split == "val" {
		set = splits.Val
	}
	if c.Images > 0 && c.Images < set.Len() {
		idx := make([]int32, c.Images)
		for i := range idx {
			idx[i] = int32(i)
		}
		set = set.Subset(set.Name, idx)
	}
	logits := train.Logits(net, a, stats, set, 128)
	correct := 0
	for i, p := range nn.Argmax(logits) {
		if p == int(set.Labels[i]) {
			correct++
		}
	}
	acc := float64(correct) / float64(set.Len())
	g, err := frontend.Subnet("subnet", net.Extract(a, stats))
	if err != nil {
		return err
	}
	_, tot := ir.Stats(g)
	result := map[string]any{"arch": a, "split": c.Split, "images": set.Len(), "top1": acc, "macs": tot.MACs, "params": tot.Params}
	var acc8 float64
	var layers []interp.LayerError
	if c.Int8 {
		samples, err := calibrationSamples(g, c.Data, c.Int8Calib)
		if err != nil {
			return err
		}
		if err := passes.Run(g, &passes.Options{Int8: true, Calibration: samples, Percentile: c.Int8Pct}); err != nil {
			return err
		}
		if acc8, err = int8Accuracy(g, set, a.R); err != nil {
			return err
		}
		result["top1_int8"] = acc8
		if c.Int8Layers {
			float, err := frontend.Subnet("subnet", net.Extract(a, stats))
			if err != nil {
				return err
			}
			if layers, err = compareLayers(float, g, set, a.R, 16); err != nil {
				return err
			}
			result["int8_layers"] = layersJSON(layers)
		}
		result["int8_percentile"] = c.Int8Pct
	}
	if c.JSON {
		return json.NewEncoder(e.stdout).Encode(result)
	}
	fmt.Fprintf(e.stdout, "arch %s\n%s top-1 %.2f%% on %d images (BN recalibrated on %d training images); %s MACs, %s parameters\n",
		a.JSON(), c.Split, 100*acc, set.Len(), c.Calib, humanize.Count(tot.MACs), humanize.Count(tot.Params))
	if c.Int8 {
		how := "min/max"
		if c.Int8Pct > 0 {
			how = fmt.Sprintf("%gth-percentile", c.Int8Pct)
		}
		fmt.Fprintf(e.stdout, "int8 top-1 %.2f%% (%s ranges calibrated on %d training images), %+.2f points against float\n", 100*acc8, how, c.Int8Calib, 100*(acc8-acc))
		if c.Int8Layers {
			printLayers(e.stdout, layers)
		}
	}
	return nil
}

// int8Accuracy runs the quantized graph with the integer interpreter over
// set, one image at a time, on every core.
func int8Accuracy(g *ir.Graph, set *data.Dataset, r int) (float64, error) {
	return data.Top1(set, r, 0, func() (data.Classifier, error) {
		it, err := interp.NewInt8(g)
		if err != nil {
			return nil, err
		}
		return func(x []float32) ([]float32, error) {
			out, err := it.Run(interp.Tensor{Shape: ir.Shape{1, 1, r, r}, Data: x})
			if err != nil {
				return nil, err
			}
			return out[0].Data, nil
		}, nil
	})
}

type subnetCmd struct {
	supernetFlags
	Out string `short:"o" required:"" placeholder:"MODEL" help:"Model file (.ofac) to write."`
}

func (c *subnetCmd) Run(e *env) error {
	net, a, _, stats, err := c.load()
	if err != nil {
		return err
	}
	g, err := frontend.Subnet("subnet", net.Extract(a, stats))
	if err != nil {
		return err
	}
	if err := ir.WriteModelFile(c.Out, g); err != nil {
		return err
	}
	_, tot := ir.Stats(g)
	fmt.Fprintf(e.stdout, "wrote %s: arch %s, %d nodes, %s MACs, %s parameters\n", c.Out, a.JSON(), len(g.Nodes), humanize.Count(tot.MACs), humanize.Count(tot.Params))
	return nil
}

// compareLayers measures quant, the int8 form of float, layer by layer on
// the first n images of set at resolution r. float is run through the pass
// pipeline without quantization first, so that its results carry the names
// of the int8 graph's.
func compareLayers(float, quant *ir.Graph, set *data.Dataset, r, n int) ([]interp.LayerError, error) {
	if err := passes.Run(float, &passes.Options{}); err != nil {
		return nil, err
	}
	fi, err := interp.New(float)
	if err != nil {
		return nil, err
	}
	qi, err := interp.NewInt8(quant)
	if err != nil {
		return nil, err
	}
	var inputs [][]interp.Tensor
	for _, x := range frontend.Images(set, min(n, set.Len()), r) {
		inputs = append(inputs, []interp.Tensor{x})
	}
	return interp.CompareLayers(fi, qi, inputs)
}

// printLayers writes the layer report as a table, one line per int8 result
// in graph order.
func printLayers(w io.Writer, layers []interp.LayerError) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\top\tshape\tmax |float|\tSQNR dB\t")
	for _, l := range layers {
		fmt.Fprintf(tw, "%%%s\t%s\t%s\t%.3f\t%.1f\t\n", l.Name, l.Op, l.Shape, l.MaxAbs, l.SQNR)
	}
	tw.Flush()
}

// layerJSON is a LayerError for --json: the op by name, and no SQNR (null)
// for a layer that int8 reproduced exactly, since JSON has no infinity.
type layerJSON struct {
	Name   string   `json:"name"`
	Op     string   `json:"op"`
	Shape  []int    `json:"shape"`
	MaxAbs float64  `json:"max_abs"`
	SQNR   *float64 `json:"sqnr_db"`
}

func layersJSON(layers []interp.LayerError) []layerJSON {
	out := make([]layerJSON, len(layers))
	for i, l := range layers {
		out[i] = layerJSON{Name: l.Name, Op: l.Op.String(), Shape: l.Shape, MaxAbs: l.MaxAbs}
		if !math.IsInf(l.SQNR, 0) {
			out[i].SQNR = &l.SQNR
		}
	}
	return out
}
