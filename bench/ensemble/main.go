// Command ensemble measures whether an ensemble of trained networks would
// make a stronger distillation teacher than its best member: it prints each
// member's top-1 and the top-1 of the members' mean softmax, on the test set
// or the validation split.
//
//	go run ./bench/ensemble runs/ps12/full.ckpt runs/t2/full.ckpt
//	go run ./bench/ensemble -split val runs/ps12/full.ckpt runs/ps16/supernet.ckpt@l20.json
//
// A member is a checkpoint, evaluated at its largest subnet, or
// CHECKPOINT@ARCH for another subnet (largest, smallest, random:SEED or a
// JSON file). Batch norm is recalibrated on training images first, as
// ofac eval does, so a member's figure is the one ofac eval prints. With
// -flip every member also votes on the mirror image of every image (the
// training augmentation flips, so a network knows both): a second opinion
// of one network, for the price of a second forward pass.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/nn"
	"github.com/ofac-dev/ofac/supernet/tensor"
	"github.com/ofac-dev/ofac/supernet/train"
)

func main() {
	split := flag.String("split", "test", "data to measure on: test or val")
	dir := flag.String("data", "", "folder with the Fashion-MNIST files (default: the Debian package's)")
	flip := flag.Bool("flip", false, "each member also votes on the mirrored images")
	flag.Parse()
	if flag.NArg() < 1 || (flag.NArg() < 2 && !*flip) || (*split != "test" && *split != "val") {
		fmt.Fprintln(os.Stderr, "usage: ensemble [-split test|val] [-data DIR] [-flip] CKPT[@ARCH]... (two or more, or one with -flip)")
		os.Exit(2)
	}
	if err := run(*dir, *split, *flip, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "ensemble:", err)
		os.Exit(1)
	}
}

// calibImages and batch are those of ofac eval.
const (
	calibImages = 2000
	batch       = 128
)

func run(dir, split string, flip bool, members []string) error {
	splits, err := data.Load(dir)
	if err != nil {
		return err
	}
	var (
		set   *data.Dataset
		setOf string // the member whose validation split set is
		probs []*tensor.Tensor
	)
	for _, m := range members {
		path, choice, _ := strings.Cut(m, "@")
		if choice == "" {
			choice = "largest"
		}
		ck, err := train.LoadCheckpoint(path)
		if err != nil {
			return err
		}
		a, err := ck.Net.Space.ResolveArch(choice)
		if err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
		// Each member recalibrates on its own training images, as ofac
		// eval does; on the validation split, all must hold out the same.
		own, err := splits.HoldOut(ck.Config.ValImages)
		if err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
		switch {
		case split != "val":
			set = splits.Test
		case set == nil:
			set, setOf = own.Val, m
		case own.Val.Len() != set.Len():
			return fmt.Errorf("%s holds out %d validation images, %s %d: compare them on the test split", m, own.Val.Len(), setOf, set.Len())
		}
		stats := train.Recalibrate(ck.Net, a, own.Train, calibImages, batch)
		p := nn.Softmax(tensor.NewArena(0), train.Logits(ck.Net, a, stats, set, batch))
		fmt.Printf("%-40s %s top-1 %.2f%%\n", m, split, 100*train.Top1(p, set.Labels))
		probs = append(probs, p)
		if flip {
			q := nn.Softmax(tensor.NewArena(0), train.Logits(ck.Net, a, stats, mirrored(set), batch))
			fmt.Printf("%-40s %s top-1 %.2f%% mirrored, %.2f%% with its mirror\n", m, split, 100*train.Top1(q, set.Labels),
				100*train.Top1(meanRows([]*tensor.Tensor{p, q}), set.Labels))
			probs = append(probs, q)
		}
	}
	fmt.Printf("%-40s %s top-1 %.2f%% (mean softmax of %d)\n", "ensemble", split, 100*train.Top1(meanRows(probs), set.Labels), len(probs))
	return nil
}

// mirrored is set with every image flipped left to right.
func mirrored(set *data.Dataset) *data.Dataset {
	m := *set
	m.Pix = make([]uint8, len(set.Pix))
	for i := 0; i < len(set.Pix); i += set.Cols {
		for x := range set.Cols {
			m.Pix[i+x] = set.Pix[i+set.Cols-1-x]
		}
	}
	return &m
}

// meanRows is the element-wise mean of equally shaped tensors.
func meanRows(ts []*tensor.Tensor) *tensor.Tensor {
	out := tensor.New(ts[0].Shape...)
	data := make([][]float32, len(ts))
	for i, t := range ts {
		data[i] = t.Data
	}
	tensor.MeanOf(out.Data, data...)
	return out
}
