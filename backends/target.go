package backends

import (
	"sort"
	"sync"
)

// Target is one piece of hardware a backend compiles for.
type Target struct {
	// Name is what users pass to --target, e.g. "mcu-m7".
	Name string
	// Backend names the code generator, e.g. "c" or "hls".
	Backend string
	// Summary is one line for `ofac targets`.
	Summary string
	// Spec is the backend's own description of the hardware (clock,
	// memories, compute units, each figure with its source).
	Spec any
	// Capacity is how much of each resource the target has, keyed like
	// Cost.Resources ("sram_bytes", "dsp", ...): what reports print usage
	// against and what search constraints default to.
	Capacity map[string]float64
}

var (
	mu      sync.Mutex
	targets = map[string]Target{}
)

// Register adds a target; backends call it from init. A second target with
// the same name is a programming error.
func Register(t Target) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := targets[t.Name]; dup {
		panic("backends: target " + t.Name + " registered twice")
	}
	targets[t.Name] = t
}

// Targets lists the registered targets sorted by name.
func Targets() []Target {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Target, 0, len(targets))
	for _, t := range targets {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a target by name.
func Lookup(name string) (Target, bool) {
	mu.Lock()
	defer mu.Unlock()
	t, ok := targets[name]
	return t, ok
}
