// Command predict prints an accuracy predictor's top-1 for chosen subnets,
// to set it beside what `ofac eval --split val` measures: the search sees
// only the prediction, so a subnet it passes over may be one the predictor
// misranks (MODELS.md, ps16: the smallest subnet at 24 pixels under
// mcu-m7 at 80 ms).
//
//	go run ./bench/predict models/predictor.json smallest random:3 arch.json
//
// An argument ending in .jsonl is a file of accuracy records: for it the
// predictor's error (predicted minus measured) is printed by subnet size,
// in three bands of the number of blocks the subnet runs, so a predictor's
// misses at the small or the large end show apart from its overall RMSE.
// Records the predictor was trained on flatter it; give it a file it has not
// seen.
package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/ofac-dev/ofac/search"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: predict PREDICTOR.json ARCH... (largest, smallest, random:SEED or a JSON file)")
		os.Exit(2)
	}
	if err := predict(os.Stdout, os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "predict:", err)
		os.Exit(1)
	}
}

// predict writes one line per arch: the choice as given and the
// predicted top-1 in percent.
func predict(w io.Writer, predictor string, choices []string) error {
	p, err := search.LoadPredictor(predictor)
	if err != nil {
		return err
	}
	for _, c := range choices {
		if strings.HasSuffix(c, ".jsonl") {
			if err := errorBySize(w, p, c); err != nil {
				return err
			}
			continue
		}
		a, err := p.Space.ResolveArch(c)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%s\t%.2f%%\n", c, 100*p.Predict(a))
	}
	return nil
}

// errorBySize writes, for the records in path, one line per band of subnet
// size (blocks run, in three bands from the fewest to the most) with the
// count, the mean error and the RMSE in points of top-1.
func errorBySize(w io.Writer, p *search.Predictor, path string) error {
	recs, err := search.ReadRecords(path)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fmt.Errorf("%s holds no accuracy records", path)
	}
	sp := &p.Space
	archs := make([]ofa.Arch, len(recs))
	for i, r := range recs {
		// The default and fine spaces take the same archs: only the name
		// the records carry tells a predictor of the other space.
		if r.Space != "" && r.Space != sp.Name() {
			return fmt.Errorf("%s: records of the %s space, and the predictor is of the %s space", path, r.Space, sp.Name())
		}
		if err := sp.Validate(r.Arch); err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		archs[i] = r.Arch
	}
	lo, hi := sp.Depths[0]*len(sp.Stages), sp.MaxDepth()*len(sp.Stages)
	band := func(blocks int) int { return (blocks - lo) * 3 / (hi - lo + 1) }
	var n [3]int
	var sum, sq [3]float64
	for i, pred := range p.PredictBatch(archs) {
		b := band(blocks(archs[i]))
		e := 100 * (pred - recs[i].Top1)
		n[b]++
		sum[b] += e
		sq[b] += e * e
	}
	for b := range 3 {
		from, to := hi, lo
		for k := lo; k <= hi; k++ {
			if band(k) == b {
				from, to = min(from, k), max(to, k)
			}
		}
		if n[b] == 0 {
			fmt.Fprintf(w, "%s\tblocks %d-%d\tno records\n", path, from, to)
			continue
		}
		fmt.Fprintf(w, "%s\tblocks %d-%d\t%d records\tmean error %+.2f\tRMSE %.2f\n", path, from, to, n[b], sum[b]/float64(n[b]), math.Sqrt(sq[b]/float64(n[b])))
	}
	return nil
}

// blocks is how many MBConv blocks a runs: the sum of its stage depths.
func blocks(a ofa.Arch) int {
	n := 0
	for _, d := range a.D {
		n += d
	}
	return n
}
