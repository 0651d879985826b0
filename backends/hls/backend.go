package hls

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ofac-dev/ofac/backends"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/passes"
)

// Backend is the HLS C++ backend.
type Backend struct{}

// Name implements backends.Backend.
func (Backend) Name() string { return "hls" }

// Int8 implements backends.Backend: the designs are integer only.
func (Backend) Int8() bool { return true }

// Estimate implements backends.Backend. The memory plan is not used: every
// activation gets its own on-chip buffer partitioned by its lanes, which an
// arena's byte offsets cannot express (reusing buffers of equal lanes is
// future work; see README).
func (Backend) Estimate(g *ir.Graph, _ *passes.MemoryPlan, t backends.Target) (*backends.Cost, error) {
	s, ok := specOf(t)
	if !ok {
		return nil, fmt.Errorf("target %s has no HLS part spec", t.Name)
	}
	p, _, err := compile(g, s, t.Name)
	if err != nil {
		return nil, err
	}
	return costOf(p), nil
}

func costOf(p *Plan) *backends.Cost {
	c := &backends.Cost{
		LatencyMs: p.Total.LatencyMs,
		Resources: map[string]float64{
			"dsp": float64(p.Total.DSP), "bram36": p.Total.BRAM36, "lut": float64(p.Total.LUT), "ff": float64(p.Total.FF),
			"latency_cycles": float64(p.Total.LatencyCycles), "cycles": float64(p.Total.LatencyCycles),
		},
	}
	for _, l := range p.Layers {
		c.Layers = append(c.Layers, backends.LayerCost{
			Node: l.Node, Op: l.Op, Cycles: float64(l.Cycles), LatencyMs: float64(l.Cycles) / (p.ClockMHz * 1e3),
			Resources: map[string]float64{"dsp": float64(l.DSP), "bram36": float64(l.BRAM18) / 2, "lut": float64(l.LUT), "ff": float64(l.FF)},
		})
	}
	return c
}

// Emit implements backends.Backend. The testbench data are DefaultTestImages
// synthetic inputs (see SyntheticInputs); EmitProject takes real ones.
func (b Backend) Emit(g *ir.Graph, plan *passes.MemoryPlan, t backends.Target, dir string) error {
	if len(g.Inputs) != 1 {
		return fmt.Errorf("the HLS backend compiles graphs with one input, %s has %d", g.Name, len(g.Inputs))
	}
	return b.EmitProject(g, t, dir, SyntheticInputs(g, DefaultTestImages))
}

// DefaultTestImages is how many synthetic images Emit writes to tb_data.
const DefaultTestImages = 8

// SyntheticInputs returns n deterministic pseudo-random inputs for g's
// single input, uniform over the range its quantize node represents.
func SyntheticInputs(g *ir.Graph, n int) []interp.Tensor {
	in := g.Inputs[0]
	lo, hi := float32(-1), float32(1)
	for _, nd := range g.Nodes {
		if nd.Op == ir.OpQuantize && nd.Inputs[0] == in && nd.Output.Quant != nil {
			s, z := nd.Output.Quant.Scale[0], float32(nd.Output.Quant.ZeroPoint[0])
			lo, hi = s*(-128-z), s*(127-z)
		}
	}
	rng := rand.New(rand.NewPCG(8, 8))
	out := make([]interp.Tensor, n)
	for i := range out {
		d := make([]float32, in.Shape.NumElements())
		for j := range d {
			d[j] = lo + (hi-lo)*rng.Float32()
		}
		out[i] = interp.Tensor{Shape: in.Shape, Data: d}
	}
	return out
}

// EmitProject writes the project for g on t into dir (which must exist),
// with inputs as the testbench's images and the int8 interpreter's outputs
// on them as its expected results.
func (Backend) EmitProject(g *ir.Graph, t backends.Target, dir string, inputs []interp.Tensor) error {
	s, ok := specOf(t)
	if !ok {
		return fmt.Errorf("target %s has no HLS part spec", t.Name)
	}
	p, d, err := compile(g, s, t.Name)
	if err != nil {
		return err
	}
	return d.writeProject(p, s, dir, inputs)
}

// writeProject writes the project of design d planned as p for part s into
// dir, with inputs as the testbench's images.
func (d *design) writeProject(p *Plan, s Spec, dir string, inputs []interp.Tensor) error {
	g := d.g
	it, err := interp.NewInt8(g)
	if err != nil {
		return fmt.Errorf("int8 interpreter: %w", err)
	}
	var ins, codes, outs strings.Builder
	fmt.Fprintf(&ins, "%d\n", len(inputs))
	codeOf := d.layers[len(d.layers)-1].n.Inputs[0]
	for i, x := range inputs {
		o, all, err := it.RunAll(x)
		if err != nil {
			return fmt.Errorf("int8 interpreter on test image %d: %w", i, err)
		}
		line(&ins, x.Data, fmtFloat)
		line(&codes, all[codeOf].Data, func(f float32) string { return strconv.Itoa(int(f)) })
		line(&outs, o[0].Data, fmtFloat)
	}
	report, err := json.MarshalIndent(newReport(p, s), "", "  ")
	if err != nil {
		return err
	}
	files := []struct {
		name string
		data []byte
	}{
		{"firmware/ofac.h", d.ofacH()},
		{"firmware/fixed.h", fixedH()},
		{"firmware/weights.h", d.weightsH(p)},
		{"firmware/host_io.h", d.hostIOH()},
		{"firmware/ofac.cpp", d.ofacCpp(p)},
		{"tb/tb.cpp", []byte(tbCpp)},
		{"tb_data/inputs.txt", []byte(ins.String())},
		{"tb_data/expected_codes.txt", []byte(codes.String())},
		{"tb_data/expected_outputs.txt", []byte(outs.String())},
		{"Makefile", []byte(makefile)},
		{"build_prj.tcl", []byte(buildTcl(p, s))},
		{"README.md", []byte(readme(d, p, s))},
		{"report.json", append(report, '\n')},
	}
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func fmtFloat(f float32) string { return strconv.FormatFloat(float64(f), 'g', -1, 32) }

func line(b *strings.Builder, vals []float32, f func(float32) string) {
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f(v))
	}
	b.WriteByte('\n')
}

