package backends

import (
	"errors"
	"fmt"
	"sort"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/passes"
)

// Backend compiles graphs for its targets. Its cost model and its emitter
// read the same schedule, so Estimate describes the code Emit writes.
type Backend interface {
	// Name is the backend's short name ("c", "hls", ...).
	Name() string
	// Int8 reports whether the backend wants the int8-quantized graph.
	Int8() bool
	// Estimate returns the cost of running g (already through the pass
	// pipeline, quantized if Int8) on target t.
	Estimate(g *ir.Graph, plan *passes.MemoryPlan, t Target) (*Cost, error)
	// Emit writes the artifact for g on target t into dir, which exists and
	// is empty. It must be deterministic: same inputs, same bytes.
	Emit(g *ir.Graph, plan *passes.MemoryPlan, t Target, dir string) error
}

// DoesNotFitError says no schedule of the backend puts the graph on its
// target: it needs more of some resource than the part has. Cost is the
// estimate of the leanest design the backend could build, over the part's
// capacity in the resources Error names, so that a search can price the
// subnet and reject it by its budget like any other that is too big, rather
// than fail (a search always bounds every resource by the target's capacity).
type DoesNotFitError struct {
	Cost   *Cost
	Reason string
}

func (e *DoesNotFitError) Error() string { return e.Reason }

// Cost is what search and reports see of a compiled subnet.
type Cost struct {
	// LatencyMs is the estimated time of one inference.
	LatencyMs float64
	// Resources are the target's limited quantities this design uses, by
	// name: "sram_bytes", "flash_bytes", "dsp", "bram36", "lut", ...
	Resources map[string]float64
	// Layers breaks the estimate down per node, in graph order.
	Layers []LayerCost
}

// LayerCost is one node's share of a Cost.
type LayerCost struct {
	Node      string // the node's result, e.g. "%12"
	Op        string
	Cycles    float64
	LatencyMs float64
	Resources map[string]float64
}

var backendsByName = map[string]Backend{}

// RegisterBackend adds a backend with its targets; backends call it from
// init. Each target's Backend field must name b.
func RegisterBackend(b Backend, ts ...Target) {
	mu.Lock()
	if _, dup := backendsByName[b.Name()]; dup {
		mu.Unlock()
		panic("backends: backend " + b.Name() + " registered twice")
	}
	backendsByName[b.Name()] = b
	mu.Unlock()
	for _, t := range ts {
		if t.Backend != b.Name() {
			panic(fmt.Sprintf("backends: target %s names backend %q, registered by %q", t.Name, t.Backend, b.Name()))
		}
		Register(t)
	}
}

// For returns the backend that compiles target name.
func For(name string) (Backend, Target, error) {
	t, ok := Lookup(name)
	if !ok {
		var names []string
		for _, t := range Targets() {
			names = append(names, t.Name)
		}
		sort.Strings(names)
		return nil, Target{}, fmt.Errorf("unknown target %q (targets: %v; see 'ofac targets')", name, names)
	}
	mu.Lock()
	defer mu.Unlock()
	return backendsByName[t.Backend], t, nil
}

// Verifier is implemented by backends whose artifacts can run on this
// machine (a host build of the C library, a C simulation of the HLS
// design). Verify emits g for t into a scratch folder with inputs as its
// test data, builds and runs it with the host's compiler and returns nil
// only when every output is bit-identical to the int8 interpreter's. A
// missing compiler is reported as an error wrapping ErrNoHostTool.
type Verifier interface {
	Verify(g *ir.Graph, plan *passes.MemoryPlan, t Target, inputs []interp.Tensor) error
	// VerifiedBy says how Verify runs the artifact, for reports
	// ("host build with gcc").
	VerifiedBy() string
}

// ErrNoHostTool says a compiler a host check needs is not installed.
var ErrNoHostTool = errors.New("host compiler not installed")
