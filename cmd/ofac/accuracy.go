package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"

	"github.com/schollz/progressbar/v3"

	"github.com/ofac-dev/ofac/search"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

// defaultAccuracy and defaultPredictor live beside the shipped supernet.
const (
	defaultAccuracy  = "models/accuracy.jsonl"
	defaultPredictor = "models/predictor.json"
)

type accuracyDataCmd struct {
	Supernet string `placeholder:"FILE" default:"${default_supernet}" help:"Trained supernet checkpoint (default ${default_supernet})."`
	Data     string `placeholder:"DIR" default:"${default_data}" help:"Folder with the Fashion-MNIST files; subnets are measured on the validation split, never the test set."`
	Samples  int    `default:"2000" help:"Subnets to measure in total (already measured ones in --out count)."`
	Seed     uint64 `default:"1" help:"Which subnets are sampled."`
	Calib    int    `default:"2000" help:"Training images that recalibrate batch norm for each subnet."`
	Batch    int    `default:"250" help:"Images per forward pass."`
	Workers  int    `help:"Subnets measured in parallel (default: the number of CPUs)."`
	Out      string `short:"o" default:"${default_accuracy}" placeholder:"FILE" help:"JSON-lines file to append to; a stopped run continues where it was (default ${default_accuracy})."`
	Quiet    bool   `short:"q" help:"No progress bar."`
	JSON     bool   `help:"Print a JSON summary instead of text."`
}

func (c *accuracyDataCmd) Help() string {
	return `Measures the top-1 accuracy of sampled subnets on the validation split
(batch norm recalibrated for each) and appends one JSON line per subnet to
--out: the training data of the accuracy predictor. Interrupt it at any time
and run it again to continue.

The samples open with the smallest and the largest subnet at each resolution,
where searches under tight and loose budgets end; the rest spread about evenly
over subnet sizes, from near the smallest to near the largest.`
}

