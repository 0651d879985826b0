package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ofac-dev/ofac/backends"
	"github.com/ofac-dev/ofac/backends/hls"
	"github.com/ofac-dev/ofac/search"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

// searchFlags are shared by 'ofac search' and 'ofac build'.
type searchFlags struct {
	Target    string `required:"" placeholder:"TARGET" help:"Hardware to search for (see 'ofac targets')."`
	Latency   string `placeholder:"TIME" help:"Latency budget, e.g. 5ms, 800us (a bare number is ms)."`
	SRAM      string `name:"sram" placeholder:"BYTES" help:"SRAM budget (sram_bytes), e.g. 320KB; default the target's capacity."`
	Flash     string `placeholder:"BYTES" help:"Flash budget (flash_bytes), e.g. 1MB; default the target's capacity."`
	DSP       string `name:"dsp" placeholder:"N" help:"DSP slice budget; default the target's capacity."`
	BRAM      string `name:"bram" placeholder:"N" help:"BRAM36 budget; default the target's capacity."`
	LUT       string `name:"lut" placeholder:"N" help:"LUT budget, e.g. 200k; default the target's capacity."`
	FF        string `name:"ff" placeholder:"N" help:"Flip-flop budget; default the target's capacity."`
	Predictor string `placeholder:"FILE" default:"${default_predictor}" help:"Accuracy predictor from 'ofac predictor' (default ${default_predictor})."`

	Population  int     `default:"100" help:"Population size."`
	Generations int     `default:"500" help:"Generations."`
	Parents     float64 `default:"0.25" help:"Fraction of the population kept as parents."`
	MutateRatio float64 `name:"mutate-ratio" default:"0.5" help:"Fraction of the children made by mutation (the rest by crossover)."`
	MutateProb  float64 `name:"mutate-prob" default:"0.1" help:"Mutation probability per block choice and per stage depth."`
	ResMutate   float64 `name:"res-mutate" default:"0.5" help:"Mutation probability of the resolution."`
	Seed        uint64  `default:"1" help:"Seed of the search."`
	Workers     int     `help:"Cost estimates in parallel (default: the number of CPUs)."`
	Quiet       bool    `short:"q" help:"No progress bar."`
	JSON        bool    `help:"Print JSON instead of text."`
}

// resourceFlags maps flags to the resource keys of backends.Cost.
func (f *searchFlags) resourceFlags() []struct{ flag, key, val string } {
	return []struct{ flag, key, val string }{
		{"--sram", "sram_bytes", f.SRAM}, {"--flash", "flash_bytes", f.Flash}, {"--dsp", "dsp", f.DSP},
		{"--bram", "bram36", f.BRAM}, {"--lut", "lut", f.LUT}, {"--ff", "ff", f.FF},
	}
}

// constraints builds the budget: --latency, every capacity of the target,
// and the resource flags given (which must be resources of the target).
func (f *searchFlags) constraints(t backends.Target) (search.Constraints, error) {
	cons := search.Constraints{}
	for k, v := range t.Capacity {
		cons[k] = v
	}
	if f.Latency != "" {
		v, err := search.ParseValue(search.LatencyKey, f.Latency)
		if err != nil {
			return nil, usageError{fmt.Errorf("--latency: %v", err)}
		}
		cons[search.LatencyKey] = v
	}
	for _, r := range f.resourceFlags() {
		if r.val == "" {
			continue
		}
		if _, ok := t.Capacity[r.key]; !ok {
			return nil, usageError{fmt.Errorf("%s: target %s has no %s (its resources: %v)", r.flag, t.Name, r.key, search.Constraints(t.Capacity).Names())}
		}
		v, err := search.ParseValue(r.key, r.val)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s: %v", r.flag, err)}
		}
		cons[r.key] = v
	}
	return cons, nil
}

