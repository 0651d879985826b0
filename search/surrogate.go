package search

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	"github.com/ofac-dev/ofac/supernet/ofa"
)

// LinearCost is a fast stand-in for an exact cost model: every figure is
// a linear function of structural features of the arch (per stage, the
// spatial-area-weighted and unweighted sums of k*k*e, e and block counts;
// one intercept per resolution), fitted by ridge least squares to exact
// estimates of probe archs.
//
// It exists because one exact estimate compiles the subnet (extract,
// passes, int8 calibration, memory plan, backend planner) in about 60 ms,
// and the default search asks for ~27,000 of them. The search runs on the
// surrogate and VerifiedEvolve prices its final population with the exact
// model, so what ofac reports and builds is always an exact figure.
type LinearCost struct {
	space *ofa.SearchSpace
	keys  []string
	coef  map[string][]float64
	log   map[string]bool // the figure's logarithm is what is linear
	// Fit is the largest relative error, per figure, over the probes.
	Fit map[string]float64
}

// features returns the surrogate's inputs for a (its length is the same
// for every arch of the space).
func features(space *ofa.SearchSpace, a ofa.Arch) []float64 {
	rmax := 0
	for _, r := range space.Resolutions {
		rmax = max(rmax, r)
	}
	var f []float64
	for _, r := range space.Resolutions {
		f = append(f, b2f(a.R == r))
	}
	side := float64(a.R) / float64(rmax)
	per := space.MaxDepth()
	for s, st := range space.Stages {
		side /= float64(st.Stride)
		area := side * side
		var rest [6]float64 // area*k2e, area*e, area, k2e, e, 1 over non-first blocks
		var first [4]float64
		for j := 0; j < a.D[s]; j++ {
			k, e := float64(a.KS[s*per+j]), float64(a.E[s*per+j])
			if j == 0 {
				first = [4]float64{area * k * k * e, area * e, k * k * e, e}
				continue
			}
			v := [6]float64{area * k * k * e, area * e, area, k * k * e, e, 1}
			for i := range rest {
				rest[i] += v[i]
			}
		}
		f = append(f, first[:]...)
		f = append(f, rest[:]...)
	}
	return f
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Cost implements CostModel. Figures the exact model reported for every
// probe are predicted; no negative figure is returned.
func (m *LinearCost) Cost(a ofa.Arch) (Cost, error) {
	f := features(m.space, a)
	c := Cost{Resources: map[string]float64{}}
	for _, k := range m.keys {
		v := 0.0
		for i, w := range m.coef[k] {
			v += w * f[i]
		}
		if m.log[k] {
			v = math.Exp(v)
		}
		v = math.Max(v, 0)
		if k == LatencyKey {
			c.LatencyMs = v
		} else {
			c.Resources[k] = v
		}
	}
	return c, nil
}

// DefaultProbes is how many subnets FitLinearCost prices exactly by default.
const DefaultProbes = 64

// FitLinearCost prices probes archs of space with exact (on workers
// goroutines, GOMAXPROCS when 0) and fits a LinearCost to every figure they all report. The
// probes are the smallest and largest subnet at each resolution and
// random ones drawn from seed.
func FitLinearCost(space *ofa.SearchSpace, exact CostModel, probes int, seed uint64, workers int) (*LinearCost, error) {
	var archs []ofa.Arch
	for _, r := range space.Resolutions {
		lo, hi := space.Smallest(), space.Largest()
		lo.R, hi.R = r, r
		archs = append(archs, lo, hi)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5077))
	for len(archs) < probes {
		archs = append(archs, space.Random(rng))
	}
	costs, err := costParallel(exact, archs, workers)
	if err != nil {
		return nil, err
	}
	keys := []string{LatencyKey}
	for k := range costs[0].Resources {
		all := true
		for _, c := range costs {
			if _, ok := c.Resources[k]; !ok {
				all = false
			}
		}
		if all {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys[1:])
	x := make([][]float64, len(archs))
	for i, a := range archs {
		x[i] = features(space, a)
	}
	m := &LinearCost{space: space, keys: keys, coef: map[string][]float64{}, log: map[string]bool{}, Fit: map[string]float64{}}
	for _, k := range keys {
		y := make([]float64, len(archs))
		for i, c := range costs {
			y[i], _ = c.Value(k)
		}
		// Some figures are sums over layers (linear in the features),
		// others come out of a planner that trades resources against
		// cycles (closer to products): fit both ways, keep the closer.
		for _, log := range []bool{false, true} {
			w, fit, err := fitFigure(x, y, log)
			if err != nil {
				return nil, fmt.Errorf("fitting the %s surrogate: %w", k, err)
			}
			if w != nil && (m.coef[k] == nil || fit < m.Fit[k]) {
				m.coef[k], m.Fit[k], m.log[k] = w, fit, log
			}
		}
	}
	return m, nil
}

// fitFigure fits y (or log y) to x and returns the weights and the
// largest relative error over the rows; nil weights when log is asked and
// some y is not positive.
func fitFigure(x [][]float64, y []float64, log bool) ([]float64, float64, error) {
	t := y
	if log {
		t = make([]float64, len(y))
		for i, v := range y {
			if !(v > 0) {
				return nil, 0, nil
			}
			t[i] = math.Log(v)
		}
	}
	w, err := ridge(x, t, 1e-6)
	if err != nil {
		return nil, 0, err
	}
	worst := 0.0
	for i, row := range x {
		p := 0.0
		for j, wj := range w {
			p += wj * row[j]
		}
		if log {
			p = math.Exp(p)
		}
		if y[i] != 0 {
			worst = math.Max(worst, math.Abs(p-y[i])/math.Abs(y[i]))
		}
	}
	return w, worst, nil
}

// ridge solves min |Xw - y|^2 + lambda*trace-scaled |w|^2 by Cholesky on
// the normal equations: the systems here have a few dozen unknowns.
func ridge(x [][]float64, y []float64, lambda float64) ([]float64, error) {
	n := len(x[0])
	a := make([][]float64, n)
	b := make([]float64, n)
	for i := range a {
		a[i] = make([]float64, n)
	}
	for r, row := range x {
		for i, xi := range row {
			b[i] += xi * y[r]
			for j, xj := range row {
				a[i][j] += xi * xj
			}
		}
	}
	tr := 0.0
	for i := range a {
		tr += a[i][i]
	}
	for i := range a {
		a[i][i] += lambda*tr/float64(n) + 1e-12
	}
	// Cholesky: a = L L^T, in place in the lower triangle.
	for j := 0; j < n; j++ {
		s := a[j][j]
		for k := 0; k < j; k++ {
			s -= a[j][k] * a[j][k]
		}
		if !(s > 0) {
			return nil, errors.New("the normal equations are not positive definite")
		}
		a[j][j] = math.Sqrt(s)
		for i := j + 1; i < n; i++ {
			s := a[i][j]
			for k := 0; k < j; k++ {
				s -= a[i][k] * a[j][k]
			}
			a[i][j] = s / a[j][j]
		}
	}
	z := make([]float64, n)
	for i := 0; i < n; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= a[i][k] * z[k]
		}
		z[i] = s / a[i][i]
	}
	w := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		s := z[i]
		for k := i + 1; k < n; k++ {
			s -= a[k][i] * w[k]
		}
		w[i] = s / a[i][i]
	}
	return w, nil
}

