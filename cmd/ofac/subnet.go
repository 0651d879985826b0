package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/ofac-dev/ofac/frontend"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/train"
)

// defaultSupernet is where the shipped, trained supernet lives.
const defaultSupernet = "models/supernet.ckpt"

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
	ck, err := train.LoadCheckpoint(f.Supernet)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ofa.Arch{}, nil, nil, fmt.Errorf("no supernet at %s: train one with 'ofac train' or pass --supernet FILE", f.Supernet)
	}
	if err != nil {
		return nil, ofa.Arch{}, nil, nil, err
	}
	a, err := ck.Net.Space.ResolveArch(f.Arch)
	if err != nil {
		return nil, ofa.Arch{}, nil, nil, usageError{err}
	}
	splits, err := data.Load(f.Data)
	if err != nil {
		return nil, ofa.Arch{}, nil, nil, err
	}
	stats := train.Recalibrate(ck.Net, a, splits.Train, f.Calib, 128)
	return ck.Net, a, splits, stats, nil
}

type evalCmd struct {
	supernetFlags
	Split string `default:"test" enum:"test,val" help:"Data to measure on: the official test set or the validation split (${enum})."`
	JSON  bool   `help:"Print one JSON object instead of text."`
}

func (c *evalCmd) Run(e *env) error {
	net, a, splits, stats, err := c.load()
	if err != nil {
		return err
	}
	set := splits.Test
	if c.Split == "val" {
		set = splits.Val
	}
	logits := train.Logits(net, a, stats, set, 128)
	correct := 0
	for i := 0; i < set.Len(); i++ {
		row := logits.Data[i*net.Space.Classes : (i+1)*net.Space.Classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == int(set.Labels[i]) {
			correct++
		}
	}
	acc := float64(correct) / float64(set.Len())
	g, err := frontend.Subnet("subnet", net.Extract(a, stats))
	if err != nil {
		return err
	}
	_, tot := ir.Stats(g)
	if c.JSON {
		return json.NewEncoder(e.stdout).Encode(map[string]any{
			"arch": a, "split": c.Split, "images": set.Len(), "top1": acc, "macs": tot.MACs, "params": tot.Params})
	}
	fmt.Fprintf(e.stdout, "arch %s\n%s top-1 %.2f%% on %d images (BN recalibrated on %d training images); %s MACs, %s parameters\n",
		a.JSON(), c.Split, 100*acc, set.Len(), c.Calib, group(tot.MACs), group(tot.Params))
	return nil
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
	fmt.Fprintf(e.stdout, "wrote %s: arch %s, %d nodes, %s MACs, %s parameters\n", c.Out, a.JSON(), len(g.Nodes), group(tot.MACs), group(tot.Params))
	return nil
}
