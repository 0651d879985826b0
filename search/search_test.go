package search

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/ofac-dev/ofac/backends/c"
	_ "github.com/ofac-dev/ofac/backends/hls"
	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/data/datatest"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

// macCost is a cheap synthetic cost model for testing the search algorithm:
// latency from MACs, "flash_bytes" from the arch's weight count proxy.
type macCost struct{ net *ofa.Net }

func (m macCost) Cost(a ofa.Arch) (Cost, error) {
	macs := float64(m.net.MACs(a))
	var w float64
	sp := m.net.Space
	for st := range sp.Stages {
		for j := 0; j < a.D[st]; j++ {
			i := st*sp.MaxDepth() + j
			w += float64(a.KS[i]*a.KS[i]+2*sp.Stages[st].Width) * float64(a.E[i]) * float64(sp.Stages[st].Width)
		}
	}
	return Cost{LatencyMs: macs / 1e5, Resources: map[string]float64{"flash_bytes": w}}, nil
}

// synthAcc is a smooth synthetic accuracy: more capacity is better, with
// diminishing returns and per-position preferences so the optimum is not
// simply the largest feasible arch.
type synthAcc struct{ space ofa.SearchSpace }

func (s synthAcc) PredictBatch(archs []ofa.Arch) []float64 {
	out := make([]float64, len(archs))
	for n, a := range archs {
		v := 0.5 + 0.01*float64(a.R)
		for st := range s.space.Stages {
			for j := 0; j < a.D[st]; j++ {
				i := st*s.space.MaxDepth() + j
				v += 0.02*math.Log(float64(a.E[i])) + 0.003*float64(a.KS[i]*((i%3)-1))
			}
		}
		out[n] = v
	}
	return out
}

