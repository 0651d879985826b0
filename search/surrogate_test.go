package search

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

// TestSurrogateTracksBackends fits the surrogate to both backends' exact
// models on the default space and checks it on archs it never saw. The C
// backend's latency is a sum over layers and the surrogate must land
// within 10%; the HLS planner's lane choices follow the divisors of each
// layer's channel counts, which no smooth model captures, so there it only
// has to stay within a factor of two (VerifiedEvolve prices the final
// population exactly either way).
func TestSurrogateTracksBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("prices ~100 subnets with the exact models")
	}
	net := ofa.New(ofa.Default, 1)
	for target, limit := range map[string]float64{"mcu-m7": 0.10, "fpga-zu9": 1.0} {
		exact, sur, _ := fitted(t, net, target, 0)
		rng := rand.New(rand.NewPCG(9, 9))
		worst := 0.0
		for range 16 {
			a := net.Space.Random(rng)
			e, err := exact.Cost(a)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := sur.Cost(a)
			rel := (s.LatencyMs - e.LatencyMs) / e.LatencyMs
			worst = max(worst, rel, -rel)
		}
		t.Logf("%s: probe fit %v; held-out latency error up to %.1f%%", target, sur.Fit, 100*worst)
		if worst > limit {
			t.Errorf("%s: surrogate latency off by %.1f%% on a held-out subnet", target, 100*worst)
		}
	}
}

// fitted returns target's exact cost model over net, the surrogate fitted
// to it, and a latency budget frac of the way from the smallest subnet's
// latency to the largest's.
func fitted(tb testing.TB, net *ofa.Net, target string, frac float64) (*BackendCost, *LinearCost, Constraints) {
	tb.Helper()
	exact, err := NewBackendCost(net, target)
	if err != nil {
		tb.Fatal(err)
	}
	sur, err := FitLinearCost(&net.Space, exact, DefaultProbes, 1, 2)
	if err != nil {
		tb.Fatal(err)
	}
	lo, _ := exact.Cost(Minimal(&net.Space))
	hi, _ := exact.Cost(net.Space.Largest())
	return exact, sur, Constraints{LatencyKey: lo.LatencyMs + frac*(hi.LatencyMs-lo.LatencyMs)}
}

// TestVerifiedEvolveMeetsExactBudget runs the verified search on the HLS
// model, where the surrogate is roughest, with a budget between the
// smallest and largest subnet: the result must meet it by the exact model,
// and every reported cost must be the exact one.
func TestVerifiedEvolveMeetsExactBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("prices subnets with the exact model")
	}
	net := ofa.New(ofa.Default, 1)
	p, err := TrainPredictor(net.Space, synthRecords(net.Space, 200), TrainOptions{Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Half way, and exactly the smallest subnet's latency, where only the
	// fallback to the smallest subnet is sure to fit.
	for _, frac := range []float64{0.5, 0} {
		exact, sur, cons := fitted(t, net, "fpga-zu9", frac)
		res, err := VerifiedEvolve(&net.Space, p, exact, sur, cons, Options{Seed: 3, Generations: 20}, 4)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Population {
			want, _ := exact.Cost(c.Arch)
			if c.Cost.LatencyMs != want.LatencyMs {
				t.Fatalf("population cost %.4f ms is not the exact %.4f ms", c.Cost.LatencyMs, want.LatencyMs)
			}
			if !cons.Fits(c.Cost) {
				t.Fatalf("population member breaks %s: %+v", cons, c.Cost)
			}
		}
		if res.Best.Arch.JSON() != res.Population[0].Arch.JSON() {
			t.Error("best is not the population's first")
		}
		t.Logf("budget %.3f ms: best %.3f ms, predicted %.4f, %d exact estimates", cons[LatencyKey], res.Best.Cost.LatencyMs, res.Best.Accuracy, exact.Misses)
	}
}

// BenchmarkDefaultSearchExact is the default search (population 100, 500
// generations) on a real backend, as ofac search runs it: fit the surrogate
// to 64 exact estimates, evolve, price the final population exactly. The
// exact model's cache starts empty in every iteration.
func BenchmarkDefaultSearchExact(b *testing.B) {
	net := ofa.New(ofa.Default, 1)
	p, err := TrainPredictor(net.Space, synthRecords(net.Space, 200), TrainOptions{Epochs: 1})
	if err != nil {
		b.Fatal(err)
	}
	for _, target := range []string{"mcu-m7", "fpga-zu9"} {
		b.Run(target, func(b *testing.B) {
			for b.Loop() {
				exact, sur, cons := fitted(b, net, target, 1.0/3)
				res, err := VerifiedEvolve(&net.Space, p, exact, sur, cons, Options{Seed: 1}, 4)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(exact.Misses), "exact-estimates")
				b.ReportMetric(float64(res.Predictions), "predictions")
			}
		})
	}
}

