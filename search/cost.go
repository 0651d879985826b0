package search

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	"github.com/ofac-dev/ofac/backends"
	"github.com/ofac-dev/ofac/frontend"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/passes"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

// Cost is what search sees of a subnet on a target: latency and the
// target's limited resources, keyed like backends.Cost.Resources.
type Cost struct {
	LatencyMs float64            `json:"latency_ms"`
	Resources map[string]float64 `json:"resources"`
}

// Value returns the cost under a constraint name: "latency_ms" or a
// resource key. ok is false when the cost has no such figure.
func (c Cost) Value(name string) (v float64, ok bool) {
	if name == LatencyKey {
		return c.LatencyMs, true
	}
	v, ok = c.Resources[name]
	return v, ok
}

// LatencyKey names the latency in constraints.
const LatencyKey = "latency_ms"

// CostModel answers what a subnet costs on one target. Search calls only
// this. Implementations must be safe for concurrent use and deterministic.
type CostModel interface {
	Cost(a ofa.Arch) (Cost, error)
}

// BackendCost is the cost model of a real backend: the subnet is extracted
// from a network of the space, built as IR, run through the pass pipeline
// (int8 when the backend wants it), memory-planned and priced by the
// backend's Estimate. Weights do not matter for cost, only shapes, so the
// network may be untrained; int8 calibration runs on CalibSamples fixed
// pseudo-random inputs. Results are cached per architecture. A subnet the
// backend cannot fit on the part at all (backends.DoesNotFitError) costs
// its leanest design, over the part's capacity: constraints must bound the
// target's resources to reject it, as ofac search's always do.
type BackendCost struct {
	Net          *ofa.Net
	Backend      backends.Backend
	Target       backends.Target
	CalibSamples int

	mu    sync.Mutex
	cache map[string]Cost
	// Misses counts estimates actually computed (cache misses).
	Misses int
}

// DefaultCalibSamples is how many synthetic images calibrate the int8
// ranges of a graph built only for its cost.
const DefaultCalibSamples = 1

// NewBackendCost returns the cost model of target for the subnets of net.
func NewBackendCost(net *ofa.Net, target string) (*BackendCost, error) {
	b, t, err := backends.For(target)
	if err != nil {
		return nil, err
	}
	return &BackendCost{Net: net, Backend: b, Target: t, CalibSamples: DefaultCalibSamples, cache: map[string]Cost{}}, nil
}

// Cost implements CostModel.
func (m *BackendCost) Cost(a ofa.Arch) (Cost, error) {
	key := Key(&m.Net.Space, a)
	m.mu.Lock()
	c, ok := m.cache[key]
	m.mu.Unlock()
	if ok {
		return c, nil
	}
	full, err := m.Estimate(a)
	var tooBig *backends.DoesNotFitError
	if errors.As(err, &tooBig) {
		full, err = tooBig.Cost, nil // over the target's capacity: the budget rejects it
	}
	if err != nil {
		return Cost{}, err
	}
	c = Cost{LatencyMs: full.LatencyMs, Resources: full.Resources}
	m.mu.Lock()
	m.cache[key] = c
	m.Misses++
	m.mu.Unlock()
	return c, nil
}

// Estimate compiles a for cost and returns the backend's full estimate,
// per-layer breakdown included. It is not cached.
func (m *BackendCost) Estimate(a ofa.Arch) (*backends.Cost, error) {
	if err := m.Net.Space.Validate(a); err != nil {
		return nil, err
	}
	g, err := frontend.Subnet("subnet", m.Net.Extract(a, nil))
	if err != nil {
		return nil, err
	}
	return Compile(g, m.Backend, m.Target, SyntheticCalibration(g, m.CalibSamples))
}

// Compile runs g through the pass pipeline (int8 with calib when the
// backend wants it), plans its memory and returns the backend's estimate.
// g is rewritten in place.
func Compile(g *ir.Graph, b backends.Backend, t backends.Target, calib [][]passes.Sample) (*backends.Cost, error) {
	opts := passes.Options{Int8: b.Int8()}
	if opts.Int8 {
		opts.Calibration = calib
	}
	if err := passes.Run(g, &opts); err != nil {
		return nil, err
	}
	plan, err := passes.PlanMemory(g, passes.PlanOptions{ExternalInputs: true})
	if err != nil {
		return nil, err
	}
	return b.Estimate(g, plan, t)
}

// SyntheticCalibration returns n fixed pseudo-random inputs for g's single
// input, uniform over the range of normalised pixels: enough for the
// quantize pass to have ranges when only the graph's shape matters.
func SyntheticCalibration(g *ir.Graph, n int) [][]passes.Sample {
	in := g.Inputs[0].Shape
	rng := rand.New(rand.NewPCG(0xc05, 0x7))
	out := make([][]passes.Sample, n)
	for i := range out {
		d := make([]float32, in.NumElements())
		for j := range d {
			d[j] = 4*rng.Float32() - 2
		}
		out[i] = []passes.Sample{{Shape: in, Data: d}}
	}
	return out
}

// Constraints are upper bounds by name: LatencyKey or a resource key.
type Constraints map[string]float64

// Names returns the constrained names sorted, latency first.
func (c Constraints) Names() []string {
	names := make([]string, 0, len(c))
	for k := range c {
		if k != LatencyKey {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	if _, ok := c[LatencyKey]; ok {
		names = append([]string{LatencyKey}, names...)
	}
	return names
}

// Violation describes the first constraint cost breaks, or "" when it fits.
func (c Constraints) Violation(cost Cost) string {
	for _, k := range c.Names() {
		v, ok := cost.Value(k)
		if !ok {
			return fmt.Sprintf("the cost model reports no %s", k)
		}
		if v > c[k] {
			return fmt.Sprintf("%s %s > %s", k, FormatValue(k, v), FormatValue(k, c[k]))
		}
	}
	return ""
}

// Fits reports whether cost meets every constraint.
func (c Constraints) Fits(cost Cost) bool { return c.Violation(cost) == "" }

// String lists the constraints, e.g. "latency_ms <= 5ms, sram_bytes <= 320KB".
func (c Constraints) String() string {
	var parts []string
	for _, k := range c.Names() {
		parts = append(parts, k+" <= "+FormatValue(k, c[k]))
	}
	return strings.Join(parts, ", ")
}