func (f *searchFlags) options(e *env) (search.Options, func()) {
	o := search.Options{Population: f.Population, Generations: f.Generations, ParentRatio: f.Parents, MutateRatio: f.MutateRatio,
		MutateProb: f.MutateProb, ResMutate: f.ResMutate, Seed: f.Seed, Workers: f.Workers}
	done := func() {}
	if !f.Quiet && f.Generations > 0 {
		bar := progressbar.NewOptions(f.Generations, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription("searching"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
		o.Progress = func(gen, _ int) { bar.Set(gen) }
		done = func() { bar.Finish() }
	}
	return o, done
}

func (f *searchFlags) check() error {
	if f.Population < 2 || f.Generations < 0 || f.Workers < 0 {
		return usageError{errors.New("--population must be at least 2, --generations and --workers not negative")}
	}
	for _, p := range []float64{f.Parents, f.MutateRatio, f.MutateProb, f.ResMutate} {
		if !(p >= 0 && p <= 1) {
			return usageError{errors.New("--parents, --mutate-ratio, --mutate-prob and --res-mutate must be in [0, 1]")}
		}
	}
	if !(f.Parents > 0) {
		return usageError{errors.New("--parents must be above 0")}
	}
	return nil
}

func loadPredictor(path string) (*search.Predictor, error) {
	p, err := search.LoadPredictor(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no accuracy predictor at %s: run ofac from the repository's root, where the shipped one is, or pass --predictor FILE (or make one with 'ofac accuracy-data' then 'ofac predictor')", path)
	}
	return p, err
}

// searched is a finished search with what reports need.
type searched struct {
	target  backends.Target
	backend backends.Backend
	cons    search.Constraints
	pred    *search.Predictor
	res     *search.Result
	took    time.Duration
}

// how says what found the answer, for the closing line of search and build.
func (s *searched) how(generations int) string {
	if s.res.Fallback {
		return "an exact hill climb from the smallest subnets, which beat the evolution"
	}
	return fmt.Sprintf("%d generations", generations)
}

// runSearch builds the target's cost model over net
// (nil: an untrained network of the predictor's space, since only shapes
// matter for cost) and searches. An unreachable budget is a usage error
// (exit 2) naming the smallest value the target can reach.
func (f *searchFlags) runSearch(e *env, pred *search.Predictor, net *ofa.Net) (*searched, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	b, t, err := backends.For(f.Target)
	if err != nil {
		return nil, usageError{err}
	}
	cons, err := f.constraints(t)
	if err != nil {
		return nil, err
	}
	t = plannedWithin(t, cons)
	if net == nil {
		net = ofa.New(pred.Space, 0)
	} else if !net.Space.Equal(pred.Space) {
		return nil, fmt.Errorf("the predictor %s was trained for another search space than the supernet's", f.Predictor)
	}
	cm, err := search.NewBackendCost(net, t.Name)
	if err != nil {
		return nil, err
	}
	cm.Target = t
	if _, err := search.CheckFeasible(&net.Space, cm, cons, t.Name); err != nil {
		if search.IsInfeasible(err) {
			return nil, usageError{err}
		}
		return nil, err
	}
	start := time.Now()
	if !f.Quiet {
		fmt.Fprintf(e.stderr, "pricing %d probe subnets with the %s cost model for the search's surrogate\n", search.DefaultProbes, t.Name)
	}
	sur, err := search.FitLinearCost(&net.Space, cm, search.DefaultProbes, f.Seed, f.Workers)
	if err != nil {
		return nil, err
	}
	o, done := f.options(e)
	res, err := search.VerifiedEvolve(&net.Space, pred, cm, sur, cons, o, verifyRounds)
	done()
	if err != nil {
		return nil, err
	}
	res.CostCalls = cm.Misses
	return &searched{target: t, backend: b, cons: cons, pred: pred, res: res, took: time.Since(start)}, nil
}

// verifyRounds bounds how often the search reruns on a tightened
// surrogate budget when no subnet of its final population fits by the
// exact cost model.
const verifyRounds = 4

// plannedWithin gives the HLS planner, which sizes a design to fill the
// part it is given, the resource budget as its part: otherwise every design
// would use the whole part and no smaller DSP, LUT, FF or BRAM budget could
// be met. Capacity (what reports print usage against) stays the part's.
func plannedWithin(t backends.Target, cons search.Constraints) backends.Target {
	s, ok := t.Spec.(hls.Spec)
	if !ok {
		return t
	}
	limit := func(v *int, key string) {
		if b, ok := cons[key]; ok && b < float64(*v) {
			*v = int(b)
		}
	}
	limit(&s.DSP, "dsp")
	limit(&s.LUT, "lut")
	limit(&s.FF, "ff")
	limit(&s.BRAM36, "bram36")
	t.Spec = s
	return t
}

type searchCmd struct {
	searchFlags
}

func (c *searchCmd) Help() string {
	return `Searches the subnet with the best predicted accuracy whose estimate, by the
target backend's own cost model, fits the budget (evolutionary search as the
Once-for-All reference), and prints the Pareto front of the final population.
The evolution runs on a linear surrogate fitted to 64 exact estimates; the
final population is then priced with the exact model and only what fits is
kept, so every figure printed is the backend's own; a short hill climb on the
exact model from the best of them takes up the slack the surrogate leaves.
Hill climbs from the smallest subnets run too, from every resolution near the
target's floor (where the surrogate is far off) and elsewhere from the best
of them when it predicts above the evolution's answer; the last line says when
one of them won.
Resources not given default to the target's capacity. An unreachable budget
exits with code 2 and the smallest value the target can reach.

Examples:
  ofac search --target mcu-m7 --latency 100ms --sram 128KB
  ofac search --target fpga-zu9 --latency 5ms --dsp 1200 --json`
}

func (c *searchCmd) Run(e *env) error {
	if err := c.check(); err != nil { // a wrong flag before a missing file
		return err
	}
	pred, err := loadPredictor(c.Predictor)
	if err != nil {
		return err
	}
	s, err := c.runSearch(e, pred, nil)
	if err != nil {
		return err
	}
	front := search.Pareto(s.res.Population)
	if c.JSON {
		return json.NewEncoder(e.stdout).Encode(map[string]any{
			"target": s.target.Name, "constraints": s.cons, "best": s.res.Best, "pareto": front,
			"generations": c.Generations, "population": c.Population, "seed": c.Seed,
			"cost_calls": s.res.CostCalls, "predictions": s.res.Predictions, "fallback": s.res.Fallback, "seconds": s.took.Seconds(),
		})
	}
	fmt.Fprintf(e.stdout, "best on %s within %s:\n  arch %s\n  predicted top-1 %.2f%% (predictor RMSE %.2f points), latency %s\n\n",
		s.target.Name, s.cons, s.res.Best.Arch.JSON(), 100*s.res.Best.Accuracy, 100*s.pred.RMSE, search.FormatValue(search.LatencyKey, s.res.Best.Cost.LatencyMs))
	fmt.Fprintf(e.stdout, "Pareto front of the final population:\n%s\n", search.ParetoTable(front, s.cons))
	fmt.Fprintf(e.stdout, "%s in %.2fs: %d distinct subnets priced by the exact cost model, %d predicted\n", s.how(c.Generations), s.took.Seconds(), s.res.CostCalls, s.res.Predictions)
	return nil
}