// featureCost is a cost model that is exactly linear in the surrogate's
// features, with fixed positive weights: the fit must recover it.
type featureCost struct {
	space *ofa.SearchSpace
	w     []float64
}

func (m featureCost) Cost(a ofa.Arch) (Cost, error) {
	v := 0.0
	for i, f := range features(m.space, a) {
		v += m.w[i] * f
	}
	return Cost{LatencyMs: v, Resources: map[string]float64{"twice": 2 * v}}, nil
}

// TestFitRecoversLinearCost checks the ridge solve and the feature
// bookkeeping: a cost that is linear in the features is reproduced on
// subnets the fit never saw, for every figure the model reports.
func TestFitRecoversLinearCost(t *testing.T) {
	space := ofa.Default
	rng := rand.New(rand.NewPCG(4, 4))
	n := len(features(&space, space.Largest()))
	w := make([]float64, n)
	for i := range w {
		w[i] = 0.5 + rng.Float64()
	}
	truth := featureCost{&space, w}
	sur, err := FitLinearCost(&space, truth, 2*n, 7, 2)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		a := space.Random(rng)
		want, _ := truth.Cost(a)
		got, _ := sur.Cost(a)
		for _, k := range []string{LatencyKey, "twice"} {
			g, _ := got.Value(k)
			e, _ := want.Value(k)
			if rel := (g - e) / e; rel > 1e-3 || rel < -1e-3 {
				t.Fatalf("%s: surrogate %.6f, truth %.6f", k, g, e)
			}
		}
	}
}

// flatCost is a surrogate that cannot tell subnets apart: it prices every
// one the same, so no evolved population survives the exact model.
type flatCost struct{}

func (flatCost) Cost(ofa.Arch) (Cost, error) { return Cost{LatencyMs: 1e-3}, nil }

