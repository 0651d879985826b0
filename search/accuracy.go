package search

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"sync"

	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/train"
)

// Record is one measured subnet: a line of an accuracy-data file.
type Record struct {
	// Space names the supernet's search space (ofa.Spaces) when it has a
	// name: the default, fine and wide spaces take the same architectures,
	// so the arch alone cannot tell which space a predictor must be built for.
	Space string   `json:"space,omitempty"`
	Arch  ofa.Arch `json:"arch"`
	// Top1 is the accuracy on the validation split (a fraction), batch
	// norm recalibrated on training images.
	Top1   float64 `json:"top1"`
	Images int     `json:"images"`
}

// SampleArchs returns n distinct archs of space drawn from seed, in a fixed
// order: the same (space, n, seed) always gives the same list, and a
// shorter list is a prefix of a longer one.
//
// The list opens with the corners, the smallest and the largest subnet at
// each resolution: searches under tight and loose budgets end there, and
// drawing every choice on its own almost never reaches them (the smallest
// default subnet is one draw in 3^25 at a given resolution). The rest come
// from spreadArch, which keeps each choice uniform but spreads subnet sizes
// from corner to corner, so the predictor learns the ends of the space and
// not only its crowded middle (MODELS.md, "Accuracy data near the corners").
func SampleArchs(space *ofa.SearchSpace, n int, seed uint64) []ofa.Arch {
	rng := rand.New(rand.NewPCG(seed, 0xacc))
	seen := map[string]bool{}
	var out []ofa.Arch
	add := func(a ofa.Arch) {
		canonical(space, &a)
		if k := a.JSON(); !seen[k] && len(out) < n {
			seen[k] = true
			out = append(out, a)
		}
	}
	for _, r := range space.Resolutions {
		small, large := space.Smallest(), space.Largest()
		small.R, large.R = r, r
		add(small)
		add(large)
	}
	for tries := 0; len(out) < n && tries < 100*n+1000; tries++ {
		add(spreadArch(space, rng))
	}
	return out
}

// spreadArch draws one size level p uniform in [0, 1] and then each
// kernel, expand and depth choice as the option whose index is drawn from
// Binomial(options-1, p): on its own every choice is still uniform (the
// binomial averaged over a uniform p is), but the choices of one arch lean
// together, so small, middle and large subnets come about equally often
// instead of almost all in the middle. The resolution stays an independent
// uniform draw, so every size is seen at every resolution.
func spreadArch(space *ofa.SearchSpace, rng *rand.Rand) ofa.Arch {
	p := rng.Float64()
	pick := func(opts []int) int {
		i := 0
		for range len(opts) - 1 {
			if rng.Float64() < p {
				i++
			}
		}
		return opts[i]
	}
	a := ofa.Arch{KS: make([]int, space.MaxBlocks()), E: make([]int, space.MaxBlocks()), D: make([]int, len(space.Stages))}
	for i := range a.KS {
		a.KS[i] = pick(space.Kernels)
		a.E[i] = pick(space.Expands)
	}
	for i := range a.D {
		a.D[i] = pick(space.Depths)
	}
	a.R = space.Resolutions[rng.IntN(len(space.Resolutions))]
	return a
}

// canonical sets the unused slots (past a stage's depth) to the smallest
// choices, so two archs that run the same subnet have the same JSON key.
func canonical(space *ofa.SearchSpace, a *ofa.Arch) {
	for st := range space.Stages {
		for j := a.D[st]; j < space.MaxDepth(); j++ {
			i := st*space.MaxDepth() + j
			a.KS[i], a.E[i] = space.Kernels[0], space.Expands[0]
		}
	}
}

// ReadRecords reads an accuracy-data file (JSON lines). A missing file is
// no records. A torn last line (a killed writer) is ignored; any other bad
// line is an error naming it.
func ReadRecords(path string) ([]Record, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readRecords(f, path)
}