func (c *accuracyDataCmd) Run(e *env) error {
	if c.Samples < 1 || c.Calib < 1 || c.Batch < 1 || c.Workers < 0 {
		return usageError{errors.New("--samples, --calib and --batch must be at least 1, --workers not negative")}
	}
	ck, err := loadSupernet(c.Supernet)
	if err != nil {
		return err
	}
	splits, err := supernetData(c.Data, ck)
	if err != nil {
		return err
	}
	workers := c.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	opts := search.CollectOptions{Samples: c.Samples, Seed: c.Seed, CalibImages: c.Calib, Batch: c.Batch, Workers: workers}
	if !c.Quiet {
		bar := progressbar.NewOptions(c.Samples, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription("measuring subnets"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
		opts.Progress = func(done, _ int) { bar.Set(done) }
		defer bar.Finish()
	}
	recs, err := search.Collect(ck.Net, splits, c.Out, opts)
	if err != nil {
		return err
	}
	mean, lo, hi := stats(recs)
	if c.JSON {
		return json.NewEncoder(e.stdout).Encode(map[string]any{"file": c.Out, "records": len(recs), "mean_top1": mean, "min_top1": lo, "max_top1": hi, "val_images": splits.Val.Len()})
	}
	fmt.Fprintf(e.stdout, "%s: %d subnets measured on %d validation images; top-1 %.2f%% .. %.2f%%, mean %.2f%%\n", c.Out, len(recs), splits.Val.Len(), 100*lo, 100*hi, 100*mean)
	return nil
}

func stats(recs []search.Record) (mean, lo, hi float64) {
	lo, hi = 1, 0
	for _, r := range recs {
		mean += r.Top1
		lo, hi = min(lo, r.Top1), max(hi, r.Top1)
	}
	if len(recs) > 0 {
		mean /= float64(len(recs))
	}
	return mean, lo, hi
}

type predictorCmd struct {
	In     string  `short:"i" default:"${default_accuracy}" placeholder:"FILE" help:"Accuracy data from 'ofac accuracy-data' (default ${default_accuracy})."`
	Out    string  `short:"o" default:"${default_predictor}" placeholder:"FILE" help:"Predictor file to write (default ${default_predictor})."`
	Space  string  `default:"auto" enum:"auto,${spaces}" help:"Search space of the records; auto takes the space the records name, or for records that name none, the first space in name order that they all fit (${enum})."`
	Hidden int     `default:"400" help:"Units per hidden layer."`
	Layers int     `default:"3" help:"Hidden layers."`
	Epochs int     `default:"200" help:"Passes over the training records."`
	Batch  int     `default:"128" help:"Records per Adam step."`
	LR     float64 `name:"lr" default:"1e-3" help:"Adam learning rate."`
	WD     float64 `name:"wd" default:"1e-4" help:"Weight decay."`
	Seed   uint64  `default:"1" help:"Seed of the initial weights, the held-out split and the batch order."`
	JSON   bool    `help:"Print a JSON summary instead of text."`
}

func (c *predictorCmd) Help() string {
	return `Trains the accuracy predictor (an MLP over the one-hot architecture
encoding, as the Once-for-All reference) on 80% of the records and reports its
RMSE on the other 20%.`
}

func (c *predictorCmd) Run(e *env) error {
	if c.Hidden < 1 || c.Layers < 1 || c.Epochs < 1 || c.Batch < 1 || !(c.LR > 0) || c.WD < 0 {
		return usageError{errors.New("--hidden, --layers, --epochs and --batch must be at least 1, --lr positive and --wd not negative")}
	}
	recs, err := search.ReadRecords(c.In)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("no accuracy data in %s: measure subnets with 'ofac accuracy-data -o %s' first", c.In, c.In)
	}
	space, err := recordsSpace(recs, c.Space)
	if err != nil {
		return err
	}
	p, err := search.TrainPredictor(space, recs, search.TrainOptions{Hidden: c.Hidden, Depth: c.Layers, Epochs: c.Epochs, Batch: c.Batch, LR: c.LR, WeightDecay: c.WD, Seed: c.Seed})
	if err != nil {
		return err
	}
	if err := p.Save(c.Out); err != nil {
		return err
	}
	if c.JSON {
		return json.NewEncoder(e.stdout).Encode(map[string]any{"file": c.Out, "train_records": p.Train, "held_out_records": p.Held, "rmse": p.RMSE, "mean_top1": p.Mean})
	}
	fmt.Fprintf(e.stdout, "wrote %s: trained on %d subnets, RMSE %.3f points of top-1 on %d held-out subnets (mean top-1 %.2f%%)\n", c.Out, p.Train, 100*p.RMSE, p.Held, 100*p.Mean)
	return nil
}

// recordsSpace returns the named space every record belongs to. With auto
// that is the space the records name (ofac accuracy-data writes it), or for
// older records that name none, the first in name order that they all fit.
func recordsSpace(recs []search.Record, name string) (ofa.SearchSpace, error) {
	named := ""
	for _, r := range recs {
		if r.Space == "" {
			continue
		}
		if named != "" && r.Space != named {
			return ofa.SearchSpace{}, fmt.Errorf("the records come from two search spaces, %s and %s: keep one supernet's records in a file", named, r.Space)
		}
		named = r.Space
	}
	if named != "" && name != "auto" && name != named {
		return ofa.SearchSpace{}, usageError{fmt.Errorf("--space %s: the records were measured on a supernet of the %s space", name, named)}
	}
	if named != "" {
		name = named
	}
	names := []string{name}
	if name == "auto" {
		names = names[:0]
		for n := range ofa.Spaces {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	var problems []string
	for _, n := range names {
		sp := ofa.Spaces[n]
		ok := true
		for _, r := range recs {
			if err := sp.Validate(r.Arch); err != nil {
				ok = false
				problems = append(problems, n+": "+err.Error())
				break
			}
		}
		if ok {
			return sp, nil
		}
	}
	return ofa.SearchSpace{}, fmt.Errorf("the records fit no search space (%s)", strings.Join(problems, "; "))
}
