package search

import (
	"slices"

	"github.com/ofac-dev/ofac/supernet/ofa"
)

// ClimbCalls caps the exact estimates the fallback's climb makes: about 25 s
// at 60 ms an estimate on one core, a fraction of a default search.
const ClimbCalls = 400

// climbBatch is how many neighbours the climb prices at once, best predicted
// first. It does not depend on the worker count, so the answer does not either.
const climbBatch = 8

// climbExact is a hill climb on the exact cost model, for budgets where the
// surrogate cannot steer the evolution (a tight FPGA budget, where the
// planner's resource trades are far from linear). From start, which fits,
// it moves to the neighbour (one block's kernel or expand ratio, one stage's
// depth, or the resolution changed) with the best predicted accuracy among
// those that beat the current subnet and fit by the exact model, pricing
// candidates climbBatch at a time, best predicted first, until no neighbour
// improves or calls exact estimates are spent. It returns every subnet it
// priced that fits, start first, and how many it priced and predicted.
func climbExact(space *ofa.SearchSpace, acc AccuracyModel, exact CostModel, cons Constraints, start Candidate, calls, workers int) (fit []Candidate, priced, predicted int, err error) {
	cur := start
	fit = []Candidate{start}
	seen := map[string]bool{Key(space, start.Arch): true}
	made := 0
	for made < calls {
		var next []ofa.Arch
		for _, a := range neighbours(space, cur.Arch) {
			if k := Key(space, a); !seen[k] {
				seen[k] = true
				next = append(next, a)
			}
		}
		preds := acc.PredictBatch(next)
		predicted += len(next)
		var better []Candidate
		for i, a := range next {
			if preds[i] > cur.Accuracy {
				better = append(better, Candidate{Arch: a, Accuracy: preds[i]})
			}
		}
		sortPop(better)
		moved := false
		for off := 0; off < len(better) && made < calls && !moved; off += climbBatch {
			batch := better[off:min(off+climbBatch, len(better), off+calls-made)]
			archs := make([]ofa.Arch, len(batch))
			for i, c := range batch {
				archs[i] = c.Arch
			}
			costs, err := costParallel(exact, archs, workers)
			if err != nil {
				return nil, made, predicted, err
			}
			made += len(batch)
			for i := range batch {
				c := batch[i]
				c.Cost = costs[i]
				if !cons.Fits(c.Cost) {
					continue
				}
				fit = append(fit, c)
				if !moved { // batch is best first: the first that fits is the move
					cur, moved = c, true
				}
			}
		}
		if !moved {
			break
		}
	}
	return fit, made, predicted, nil
}

// neighbours returns the archs one choice away from a: each active block's
// kernel or expand ratio, each stage's depth one step either way, or the
// resolution. A block a deeper stage opens takes the smallest choices.
func neighbours(space *ofa.SearchSpace, a ofa.Arch) []ofa.Arch {
	base := clone(a)
	canonical(space, &base)
	var out []ofa.Arch
	per := space.MaxDepth()
	for st := range space.Stages {
		for j := 0; j < base.D[st]; j++ {
			i := st*per + j
			for _, k := range space.Kernels {
				if k != base.KS[i] {
					n := clone(base)
					n.KS[i] = k
					out = append(out, n)
				}
			}
			for _, e := range space.Expands {
				if e != base.E[i] {
					n := clone(base)
					n.E[i] = e
					out = append(out, n)
				}
			}
		}
		d := slices.Index(space.Depths, base.D[st])
		for _, nd := range []int{d - 1, d + 1} {
			if nd >= 0 && nd < len(space.Depths) {
				n := clone(base)
				n.D[st] = space.Depths[nd]
				out = append(out, n)
			}
		}
	}
	for _, r := range space.Resolutions {
		if r != base.R {
			n := clone(base)
			n.R = r
			out = append(out, n)
		}
	}
	for i := range out {
		canonical(space, &out[i])
	}
	return out
}

func clone(a ofa.Arch) ofa.Arch {
	return ofa.Arch{KS: slices.Clone(a.KS), E: slices.Clone(a.E), D: slices.Clone(a.D), R: a.R}
}