// costParallel prices archs with cm on workers goroutines (GOMAXPROCS
// when below 1), in order.
func costParallel(cm CostModel, archs []ofa.Arch, workers int) ([]Cost, error) {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([]Cost, len(archs))
	errs := make([]error, len(archs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(archs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i], errs[i] = cm.Cost(archs[i])
			}
		}()
	}
	for i := range archs {
		next <- i
	}
	close(next)
	wg.Wait()
	// One error, not hundreds: a model that fails one probe usually fails
	// them all the same way.
	first, failed := -1, 0
	for i, err := range errs {
		if err != nil {
			failed++
			if first < 0 {
				first = i
			}
		}
	}
	switch {
	case failed == 1:
		return nil, fmt.Errorf("subnet %s: %w", archs[first].JSON(), errs[first])
	case failed > 1:
		return nil, fmt.Errorf("subnet %s: %w (and %d more subnets failed)", archs[first].JSON(), errs[first], failed-1)
	}
	return out, nil
}

// PolishCalls caps the exact estimates of the climb from the evolution's best.
const PolishCalls = 96

// VerifiedEvolve searches on the fast surrogate approx, then prices the
// whole final population with exact and takes the most accurate subnet
// whose exact cost meets cons, then climbs on the exact model from it
// (PolishCalls estimates at most): the surrogate leaves slack. When no
// subnet of the population fits, the surrogate's budgets are tightened by
// how far it was off and the search runs again (at most rounds times);
// after that the answer comes from hill climbs on the exact model from the
// smallest subnets (Result.Fallback). Near the floor, where the evolution
// had to start from the smallest subnet (Result.NearFloor), those climbs
// run too and the better answer wins; away from it, one climb runs from
// the smallest subnet at the best resolution when that beats the answer
// (climbFromBetterCorner). Every cost in the result is exact;
// CostCalls and Predictions are those of the last run on the surrogate and
// the climbs (the exact model counts its own estimates).
func VerifiedEvolve(space *ofa.SearchSpace, acc AccuracyModel, exact, approx CostModel, cons Constraints, o Options, rounds int) (*Result, error) {
	o = o.withDefaults()
	if _, err := CheckFeasible(space, exact, cons, ""); err != nil {
		return nil, err
	}
	budget := Constraints{}
	for k, v := range cons {
		budget[k] = v
	}
	smallest, err := approx.Cost(Minimal(space))
	if err != nil {
		return nil, err
	}
	for round := 0; round < rounds; round++ {
		// Tightening must not push a budget below what the surrogate says
		// the smallest subnet (which exact accepted) costs.
		for k := range budget {
			v, _ := smallest.Value(k)
			budget[k] = math.Max(budget[k], v)
		}
		res, err := Evolve(space, acc, approx, budget, o)
		if errors.Is(err, ErrGaveUp) {
			break // tighter budgets only make it rarer
		}
		if err != nil && !IsInfeasible(err) {
			return nil, err
		}
		if err == nil {
			archs := make([]ofa.Arch, len(res.Population))
			for i, c := range res.Population {
				archs[i] = c.Arch
			}
			costs, err := costParallel(exact, archs, o.Workers)
			if err != nil {
				return nil, err
			}
			var fit []Candidate
			worst := map[string]float64{}
			for i := range res.Population {
				c := res.Population[i]
				sur := c.Cost
				c.Cost = costs[i]
				if cons.Fits(c.Cost) {
					fit = append(fit, c)
				}
				for _, k := range cons.Names() {
					e, _ := c.Cost.Value(k)
					s, _ := sur.Value(k)
					if s > 0 {
						worst[k] = math.Max(worst[k], e/s)
					}
				}
			}
			if len(fit) > 0 {
				sortPop(fit)
				more, _, predicted, err := climbExact(space, acc, exact, cons, fit[0], PolishCalls, o.Workers)
				if err != nil {
					return nil, err
				}
				fit = dedupe(space, append(fit, more[1:]...))
				sortPop(fit)
				res.Population, res.Best = fit, fit[0]
				res.Predictions += predicted
				if !res.NearFloor {
					return climbFromBetterCorner(space, acc, exact, cons, res, o.Workers)
				}
				// The evolution started from the smallest subnet, on a
				// surrogate that is far off there: the climbs from the
				// smallest subnets may do better (fpga-zu9 at 2 ms: 91.76%
				// predicted against the evolution's 91.38%).
				climbed, err := climbFromSmallest(space, acc, exact, cons, o.Workers)
				if err != nil {
					return nil, err
				}
				return adoptClimbs(space, res, climbed.Population, climbed.Predictions), nil
			}
			for k, r := range worst {
				if r > 1 {
					budget[k] /= r
				}
			}
		}
	}
	res, err := climbFromSmallest(space, acc, exact, cons, o.Workers)
	if err != nil {
		return nil, err
	}
	res.Fallback = true
	return res, nil
}

