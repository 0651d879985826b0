package search

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	"github.com/ofac-dev/ofac/supernet/ofa"
)

// AccuracyModel predicts the top-1 accuracy of many archs at once.
// *Predictor implements it.
type AccuracyModel interface {
	PredictBatch(archs []ofa.Arch) []float64
}

// Options are the evolutionary search's settings; zero values mean the
// reference's defaults.
type Options struct {
	Population   int     // 100
	ParentRatio  float64 // 0.25: the best quarter survives and breeds
	MutateRatio  float64 // 0.5: half the children are mutants, half crossovers
	MutateProb   float64 // 0.1 per block and per stage depth
	ResMutate    float64 // 0.5 for the resolution
	Generations  int     // 500
	Seed         uint64
	Workers      int // cost estimates in parallel (GOMAXPROCS)
	MaxRejection int // proposals per wanted feasible child before giving up (1000)
	// Progress, if set, is called after each generation.
	Progress func(gen, total int)
}

func (o Options) withDefaults() Options {
	if o.Population == 0 {
		o.Population = 100
	}
	if o.ParentRatio == 0 {
		o.ParentRatio = 0.25
	}
	if o.MutateRatio == 0 {
		o.MutateRatio = 0.5
	}
	if o.MutateProb == 0 {
		o.MutateProb = 0.1
	}
	if o.ResMutate == 0 {
		o.ResMutate = 0.5
	}
	if o.Generations == 0 {
		o.Generations = 500
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxRejection == 0 {
		o.MaxRejection = 1000
	}
	return o
}

func (o Options) check() error {
	switch {
	case o.Population < 2:
		return fmt.Errorf("population %d must be at least 2", o.Population)
	case !(o.ParentRatio > 0 && o.ParentRatio <= 1):
		return fmt.Errorf("parent ratio %g must be in (0, 1]", o.ParentRatio)
	case !(o.MutateRatio >= 0 && o.MutateRatio <= 1):
		return fmt.Errorf("mutation ratio %g must be in [0, 1]", o.MutateRatio)
	case !(o.MutateProb >= 0 && o.MutateProb <= 1), !(o.ResMutate >= 0 && o.ResMutate <= 1):
		return fmt.Errorf("mutation probabilities %g and %g must be in [0, 1]", o.MutateProb, o.ResMutate)
	case o.Generations < 0:
		return fmt.Errorf("generations %d must not be negative", o.Generations)
	case o.Workers < 1 || o.MaxRejection < 1:
		return fmt.Errorf("workers and max rejection must be at least 1")
	}
	return nil
}

// Candidate is one evaluated subnet.
type Candidate struct {
	Arch ofa.Arch `json:"arch"`
	// Accuracy is the predicted top-1 (a fraction).
	Accuracy float64 `json:"predicted_top1"`
	Cost     Cost    `json:"cost"`
}

// Result is what a search found.
type Result struct {
	Best Candidate `json:"best"`
	// Population is the final population, best first.
	Population []Candidate `json:"population"`
	// History is the best predicted accuracy after each generation.
	History []float64 `json:"history"`
	// CostCalls and Predictions count the distinct archs costed and
	// predicted (cache misses).
	CostCalls   int `json:"cost_calls"`
	Predictions int `json:"predictions"`
	// NearFloor is set when uniform draws could not fill the first
	// population and the evolution started from mutants of the smallest
	// subnet instead.
	NearFloor bool `json:"near_floor,omitempty"`
	// Fallback is set when the answer is one of VerifiedEvolve's exact hill
	// climbs from the smallest subnets, not the evolution's.
	Fallback bool `json:"fallback,omitempty"`
}

// ErrGaveUp says the search could not fill its population with subnets
// that meet the budget (Options.MaxRejection proposals per place).
var ErrGaveUp = errors.New("search gave up")

// InfeasibleError says a budget cannot be met by any subnet: not even the
// smallest subnet at the smallest resolution fits.
type InfeasibleError struct {
	Name     string  // constraint
	Budget   float64 // asked
	Smallest float64 // what the smallest subnet needs
	Target   string
}

func (e *InfeasibleError) Error() string {
	t := ""
	if e.Target != "" {
		t = " on " + e.Target
	}
	return fmt.Sprintf("no subnet fits %s <= %s%s: the smallest subnet at the smallest resolution needs %s (checked by estimating it)",
		e.Name, FormatValue(e.Name, e.Budget), t, FormatValue(e.Name, e.Smallest))
}

// Minimal is the smallest subnet of the space at its smallest resolution:
// the cheapest arch on every cost model ofac has.
func Minimal(space *ofa.SearchSpace) ofa.Arch {
	a := space.Smallest()
	a.R = space.Resolutions[0]
	for _, r := range space.Resolutions {
		a.R = min(a.R, r)
	}
	return a
}

// Key is the cache key of a: its canonical JSON, with slots past each
// stage's depth (which no model reads) set to the smallest choices.
func Key(space *ofa.SearchSpace, a ofa.Arch) string {
	c := ofa.Arch{KS: append([]int(nil), a.KS...), E: append([]int(nil), a.E...), D: a.D, R: a.R}
	canonical(space, &c)
	return c.JSON()
}

// CheckFeasible fails with an *InfeasibleError when the smallest subnet
// breaks a constraint.
func CheckFeasible(space *ofa.SearchSpace, cm CostModel, cons Constraints, target string) (Cost, error) {
	c, err := cm.Cost(Minimal(space))
	if err != nil {
		return Cost{}, err
	}
	for _, k := range cons.Names() {
		v, ok := c.Value(k)
		if !ok {
			return Cost{}, fmt.Errorf("the cost model of %s reports no %s", target, k)
		}
		if v > cons[k] {
			return Cost{}, &InfeasibleError{Name: k, Budget: cons[k], Smallest: v, Target: target}
		}
	}
	return c, nil
}

// searcher holds one search's state.
type searcher struct {
	space *ofa.SearchSpace
	acc   AccuracyModel
	cm    CostModel
	cons  Constraints
	o     Options
	rng   *rand.Rand
	costs map[string]Cost
	preds map[string]float64
}

// Evolve runs the constrained evolutionary search and returns the best
// feasible subnet by predicted accuracy. The result depends only on the
// inputs and o.Seed, not on o.Workers: children are proposed in a fixed
// order from one random stream, their costs computed in parallel, and the
// feasible ones taken in proposal order.
func Evolve(space *ofa.SearchSpace, acc AccuracyModel, cm CostModel, cons Constraints, o Options) (*Result, error) {
	o = o.withDefaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	if _, err := CheckFeasible(space, cm, cons, ""); err != nil {
		return nil, err
	}
	s := &searcher{space: space, acc: acc, cm: cm, cons: cons, o: o, rng: rand.New(rand.NewPCG(o.Seed, 0xe7017)),
		costs: map[string]Cost{}, preds: map[string]float64{}}
	parents := max(1, int(float64(o.Population)*o.ParentRatio+0.5))
	mutants := int(float64(o.Population)*o.MutateRatio + 0.5)
	crosses := o.Population - mutants

	pop, err := s.breed(o.Population, func() ofa.Arch { return space.Random(s.rng) })
	startedSmall := errors.Is(err, ErrGaveUp)
	if startedSmall {
		// Near the target's floor almost no uniform draw fits (fpga-zu9 at
		// 2 ms: 92 of 100,005). The subnets that do are the small ones, so
		// start from mutants of the smallest subnet instead.
		pop, err = s.breed(o.Population, func() ofa.Arch { return s.mutate(Minimal(space)) })
	}
	if err != nil {
		return nil, err
	}
	res := &Result{NearFloor: startedSmall}
	sortPop(pop)
	for gen := 0; gen < o.Generations; gen++ {
		par := pop[:min(parents, len(pop))]
		kids, err := s.breed(mutants, func() ofa.Arch { return s.mutate(par[s.rng.IntN(len(par))].Arch) })
		if err != nil {
			return nil, err
		}
		cross, err := s.breed(crosses, func() ofa.Arch {
			return s.crossover(par[s.rng.IntN(len(par))].Arch, par[s.rng.IntN(len(par))].Arch)
		})
		if err != nil {
			return nil, err
		}
		pop = append(append(append([]Candidate(nil), par...), kids...), cross...)
		sortPop(pop)
		res.History = append(res.History, pop[0].Accuracy)
		if o.Progress != nil {
			o.Progress(gen+1, o.Generations)
		}
	}
	res.Population = dedupe(space, pop)
	if len(res.Population) > o.Population {
		res.Population = res.Population[:o.Population]
	}
	res.Best = res.Population[0]
	res.CostCalls, res.Predictions = len(s.costs), len(s.preds)
	return res, nil
}

// sortPop orders by predicted accuracy, best first; ties by arch key so
// the order is total.
func sortPop(pop []Candidate) {
	sort.SliceStable(pop, func(i, j int) bool {
		if pop[i].Accuracy != pop[j].Accuracy {
			return pop[i].Accuracy > pop[j].Accuracy
		}
		return pop[i].Arch.JSON() < pop[j].Arch.JSON()
	})
}

func dedupe(space *ofa.SearchSpace, pop []Candidate) []Candidate {
	seen := map[string]bool{}
	var out []Candidate
	for _, c := range pop {
		k := Key(space, c.Arch)
		if !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out
}

// breed collects n feasible candidates from propose, rejecting infeasible
// proposals; costs of each round are computed in parallel.
func (s *searcher) breed(n int, propose func() ofa.Arch) ([]Candidate, error) {
	var out []Candidate
	limit := n * s.o.MaxRejection
	for tries := 0; len(out) < n; {
		if tries >= limit {
			return nil, fmt.Errorf("%w: %d of %d proposed subnets broke the budget (%s); it is barely reachable, relax it or raise the rejection limit", ErrGaveUp, tries-len(out), tries, s.cons)
		}
		want := n - len(out)
		batch := make([]ofa.Arch, want)
		for i := range batch {
			batch[i] = propose()
		}
		tries += want
		costs, err := s.costAll(batch)
		if err != nil {
			return nil, err
		}
		var ok []ofa.Arch
		var okCost []Cost
		for i, a := range batch {
			if s.cons.Fits(costs[i]) {
				ok = append(ok, a)
				okCost = append(okCost, costs[i])
			}
		}
		for i, p := range s.predict(ok) {
			out = append(out, Candidate{Arch: ok[i], Accuracy: p, Cost: okCost[i]})
		}
	}
	return out, nil
}

// costAll returns the cost of every arch, computing the missing ones on
// o.Workers goroutines.
func (s *searcher) costAll(archs []ofa.Arch) ([]Cost, error) {
	out := make([]Cost, len(archs))
	var todo []int
	first := map[string]int{}
	keys := make([]string, len(archs))
	for i, a := range archs {
		keys[i] = Key(s.space, a)
		if c, ok := s.costs[keys[i]]; ok {
			out[i] = c
		} else if _, dup := first[keys[i]]; !dup {
			first[keys[i]] = i
			todo = append(todo, i)
		}
	}
	errs := make([]error, len(archs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(s.o.Workers, len(todo)) {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = s.cm.Cost(archs[i])
			}
		})
	}
	for _, i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, i := range todo {
		if errs[i] != nil {
			return nil, fmt.Errorf("estimating %s: %w", archs[i].JSON(), errs[i])
		}
		s.costs[keys[i]] = out[i]
	}
	for i := range archs {
		out[i] = s.costs[keys[i]]
	}
	return out, nil
}

func (s *searcher) predict(archs []ofa.Arch) []float64 {
	out := make([]float64, len(archs))
	var miss []ofa.Arch
	var missKeys []string
	for _, a := range archs {
		k := Key(s.space, a)
		if _, ok := s.preds[k]; !ok {
			s.preds[k] = 0 // placeholder, filled below
			miss = append(miss, a)
			missKeys = append(missKeys, k)
		}
	}
	if len(miss) > 0 {
		for i, p := range s.acc.PredictBatch(miss) {
			s.preds[missKeys[i]] = p
		}
	}
	for i, a := range archs {
		out[i] = s.preds[Key(s.space, a)]
	}
	return out
}

func (s *searcher) mutate(a ofa.Arch) ofa.Arch {
	sp := s.space
	m := ofa.Arch{KS: append([]int(nil), a.KS...), E: append([]int(nil), a.E...), D: append([]int(nil), a.D...), R: a.R}
	if s.rng.Float64() < s.o.ResMutate {
		m.R = sp.Resolutions[s.rng.IntN(len(sp.Resolutions))]
	}
	for i := range m.KS {
		if s.rng.Float64() < s.o.MutateProb {
			m.KS[i] = sp.Kernels[s.rng.IntN(len(sp.Kernels))]
		}
		if s.rng.Float64() < s.o.MutateProb {
			m.E[i] = sp.Expands[s.rng.IntN(len(sp.Expands))]
		}
	}
	for i := range m.D {
		if s.rng.Float64() < s.o.MutateProb {
			m.D[i] = sp.Depths[s.rng.IntN(len(sp.Depths))]
		}
	}
	return m
}

func (s *searcher) crossover(a, b ofa.Arch) ofa.Arch {
	pick := func(x, y int) int {
		if s.rng.IntN(2) == 0 {
			return x
		}
		return y
	}
	c := ofa.Arch{KS: make([]int, len(a.KS)), E: make([]int, len(a.E)), D: make([]int, len(a.D))}
	for i := range c.KS {
		c.KS[i] = pick(a.KS[i], b.KS[i])
		c.E[i] = pick(a.E[i], b.E[i])
	}
	for i := range c.D {
		c.D[i] = pick(a.D[i], b.D[i])
	}
	c.R = pick(a.R, b.R)
	return c
}

// Pareto returns the candidates no other beats on both predicted accuracy
// and latency, by latency ascending.
func Pareto(pop []Candidate) []Candidate {
	c := append([]Candidate(nil), pop...)
	sort.SliceStable(c, func(i, j int) bool {
		if c[i].Cost.LatencyMs != c[j].Cost.LatencyMs {
			return c[i].Cost.LatencyMs < c[j].Cost.LatencyMs
		}
		return c[i].Accuracy > c[j].Accuracy
	})
	var out []Candidate
	best := -1.0
	for _, x := range c {
		if x.Accuracy > best {
			out = append(out, x)
			best = x.Accuracy
		}
	}
	return out
}

// IsInfeasible reports whether err is an *InfeasibleError.
func IsInfeasible(err error) bool {
	var ie *InfeasibleError
	return errors.As(err, &ie)
}

// ResourceNames lists a cost's resource keys sorted.
func ResourceNames(c Cost) []string {
	var names []string
	for k := range c.Resources {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