func readRecords(r io.Reader, path string) ([]Record, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var out []Record
	lines := bytes.Split(b, []byte("\n"))
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec Record
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			if i == len(lines)-1 { // no newline after it: torn write
				break
			}
			return nil, fmt.Errorf("%s:%d: not an accuracy record: %v", path, i+1, err)
		}
		if !(rec.Top1 >= 0 && rec.Top1 <= 1) || rec.Images < 1 {
			return nil, fmt.Errorf("%s:%d: top1 %v must be a fraction in [0, 1] measured on at least 1 image (images %d)", path, i+1, rec.Top1, rec.Images)
		}
		if _, ok := ofa.Spaces[rec.Space]; rec.Space != "" && !ok {
			return nil, fmt.Errorf("%s:%d: unknown search space %q", path, i+1, rec.Space)
		}
		out = append(out, rec)
	}
	return out, nil
}

// CollectOptions set up accuracy-data collection.
type CollectOptions struct {
	Samples     int    // archs to measure in total
	Seed        uint64 // which archs
	CalibImages int    // training images that recalibrate batch norm
	Batch       int
	Workers     int
	// Progress, if set, is called after each measured arch with the number
	// done (of Samples) so far.
	Progress func(done, total int)
}

// Collect measures the top-1 validation accuracy of opt.Samples subnets of
// net and appends one Record per arch to path as it goes. Archs already in
// path are skipped, so a stopped run continues where it was. The file's
// lines come in completion order; readers sort.
func Collect(net *ofa.Net, splits *data.Splits, path string, o CollectOptions) ([]Record, error) {
	if o.Samples < 1 || o.CalibImages < 1 || o.Batch < 1 || o.Workers < 1 {
		return nil, fmt.Errorf("accuracy data: samples, calibration images, batch and workers must be at least 1")
	}
	done, err := ReadRecords(path)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	space := net.Space.Name()
	for _, r := range done {
		if r.Space != "" && r.Space != space {
			return nil, fmt.Errorf("%s holds subnets of the %s space, and this supernet is of the %s space: measure into another file", path, r.Space, orUnnamed(space))
		}
		if err := net.Space.Validate(r.Arch); err != nil {
			return nil, fmt.Errorf("%s holds an arch of another search space: %v", path, err)
		}
		have[r.Arch.JSON()] = true
	}
	// Every record in the file counts towards o.Samples, also those another
	// seed or an earlier sampler drew: the file ends with o.Samples records.
	var todo []ofa.Arch
	for _, a := range SampleArchs(&net.Space, o.Samples+len(done), o.Seed) {
		if len(done)+len(todo) >= o.Samples {
			break
		}
		if !have[a.JSON()] {
			todo = append(todo, a)
		}
	}
	if err := terminateLine(path); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		mu       sync.Mutex
		firstErr error
		next     int
		count    = len(done)
		total    = len(done) + len(todo)
	)
	var wg sync.WaitGroup
	for range min(o.Workers, max(1, len(todo))) {
		wg.Go(func() {
			for {
				mu.Lock()
				if next >= len(todo) || firstErr != nil {
					mu.Unlock()
					return
				}
				a := todo[next]
				next++
				mu.Unlock()
				acc, err := train.Evaluate(net, a, splits.Train, splits.Val, o.CalibImages, o.Batch)
				rec := Record{Space: space, Arch: a, Top1: acc, Images: splits.Val.Len()}
				line, _ := json.Marshal(rec)
				mu.Lock()
				if err == nil {
					_, err = f.Write(append(line, '\n'))
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				if err == nil {
					done = append(done, rec)
					count++
					if o.Progress != nil {
						o.Progress(count, total)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return done, f.Sync()
}

func orUnnamed(name string) string {
	if name == "" {
		return "unnamed"
	}
	return name
}

// terminateLine drops a torn last line left by a killed writer, so appended
// records start on a line of their own.
func terminateLine(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil || len(b) == 0 || b[len(b)-1] == '\n' {
		return err
	}
	cut := bytes.LastIndexByte(b, '\n') + 1
	return os.Truncate(path, int64(cut))
}