// climbFromBetterCorner prices the smallest subnet at each resolution (one
// exact estimate each) and, when one that fits predicts better than the
// evolution's answer res, climbs from it on the exact model (PolishCalls
// estimates at most) and keeps the better of the two. Small subnets at a
// higher resolution can beat larger ones at a lower, and the evolution on
// the surrogate rarely keeps them (mcu-m7 at 100 ms on ps16: an r20 subnet
// predicted at 91.06%, where the smallest at 24 pixels predicts 91.16% and
// fits, and the climb from it reaches 91.68%); without this a larger budget
// could answer worse than a smaller one, whose search started at the floor.
func climbFromBetterCorner(space *ofa.SearchSpace, acc AccuracyModel, exact CostModel, cons Constraints, res *Result, workers int) (*Result, error) {
	corners, err := smallestFitting(space, acc, exact, cons)
	if err != nil {
		return nil, err
	}
	res.Predictions += corners.Predictions
	if corners.Best.Accuracy <= res.Best.Accuracy {
		return res, nil
	}
	more, _, predicted, err := climbExact(space, acc, exact, cons, corners.Best, PolishCalls, workers)
	if err != nil {
		return nil, err
	}
	return adoptClimbs(space, res, more, predicted), nil
}

// adoptClimbs merges the subnets climbs found (predictions made on the way)
// into the evolution's answer res; Fallback says whether one of them won.
func adoptClimbs(space *ofa.SearchSpace, res *Result, climbed []Candidate, predictions int) *Result {
	pop := dedupe(space, append(res.Population, climbed...))
	sortPop(pop)
	res.Fallback = Key(space, pop[0].Arch) != Key(space, res.Best.Arch)
	res.Population, res.Best = pop, pop[0]
	res.Predictions += predictions
	return res
}

