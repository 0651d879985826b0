// Command average-ckpt averages the weights of supernet checkpoints of one
// run (stochastic weight averaging, Izmailov et al., 2018), to measure
// whether the mean of a phase's last epochs beats its last epoch:
//
//	go run ./bench/average-ckpt -o avg.ckpt snap/expand2-3.ckpt snap/expand2-4.ckpt snap/expand2-5.ckpt
//	ofac eval --supernet avg.ckpt --arch largest
//
// Only the trained parameters are averaged. Batch-norm statistics are those
// of the last checkpoint; every command that evaluates a subnet recomputes
// them on training images first, which is what an average of weights needs.
// The checkpoints must come from one phase of one run: a phase that sorts
// channels permutes them at its start, and weights of two orders do not
// average into anything.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/ofac-dev/ofac/supernet/train"
)

func main() {
	out := flag.String("o", "", "where to write the averaged checkpoint (weights only)")
	flag.Parse()
	if *out == "" || flag.NArg() < 2 {
		fmt.Fprintln(os.Stderr, "usage: average-ckpt -o OUT CKPT CKPT...")
		os.Exit(2)
	}
	if err := average(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "average-ckpt:", err)
		os.Exit(1)
	}
}

func average(out string, paths []string) error {
	var sum [][]float64
	var first, last *train.Checkpoint
	for _, p := range paths {
		ck, err := train.LoadCheckpoint(p)
		if err != nil {
			return err
		}
		params := ck.Net.Params()
		if first == nil {
			first = ck
			sum = make([][]float64, len(params))
			for i, q := range params {
				sum[i] = make([]float64, len(q.Data))
			}
		}
		if len(params) != len(sum) || ck.Net.Space.Name() != first.Net.Space.Name() {
			return fmt.Errorf("%s: not the same network as %s", p, paths[0])
		}
		for i, q := range params {
			if len(q.Data) != len(sum[i]) {
				return fmt.Errorf("%s: parameter %d has %d values, %s has %d", p, i, len(q.Data), paths[0], len(sum[i]))
			}
			for j, v := range q.Data {
				sum[i][j] += float64(v)
			}
		}
		last = ck
	}
	for i, q := range last.Net.Params() {
		for j := range q.Data {
			q.Data[j] = float32(sum[i][j] / float64(len(paths)))
		}
	}
	last.Release()
	if err := last.Save(out); err != nil {
		return err
	}
	fmt.Printf("wrote %s: the mean of %d checkpoints' weights\n", out, len(paths))
	return nil
}
