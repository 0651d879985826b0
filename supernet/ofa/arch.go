package ofa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// Arch picks one subnet: a kernel size and expand ratio per block slot
// (MaxBlocks of each, slots past a stage's depth are ignored but must still
// be valid), a depth per stage and an input resolution. The JSON names are
// the reference implementation's.
type Arch struct {
	KS []int `json:"ks"`
	E  []int `json:"e"`
	D  []int `json:"d"`
	R  int   `json:"r"`
}

// Largest is the biggest subnet of the space at 28x28 (see nativeRes).
func (s *SearchSpace) Largest() Arch {
	return s.uniform(s.Kernels[len(s.Kernels)-1], s.Expands[len(s.Expands)-1], s.MaxDepth(), s.nativeRes())
}

// Smallest is the smallest subnet of the space at 28x28 (resolution is
// pinned to the data's native size so its accuracy is comparable).
func (s *SearchSpace) Smallest() Arch {
	return s.uniform(s.Kernels[0], s.Expands[0], s.Depths[0], s.nativeRes())
}

// nativeRes is 28, the data's own size, when the space has it, and its
// largest resolution otherwise.
func (s *SearchSpace) nativeRes() int {
	if contains(s.Resolutions, 28) {
		return 28
	}
	return s.Resolutions[len(s.Resolutions)-1]
}

func (s *SearchSpace) uniform(k, e, d, r int) Arch {
	a := Arch{KS: make([]int, s.MaxBlocks()), E: make([]int, s.MaxBlocks()), D: make([]int, len(s.Stages)), R: r}
	for i := range a.KS {
		a.KS[i], a.E[i] = k, e
	}
	for i := range a.D {
		a.D[i] = d
	}
	return a
}

// Random draws every choice uniformly.
func (s *SearchSpace) Random(rng *rand.Rand) Arch {
	a := Arch{KS: make([]int, s.MaxBlocks()), E: make([]int, s.MaxBlocks()), D: make([]int, len(s.Stages))}
	for i := range a.KS {
		a.KS[i] = s.Kernels[rng.IntN(len(s.Kernels))]
		a.E[i] = s.Expands[rng.IntN(len(s.Expands))]
	}
	for i := range a.D {
		a.D[i] = s.Depths[rng.IntN(len(s.Depths))]
	}
	a.R = s.Resolutions[rng.IntN(len(s.Resolutions))]
	return a
}

// Validate reports every way a does not belong to the space.
func (s *SearchSpace) Validate(a Arch) error {
	var problems []string
	check := func(name string, vals []int, want int, allowed []int) {
		if len(vals) != want {
			problems = append(problems, fmt.Sprintf("%q has %d entries, want %d", name, len(vals), want))
			return
		}
		for i, v := range vals {
			if !contains(allowed, v) {
				problems = append(problems, fmt.Sprintf("%q[%d] is %d, want one of %s", name, i, v, list(allowed)))
			}
		}
	}
	check("ks", a.KS, s.MaxBlocks(), s.Kernels)
	check("e", a.E, s.MaxBlocks(), s.Expands)
	check("d", a.D, len(s.Stages), s.Depths)
	if !contains(s.Resolutions, a.R) {
		problems = append(problems, fmt.Sprintf("\"r\" is %d, want one of %s", a.R, list(s.Resolutions)))
	}
	if len(problems) > 0 {
		return errors.New("arch: " + strings.Join(problems, "; "))
	}
	return nil
}

// ParseArch reads an arch spec from JSON, rejecting unknown fields, and
// validates it against the space.
func (s *SearchSpace) ParseArch(b []byte) (Arch, error) {
	var a Arch
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return Arch{}, fmt.Errorf("arch: not a valid spec: %v (want {\"ks\": [...], \"e\": [...], \"d\": [...], \"r\": 28})", err)
	}
	if dec.More() {
		return Arch{}, errors.New("arch: unexpected data after the JSON object")
	}
	return a, s.Validate(a)
}

// ResolveArch turns a command-line choice into an arch: "largest",
// "smallest", "random:SEED" or the path of a JSON spec.
func (s *SearchSpace) ResolveArch(choice string) (Arch, error) {
	switch {
	case choice == "largest":
		return s.Largest(), nil
	case choice == "smallest":
		return s.Smallest(), nil
	case strings.HasPrefix(choice, "random:"):
		seed, err := strconv.ParseUint(strings.TrimPrefix(choice, "random:"), 10, 64)
		if err != nil {
			return Arch{}, fmt.Errorf("arch %q: want random:SEED with a non-negative integer seed", choice)
		}
		return s.Random(rand.New(rand.NewPCG(seed, 0x0fa))), nil
	}
	b, err := os.ReadFile(choice)
	if err != nil {
		return Arch{}, fmt.Errorf("arch %q is not largest, smallest, random:SEED or a readable JSON file: %v", choice, err)
	}
	a, err := s.ParseArch(b)
	if err != nil {
		return Arch{}, fmt.Errorf("%s: %w", choice, err)
	}
	return a, nil
}

// JSON is the arch as one line of canonical JSON.
func (a Arch) JSON() string {
	b, _ := json.Marshal(a) // ints and slices of ints cannot fail
	return string(b)
}

// Count is the number of distinct subnets per resolution: blocks beyond a
// stage's depth do not count as choices.
func (s *SearchSpace) Count() *big.Int {
	perBlock := big.NewInt(int64(len(s.Kernels) * len(s.Expands)))
	perStage := new(big.Int)
	for _, d := range s.Depths {
		perStage.Add(perStage, new(big.Int).Exp(perBlock, big.NewInt(int64(d)), nil))
	}
	return new(big.Int).Exp(perStage, big.NewInt(int64(len(s.Stages))), nil)
}

func contains(xs []int, v int) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}

func list(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}