// When the surrogate fails every round, the search falls back to the
// exact hill climb, started from the space's smallest subnet at every
// resolution that fits: here the budget is the exact latency of the
// smallest subnet at 28 pixels, so 20, 24 and 28 pixels start a climb and
// 32 does not; at 28 pixels nothing larger fits, at 20 and 24 the climbs
// find larger subnets that do.
func TestVerifiedEvolveFallsBackToExactClimb(t *testing.T) {
	space := ofa.Default
	exact := macCost{ofa.New(space, 1)}
	acc := synthAcc{space}
	at28 := space.Smallest()
	at28.R = 28
	c28, _ := exact.Cost(at28)
	cons := Constraints{LatencyKey: c28.LatencyMs}
	res, err := VerifiedEvolve(&space, acc, exact, flatCost{}, cons, Options{Seed: 1, Generations: 5}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Fallback {
		t.Error("Result.Fallback not set")
	}
	if p := acc.PredictBatch([]ofa.Arch{at28})[0]; res.Best.Accuracy < p {
		t.Errorf("fallback's best predicts %.4f, below the smallest subnet at 28 pixels (%.4f)", res.Best.Accuracy, p)
	}
	if len(res.Population) <= 3 {
		t.Errorf("%d subnets in the population: the climbs added nothing to the three smallest that fit", len(res.Population))
	}
	starts := map[int]bool{}
	for _, c := range res.Population {
		if !cons.Fits(c.Cost) {
			t.Errorf("population member %s breaks %s: %+v", c.Arch.JSON(), cons, c.Cost)
		}
		if Key(&space, c.Arch) == Key(&space, ofa.Arch{KS: space.Smallest().KS, E: space.Smallest().E, D: space.Smallest().D, R: c.Arch.R}) {
			starts[c.Arch.R] = true
		}
	}
	if len(starts) != 3 || starts[32] {
		t.Errorf("smallest subnets in the population at %v pixels, want 20, 24 and 28", starts)
	}
}

// cornerAcc is synthAcc with a bonus for the smallest subnet at the
// highest resolution: a point the evolution's mutations rarely land on.
type cornerAcc struct{ synthAcc }

func (c cornerAcc) PredictBatch(archs []ofa.Arch) []float64 {
	out := c.synthAcc.PredictBatch(archs)
	corner := c.space.Smallest()
	corner.R = c.space.Resolutions[len(c.space.Resolutions)-1]
	for i, a := range archs {
		if Key(&c.space, a) == Key(&c.space, corner) {
			out[i] += 1
		}
	}
	return out
}

// Away from the floor the search still answers at least as well as the
// smallest subnet at each resolution that fits, climbing from the best of
// them when the evolution missed it, and says so.
func TestVerifiedEvolveClimbsFromABetterCorner(t *testing.T) {
	space := ofa.Default
	exact := macCost{ofa.New(space, 1)}
	acc := cornerAcc{synthAcc{space}}
	corner := space.Smallest()
	corner.R = space.Resolutions[len(space.Resolutions)-1]
	cc, _ := exact.Cost(corner)
	cons := Constraints{LatencyKey: 1.5 * cc.LatencyMs}
	res, err := VerifiedEvolve(&space, acc, exact, exact, cons, Options{Seed: 1, Generations: 5}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if res.NearFloor {
		t.Fatal("the evolution started near the floor: the test shows nothing")
	}
	if p := acc.PredictBatch([]ofa.Arch{corner})[0]; res.Best.Accuracy < p {
		t.Errorf("best predicts %.4f, below the smallest subnet at %d pixels (%.4f)", res.Best.Accuracy, corner.R, p)
	}
	if !res.Fallback {
		t.Error("Result.Fallback not set, though the answer is the corner's climb")
	}
	if !cons.Fits(res.Best.Cost) {
		t.Errorf("best breaks %s: %+v", cons, res.Best.Cost)
	}
}

// countingCost counts exact estimates.
type countingCost struct {
	CostModel
	n *atomic.Int64
}

func (c countingCost) Cost(a ofa.Arch) (Cost, error) {
	c.n.Add(1)
	return c.CostModel.Cost(a)
}

// The climb improves on its start, keeps to the budget and to its
// estimate cap, and gives the same answer on any number of workers.
func TestClimbExact(t *testing.T) {
	space := ofa.Default
	exact := macCost{ofa.New(space, 1)}
	acc := synthAcc{space}
	start := Minimal(&space)
	c0, _ := exact.Cost(start)
	cons := Constraints{LatencyKey: 2 * c0.LatencyMs}
	first := Candidate{Arch: start, Accuracy: acc.PredictBatch([]ofa.Arch{start})[0], Cost: c0}
	var want []Candidate
	for _, workers := range []int{1, 3} {
		var n atomic.Int64
		fit, priced, predicted, err := climbExact(&space, acc, countingCost{exact, &n}, cons, first, 60, workers)
		if err != nil {
			t.Fatal(err)
		}
		if priced != int(n.Load()) || priced > 60 || priced == 0 || predicted < priced {
			t.Errorf("workers %d: %d priced (counted %d, cap 60), %d predicted", workers, priced, n.Load(), predicted)
		}
		if fit[0].Arch.JSON() != start.JSON() || len(fit) < 2 {
			t.Fatalf("workers %d: climb returned %d subnets, starting %s", workers, len(fit), fit[0].Arch.JSON())
		}
		for i, c := range fit {
			if !cons.Fits(c.Cost) {
				t.Errorf("workers %d: %s breaks %s", workers, c.Arch.JSON(), cons)
			}
			if i > 0 && c.Accuracy <= first.Accuracy {
				t.Errorf("workers %d: %s predicts %.4f, not above the start's %.4f", workers, c.Arch.JSON(), c.Accuracy, first.Accuracy)
			}
		}
		if want == nil {
			want = fit
		} else if diff := cmp.Diff(want, fit); diff != "" {
			t.Errorf("1 and 3 workers climb differently (-1 +3):\n%s", diff)
		}
	}
}

// neighbours are one choice away, distinct, and canonical: from the
// default space's smallest subnet at 20 pixels, two other kernels and two
// other expand ratios for each of the 10 active blocks, one deeper stage
// each of 5, and 3 other resolutions.
func TestNeighbours(t *testing.T) {
	space := ofa.Default
	a := Minimal(&space)
	ns := neighbours(&space, a)
	if len(ns) != 10*4+5+3 {
		t.Errorf("%d neighbours, want 48", len(ns))
	}
	seen := map[string]bool{}
	for _, n := range ns {
		if err := space.Validate(n); err != nil {
			t.Errorf("%s: %v", n.JSON(), err)
		}
		if k := Key(&space, n); seen[k] || k != n.JSON() {
			t.Errorf("%s: repeated or not canonical", n.JSON())
		} else {
			seen[k] = true
		}
	}
}