func TestSearchBeatsRandomSampling(t *testing.T) {
	space := ofa.Tiny
	net := ofa.New(space, 1)
	cm := macCost{net}
	acc := synthAcc{space}
	small, _ := cm.Cost(Minimal(&space))
	big, _ := cm.Cost(space.Largest())
	pairs := []Constraints{
		{LatencyKey: small.LatencyMs * 1.5},
		{LatencyKey: (small.LatencyMs + big.LatencyMs) / 3},
		{LatencyKey: big.LatencyMs * 0.7},
		{LatencyKey: big.LatencyMs, "flash_bytes": big.Resources["flash_bytes"] / 3},
		{"flash_bytes": big.Resources["flash_bytes"] / 2},
	}
	rng := rand.New(rand.NewPCG(9, 9))
	randoms := make([]ofa.Arch, 50000)
	for i := range randoms {
		randoms[i] = space.Random(rng)
	}
	randAcc := acc.PredictBatch(randoms)
	randCost := make([]Cost, len(randoms))
	for i, a := range randoms {
		randCost[i], _ = cm.Cost(a)
	}
	for i, cons := range pairs {
		res, err := Evolve(&space, acc, cm, cons, Options{Seed: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		best := math.Inf(-1)
		for j := range randoms {
			if cons.Fits(randCost[j]) {
				best = max(best, randAcc[j])
			}
		}
		if !cons.Fits(res.Best.Cost) {
			t.Errorf("%s: best arch breaks the budget: %+v", cons, res.Best.Cost)
		}
		if res.Best.Accuracy < best {
			t.Errorf("%s: search found %.4f, random sampling %.4f", cons, res.Best.Accuracy, best)
		}
		t.Logf("%s: search %.4f (%d costed), best of 50000 random %.4f", cons, res.Best.Accuracy, res.CostCalls, best)
	}
}

func TestEvolveDeterministicAcrossWorkers(t *testing.T) {
	space := ofa.Tiny
	cm := macCost{ofa.New(space, 1)}
	acc := synthAcc{space}
	big, _ := cm.Cost(space.Largest())
	cons := Constraints{LatencyKey: big.LatencyMs / 2}
	var first string
	for _, w := range []int{1, 2, 5} {
		res, err := Evolve(&space, acc, cm, cons, Options{Seed: 3, Generations: 30, Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprint(res.Best, res.History, len(res.Population))
		if first == "" {
			first = got
		} else if got != first {
			t.Fatalf("workers=%d changed the result:\n%s\n%s", w, got, first)
		}
	}
}

// Near the floor uniform draws cannot fill the first population; the
// evolution then starts from mutants of the smallest subnet, says so, and
// keeps to the budget.
func TestEvolveStartsSmallNearTheFloor(t *testing.T) {
	space := ofa.Default
	cm := macCost{ofa.New(space, 1)}
	small, _ := cm.Cost(Minimal(&space))
	cons := Constraints{LatencyKey: 1.15 * small.LatencyMs}
	o := Options{Seed: 1, Generations: 5, MaxRejection: 20}
	res, err := Evolve(&space, synthAcc{space}, cm, cons, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.NearFloor {
		t.Error("NearFloor not set: uniform draws filled the population, so the test shows nothing")
	}
	for _, c := range res.Population {
		if !cons.Fits(c.Cost) {
			t.Errorf("%s breaks %s", c.Arch.JSON(), cons)
		}
	}
	loose, err := Evolve(&space, synthAcc{space}, cm, Constraints{LatencyKey: 10 * small.LatencyMs}, o)
	if err != nil || loose.NearFloor {
		t.Errorf("a loose budget: NearFloor %v, error %v", loose != nil && loose.NearFloor, err)
	}
}

func TestInfeasibleBudgetFailsFast(t *testing.T) {
	space := ofa.Tiny
	cm := macCost{ofa.New(space, 1)}
	small, _ := cm.Cost(Minimal(&space))
	_, err := Evolve(&space, synthAcc{space}, cm, Constraints{LatencyKey: small.LatencyMs * 0.9}, Options{})
	var ie *InfeasibleError
	if !errors.As(err, &ie) || ie.Smallest != small.LatencyMs {
		t.Fatalf("error %v, want an InfeasibleError with the smallest latency %g", err, small.LatencyMs)
	}
	if !strings.Contains(err.Error(), "smallest subnet") {
		t.Errorf("error %q does not say what the smallest subnet needs", err)
	}
}

func TestParseValue(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     float64
	}{
		{LatencyKey, "5ms", 5}, {LatencyKey, "500us", 0.5}, {LatencyKey, "0.2s", 200}, {LatencyKey, "7", 7},
		{"sram_bytes", "320KB", 320 << 10}, {"flash_bytes", "1MB", 1 << 20}, {"sram_bytes", "4096", 4096},
		{"flash_bytes", "1.5MiB", 1.5 * (1 << 20)}, {"dsp", "360", 360}, {"lut", "70k", 70000},
	} {
		got, err := ParseValue(tc.name, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseValue(%s, %q) = %g, %v; want %g", tc.name, tc.in, got, err, tc.want)
		}
	}
	for _, tc := range [][2]string{{LatencyKey, "5KB"}, {"sram_bytes", "5ms"}, {"dsp", "-1"}, {"dsp", "abc"}, {LatencyKey, ""}} {
		if _, err := ParseValue(tc[0], tc[1]); err == nil {
			t.Errorf("ParseValue(%s, %q) accepted", tc[0], tc[1])
		}
	}
}

// synthRecords are accuracy records of the synthetic model with noise.
func synthRecords(space ofa.SearchSpace, n int) []Record {
	archs := SampleArchs(&space, n, 5)
	accs := synthAcc{space}.PredictBatch(archs)
	rng := rand.New(rand.NewPCG(1, 1))
	out := make([]Record, len(archs))
	for i, a := range archs {
		out[i] = Record{Arch: a, Top1: accs[i]/2 + 0.005*rng.NormFloat64(), Images: 100}
	}
	return out
}

func TestPredictorLearnsAndIsDeterministic(t *testing.T) {
	space := ofa.Tiny
	recs := synthRecords(space, 300)
	o := TrainOptions{Hidden: 64, Epochs: 100, Seed: 2}
	p, err := TrainPredictor(space, recs, o)
	if err != nil {
		t.Fatal(err)
	}
	// The spread of the targets, the RMSE of always predicting the mean.
	var mean, sd float64
	for _, r := range recs {
		mean += r.Top1
	}
	mean /= float64(len(recs))
	for _, r := range recs {
		sd += (r.Top1 - mean) * (r.Top1 - mean)
	}
	sd = math.Sqrt(sd / float64(len(recs)))
	t.Logf("held-out RMSE %.4f, target spread %.4f", p.RMSE, sd)
	if p.RMSE > sd/2 {
		t.Errorf("held-out RMSE %.4f is not well below the spread %.4f", p.RMSE, sd)
	}
	// Same records in another order, same predictor.
	rev := append([]Record(nil), recs...)
	slices.Reverse(rev)
	q, err := TrainPredictor(space, rev, o)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Encode()
	b, _ := q.Encode()
	if !bytes.Equal(a, b) {
		t.Fatal("the predictor depends on the order of the records")
	}
	back, err := DecodePredictor(a)
	if err != nil {
		t.Fatal(err)
	}
	if x := space.Largest(); back.Predict(x) != p.Predict(x) {
		t.Fatal("a saved predictor predicts differently")
	}
	flipped := bytes.Replace(a, []byte(`"mean":`), []byte(`"mean":1`), 1)
	if _, err := DecodePredictor(flipped); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("a changed model decoded: %v", err)
	}
	// Batches do not change predictions.
	archs := SampleArchs(&space, 300, 8)
	all := p.PredictBatch(archs)
	for i := 0; i < len(archs); i += 37 {
		if one := p.Predict(archs[i]); one != all[i] {
			t.Fatalf("arch %d: %g alone, %g in a batch", i, one, all[i])
		}
	}
}

func FuzzDecodePredictor(f *testing.F) {
	p, err := TrainPredictor(ofa.Tiny, synthRecords(ofa.Tiny, 20), TrainOptions{Hidden: 4, Depth: 1, Epochs: 1})
	if err != nil {
		f.Fatal(err)
	}
	good, _ := p.Encode()
	f.Add(good)
	f.Add([]byte(`{"format":"ofac-predictor/1","checksum":"00000000","model":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := DecodePredictor(b)
		if err != nil {
			return
		}
		if _, err := q.Encode(); err != nil {
			t.Fatalf("a predictor that reads does not write: %v", err)
		}
		q.Predict(Minimal(&q.Space))
	})
}

func TestSampleArchsCoversCornersAndSizes(t *testing.T) {
	space := ofa.Default
	archs := SampleArchs(&space, 3000, 3)
	if len(archs) != 3000 {
		t.Fatalf("%d archs, want 3000", len(archs))
	}
	if short := SampleArchs(&space, 100, 3); !slices.EqualFunc(short, archs[:100], func(a, b ofa.Arch) bool { return a.JSON() == b.JSON() }) {
		t.Error("a shorter list is not a prefix of a longer one")
	}
	// The corners come first: smallest and largest at every resolution.
	corners := map[string]bool{}
	for _, r := range space.Resolutions {
		small, large := space.Smallest(), space.Largest()
		small.R, large.R = r, r
		corners[small.JSON()], corners[large.JSON()] = true, true
	}
	for _, a := range archs[:len(corners)] {
		if !corners[a.JSON()] {
			t.Errorf("%s opens the list and is not a corner", a.JSON())
		}
	}
	// Each choice is uniform on its own; sizes spread to both ends. Only
	// the blocks every stage runs count: the others hold the smallest
	// choices when unused, and more of them run in larger archs.
	rest := archs[len(corners):]
	counts := map[int]int{}
	used := 0
	var level []float64 // mean expand-option index of an arch's blocks, 0..2
	for _, a := range rest {
		sum, n := 0, 0
		for st := range a.D {
			for _, e := range a.E[st*space.MaxDepth() : st*space.MaxDepth()+space.Depths[0]] {
				counts[e]++
				sum += slices.Index(space.Expands, e)
				n++
			}
		}
		used += n
		level = append(level, float64(sum)/float64(n))
	}
	for _, e := range space.Expands {
		share := float64(counts[e]) / float64(used)
		if math.Abs(share-1.0/3) > 0.03 {
			t.Errorf("expand %d drawn %.3f of the time, want 1/3", e, share)
		}
	}
	low, high := 0, 0
	for _, l := range level {
		if l < 0.5 {
			low++
		}
		if l > 1.5 {
			high++
		}
	}
	// Uniform independent draws put the mean index of those 10 blocks
	// below 0.5 in about one arch of 70; the spread sampler in almost a
	// quarter.
	t.Logf("%d small and %d large archs of %d", low, high, len(rest))
	if low < len(rest)/8 || high < len(rest)/8 {
		t.Errorf("%d small and %d large archs of %d, want at least an eighth each", low, high, len(rest))
	}
}

func TestCollectResumes(t *testing.T) {
	dir := t.TempDir()
	if err := datatest.Write(dir, 300, 30, 1); err != nil {
		t.Fatal(err)
	}
	splits, err := data.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	net := ofa.New(ofa.Tiny, 1)
	path := filepath.Join(dir, "acc.jsonl")
	o := CollectOptions{Samples: 4, Seed: 1, CalibImages: 50, Batch: 50, Workers: 2}
	if _, err := Collect(net, splits, path, o); err != nil {
		t.Fatal(err)
	}
	// A torn line from a killed writer is dropped; only new archs are measured.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"arch":{"ks":[3`)
	f.Close()
	calls := 0
	o.Samples = 6
	o.Progress = func(done, total int) { calls++ }
	recs, err := Collect(net, splits, path, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 || calls != 2 {
		t.Fatalf("%d records after resuming, %d measured; want 6 and 2", len(recs), calls)
	}
	back, err := ReadRecords(path)
	if err != nil || len(back) != 6 {
		t.Fatalf("file holds %d records (%v), want 6", len(back), err)
	}
	for _, r := range back {
		if r.Images != splits.Val.Len() || r.Top1 < 0 || r.Top1 > 1 || r.Space != "tiny" {
			t.Errorf("bad record %+v", r)
		}
	}
	// Records another seed drew count towards --samples too.
	o.Seed, o.Samples = 9, 7
	calls = 0
	if recs, err = Collect(net, splits, path, o); err != nil || len(recs) != 7 || calls != 1 {
		t.Fatalf("another seed: %d records, %d measured (%v); want 7 and 1", len(recs), calls, err)
	}
	// Records of another space in the file are refused, not mixed in.
	other := filepath.Join(dir, "other.jsonl")
	line, _ := json.Marshal(Record{Space: "fine", Arch: ofa.Tiny.Largest(), Top1: 0.5, Images: 10})
	os.WriteFile(other, append(line, '\n'), 0o644)
	if _, err := Collect(net, splits, other, o); err == nil || !strings.Contains(err.Error(), "fine space") {
		t.Errorf("collecting tiny subnets into a file of fine ones: %v, want an error naming the fine space", err)
	}
}

func TestBackendCostCachesAndMatchesSmallest(t *testing.T) {
	net := ofa.New(ofa.Tiny, 1)
	for _, target := range []string{"mcu-m7", "fpga-zu9"} {
		cm, err := NewBackendCost(net, target)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		small, err := cm.Cost(Minimal(&net.Space))
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		big, err := cm.Cost(net.Space.Largest())
		if err != nil {
			t.Fatal(err)
		}
		again, _ := cm.Cost(net.Space.Largest())
		if cm.Misses != 2 || again.LatencyMs != big.LatencyMs {
			t.Errorf("%s: %d estimates computed, want 2 (cache)", target, cm.Misses)
		}
		if !(small.LatencyMs < big.LatencyMs) {
			t.Errorf("%s: smallest %.4f ms is not faster than largest %.4f ms", target, small.LatencyMs, big.LatencyMs)
		}
		t.Logf("%s: one estimate %v; smallest %+v", target, took, small)
	}
}

// A subnet the part cannot hold at all costs its leanest design, over the
// part's capacity, instead of failing the search: the default space's
// largest subnet on fpga-zu3 (README's fpga-zu3 example failed on it, the
// surrogate's probes include it). The target's capacity rejects it.
func TestBackendCostPricesSubnetsTooBigForThePart(t *testing.T) {
	net := ofa.New(ofa.Default, 1)
	cm, err := NewBackendCost(net, "fpga-zu3")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cm.Cost(net.Space.Largest())
	if err != nil {
		t.Fatal(err)
	}
	capacity := Constraints{}
	for k, v := range cm.Target.Capacity {
		capacity[k] = v
	}
	if len(capacity) == 0 || capacity.Fits(c) {
		t.Errorf("the largest subnet fits fpga-zu3's capacity %v: %+v", capacity, c)
	}
	if _, err := cm.Estimate(net.Space.Largest()); err == nil {
		t.Error("Estimate (what ofac compile reports) accepts the largest subnet on fpga-zu3")
	}
}

// costParallel reports the first failure and how many more there were, not
// every one of them.
func TestCostParallelReportsOneError(t *testing.T) {
	space := ofa.Tiny
	archs := []ofa.Arch{Minimal(&space), space.Largest(), space.Largest()}
	_, err := costParallel(failingCost{}, archs, 2)
	if err == nil || strings.Count(err.Error(), "no estimate") != 1 || !strings.Contains(err.Error(), "and 2 more subnets failed") {
		t.Errorf("error %q: want one message and a count of the others", err)
	}
}

type failingCost struct{}

func (failingCost) Cost(ofa.Arch) (Cost, error) { return Cost{}, errors.New("no estimate") }

// BenchmarkEvolveDefault is the default search (population 100, 500
// generations) on the default space with a 400-unit predictor and the cheap
// synthetic cost model: the search's own cost, without the backends'.
func BenchmarkEvolveDefault(b *testing.B) {
	space := ofa.Default
	p, err := TrainPredictor(space, synthRecords(space, 200), TrainOptions{Epochs: 1})
	if err != nil {
		b.Fatal(err)
	}
	cm := macCost{ofa.New(space, 1)}
	big, _ := cm.Cost(space.Largest())
	for b.Loop() {
		res, err := Evolve(&space, p, cm, Constraints{LatencyKey: big.LatencyMs / 2}, Options{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Predictions), "predictions")
		b.ReportMetric(float64(res.CostCalls), "costs")
	}
}

// FuzzReadRecords feeds arbitrary bytes to the accuracy-data reader: it
// must return records with a fraction for top-1 and a positive image
// count, or an error, never panic.
func FuzzReadRecords(f *testing.F) {
	f.Add([]byte(`{"arch":{"ks":[3],"e":[3],"d":[1],"r":8},"top1":0.5,"images":10}` + "\n"))
	f.Add([]byte(`{"arch":{},"top1":1.5,"images":10}` + "\n"))
	f.Add([]byte("{\"top1\":0.9,\"images\":3}\n{\"to"))
	f.Add([]byte(`{"space":"fine","arch":{"ks":[3],"e":[3],"d":[1],"r":8},"top1":0.5,"images":10}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := readRecords(bytes.NewReader(b), "fuzz.jsonl")
		if err != nil {
			return
		}
		for _, r := range recs {
			if _, known := ofa.Spaces[r.Space]; !(r.Top1 >= 0 && r.Top1 <= 1) || r.Images < 1 || (r.Space != "" && !known) {
				t.Fatalf("accepted record %+v", r)
			}
		}
	})
}