// climbFromSmallest climbs on the exact model from the smallest subnet at
// each resolution that fits, the estimates (ClimbCalls) shared evenly: a
// greedy climb from the best start alone can spend the budget on the
// resolution and stop short of a cheaper start's climb (fpga-zu9 at 2 ms:
// 91.17% predicted from 28 pixels, 91.30% from 24).
func climbFromSmallest(space *ofa.SearchSpace, acc AccuracyModel, exact CostModel, cons Constraints, workers int) (*Result, error) {
	res, err := smallestFitting(space, acc, exact, cons)
	if err != nil {
		return nil, err
	}
	pop := res.Population
	for _, start := range res.Population {
		fit, _, predicted, err := climbExact(space, acc, exact, cons, start, ClimbCalls/len(res.Population), workers)
		if err != nil {
			return nil, err
		}
		pop = append(pop, fit[1:]...)
		res.Predictions += predicted
	}
	pop = dedupe(space, pop)
	sortPop(pop)
	res.Population, res.Best = pop, pop[0]
	return res, nil
}

// smallestFitting returns the starts of climbFromSmallest: the space's
// smallest subnet at each resolution, priced exactly, those that fit, most
// accurate first. The lowest resolution's, which CheckFeasible accepted,
// always fits; a higher one may too when the budget is not at the floor,
// and is worth more accuracy (fpga-zu9 at 1.5 ms with ps11: the smallest
// subnet at 28 pixels costs 1.25 ms).
func smallestFitting(space *ofa.SearchSpace, acc AccuracyModel, exact CostModel, cons Constraints) (*Result, error) {
	archs := []ofa.Arch{Minimal(space)}
	for _, r := range space.Resolutions {
		if r != archs[0].R {
			a := space.Smallest()
			a.R = r
			archs = append(archs, a)
		}
	}
	preds := acc.PredictBatch(archs)
	var fit []Candidate
	for i, a := range archs {
		c, err := exact.Cost(a)
		if err != nil {
			return nil, err
		}
		if cons.Fits(c) {
			fit = append(fit, Candidate{Arch: a, Accuracy: preds[i], Cost: c})
		}
	}
	if len(fit) == 0 {
		return nil, fmt.Errorf("search: no subnet fits %s", cons) // CheckFeasible passed Minimal: unreachable
	}
	sortPop(fit)
	return &Result{Best: fit[0], Population: fit, Predictions: len(archs)}, nil
}