// report is report.json.
type report struct {
	Target      string             `json:"target"`
	Part        string             `json:"part"`
	Device      string             `json:"device"`
	ClockMHz    float64            `json:"clock_mhz"`
	Mode        string             `json:"mode"`
	Total       Totals             `json:"total"`
	Available   map[string]float64 `json:"available"`
	Utilisation map[string]float64 `json:"utilisation"`
	UtilCap     float64            `json:"planner_util_cap"`
	Sources     string             `json:"sources"`
	Plan        *Plan              `json:"plan"`
}

func newReport(p *Plan, s Spec) report {
	return report{
		Target: p.Target, Part: s.Part, Device: s.Device, ClockMHz: s.ClockMHz, Mode: p.Mode, Total: p.Total,
		Available:   map[string]float64{"dsp": float64(s.DSP), "bram36": float64(s.BRAM36), "lut": float64(s.LUT), "ff": float64(s.FF)},
		Utilisation: p.Utilisation(s), UtilCap: UtilCap, Sources: s.Source, Plan: p,
	}
}

func readme(d *design, p *Plan, s Spec) string {
	var b strings.Builder
	u := p.Utilisation(s)
	fmt.Fprintf(&b, "# %s on %s (%s)\n\nGenerated by ofac (backend hls). Part %s, clock %g MHz.\n\n", d.g.Name, p.Target, s.Device, s.Part, s.ClockMHz)
	fmt.Fprintf(&b, "Estimated latency of one image: %d cycles = %.4f ms (sequential: the layers run one after another).\n", p.Total.LatencyCycles, p.Total.LatencyMs)
	fmt.Fprintf(&b, "What-if (not emitted): a DATAFLOW version would start an image every %d cycles (the slowest layer).\n\n", p.Total.DataflowIntervalCycles)
	fmt.Fprintf(&b, "| resource | used | available | utilisation |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| DSP48E2 | %d | %d | %.1f%% |\n| BRAM36 | %g | %d | %.1f%% |\n| LUT | %d | %d | %.1f%% |\n| FF | %d | %d | %.1f%% |\n\n",
		p.Total.DSP, s.DSP, 100*u["dsp"], p.Total.BRAM36, s.BRAM36, 100*u["bram36"], p.Total.LUT, s.LUT, 100*u["lut"], p.Total.FF, s.FF, 100*u["ff"])
	b.WriteString(`## Layout

- firmware/ofac.cpp: ofac_top (the synthesis top) and one function per graph node.
- firmware/weights.h: weights, per-channel requantization constants and activation tables, laid out for the plan's lanes.
- firmware/fixed.h: the fixed-point requantization (bit-exact with ofac's int8 interpreter).
- firmware/ofac.h: the accelerator's interface; firmware/host_io.h: the float boundary (quantize the input, dequantize the output), which runs on the host.
- tb/tb.cpp, tb_data/: the C-simulation testbench and its data: input images, and the int8 interpreter's output codes and dequantized outputs.
- build_prj.tcl: Vitis HLS (csim, csynth, cosim, export); ` + "`vitis_hls -f build_prj.tcl`" + `.
- Makefile: ` + "`make csim`" + ` builds the testbench with plain g++ (-std=c++14 -O2, pragmas ignored) and checks every output bit for bit.
- report.json: the plan (lanes, loop nests, per-layer cycles and resources) and the totals.

## Design

The top calls the layers in graph order. Each layer is one perfect loop nest pipelined at II=1; its lane
loops (output channels, input channels) are fully unrolled. Activations live on chip, channels last, as
[pixels*C/L][L] arrays whose lane dimension is completely partitioned, so every lane owns a bank.
Weights are const arrays (ROMs) partitioned the same way. Banks of at most 2 Kib are LUTRAM, larger ones block RAM.

Latency of a layer = (iterations - 1) x II + pipeline depth + 2; the design's latency is the sum.
DSPs: one per int8 MAC lane, four per 32x32 requantization multiply. LUT and FF figures are model
estimates, not synthesis results: compare them with csynth's report.

## Lanes per layer

| node | op | lanes out | lanes in | iterations | cycles | DSP | BRAM18 | LUT |
|---|---|---|---|---|---|---|---|---|
`)
	for _, l := range p.Layers {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %d | %d | %d | %d |\n", l.Node, l.Op, l.LanesOut, l.LanesIn, l.Trips, l.Cycles, l.DSP, l.BRAM18, l.LUT)
	}
	return b.String()
}
