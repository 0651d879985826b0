package c

import (
	"fmt"

	"github.com/ofac-dev/ofac/backends"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/passes"
)

// The cost model prices the schedule's kernel calls from their loop
// structure. All cycle constants are first-principles estimates for the
// plain C kernels compiled with GCC at -O2/-Os, built from the Cortex-M4 and
// Cortex-M7 Technical Reference Manuals' instruction timings (M4: LDR/LDRSB
// 2 cycles, 1 when pipelined behind another load; MUL/MLA/SMULL/SMLAD 1
// cycle; a taken branch 1 + 1..3 refill cycles. M7: dual issue, so roughly
// half the M4 count for the same instruction stream). They are not fitted
// to measurements: QEMU is not cycle-accurate and no board is attached to
// this project's machines.
//
// Published figures they are checked against:
//   - CMSIS-NN (Lai, Suda, Chandra 2018, arXiv:1801.06601): a CIFAR-10 CNN
//     (about 12.3 M MACs: 5x5 convs of 32, 32 and 64 channels) in 99.1 ms on
//     a Cortex-M7 at 216 MHz, i.e. about 1.7 cycles per MAC end to end with
//     SMLAD-based kernels. That is MACDSP for the M7 below; the plain C
//     kernels ofac emits today use no SIMD, hence the 2x higher MAC costs.
//   - MCUNet/TinyEngine README (STM32H743, 480 MHz): mcunet-vww1 51 ms with
//     TinyEngine against 1120 ms with TF Lite Micro reference kernels: a
//     20x spread between specialised SIMD kernels and portable C loops,
//     which brackets the plain-C constants (they sit between the two).
//
// Flash and code-size constants are measured: arm-none-eabi-gcc 12.2 -Os
// -mthumb, per kernel function (.text bytes), and per call site (bytes per
// argument) on this toolchain; TestSizesAgree checks the total within 10%.

// coreCost is the per-core table.
type coreCost struct {
	MACPointwise float64 // cycles per MAC, conv_pw inner loop (LDRSB x2, MLA, loop)
	MACDepthwise float64 // conv_dw inner loop (+ zero-point subtract, indexed load)
	MACConv      float64 // generic conv inner loop
	MACDense     float64
	MACDSP       float64 // with SMLAD (2 16-bit MACs per instruction); not used by the emitted kernels yet
	Row          float64 // per inner-loop entry: bounds, row pointer, loop set-up
	Requant      float64 // per output: SMULL, 64-bit rounding, rounding shift, clamp, store
	Add          float64 // per element: two rescales and a requantization
	Mul          float64 // per element: one multiply and a requantization
	LUT          float64 // per element: load, table load, store, loop
	Copy         float64 // per byte: load, store, loop
	Sum          float64 // per element summed by global average pooling
	Call         float64 // per kernel call: argument set-up (many on the stack), prologue, epilogue
}

var coreCosts = map[string]coreCost{
	"cortex-m4": {MACPointwise: 6, MACDepthwise: 7, MACConv: 7, MACDense: 6, MACDSP: 2.0,
		Row: 10, Requant: 28, Add: 70, Mul: 34, LUT: 7, Copy: 5, Sum: 5, Call: 50},
	"cortex-m7": {MACPointwise: 3, MACDepthwise: 3.5, MACConv: 3.5, MACDense: 3, MACDSP: 1.7,
		Row: 5, Requant: 15, Add: 38, Mul: 18, LUT: 3.5, Copy: 2.5, Sum: 2.5, Call: 30},
}

// Code size in bytes of Thumb-2, arm-none-eabi-gcc 12.2 -mcpu=cortex-m4
// -Os -ffunction-sections, measured per function with
// arm-none-eabi-size -A (the requantization helpers are inlined into each
// kernel but the multiply-by-quantized-multiplier, counted once).
var kernelCodeBytes = map[string]int64{
	"add": 130, "conv": 540, "conv_dw": 486, "conv_pw": 188, "copy": 18,
	"dense_i32": 60, "dense_i8": 152, "gap": 128, "lut": 24, "lut_c": 62, "mul": 172, "requant": 100,
}

// Stack frames in bytes from -fstack-usage on the same build.
var kernelStackBytes = map[string]int64{
	"add": 48, "conv": 184, "conv_dw": 168, "conv_pw": 64, "copy": 8,
	"dense_i32": 32, "dense_i8": 64, "gap": 48, "lut": 12, "lut_c": 28, "mul": 64, "requant": 48,
}

const (
	// helperCodeBytes is the shared helpers left out of line (mbqm).
	helperCodeBytes = 224
	helperStack     = 16
	// ofa_model_run: a fixed part, then per call a BL and per argument
	// about one 4-byte load or move and store (literal pool included).
	runCodeBytes  = 24
	callCodeBytes = 4
	argCodeBytes  = 4
	// runStackBytes is ofa_model_run's frame (outgoing stack arguments).
	runStackBytes = 128
)

type layerEstimate struct{ cycles float64 }

type estimateResult struct {
	layers                                    []layerEstimate
	cycles, latencyMs                         float64
	sram, stack, flash, constBytes, codeBytes int64
}

func (c coreCost) macCycles(kernel string) float64 {
	switch kernel {
	case "conv_pw":
		return c.MACPointwise
	case "conv_dw":
		return c.MACDepthwise
	case "conv":
		return c.MACConv
	}
	return c.MACDense
}

func (c coreCost) elemCycles(kernel string) float64 {
	switch kernel {
	case "add":
		return c.Add
	case "mul":
		return c.Mul
	case "lut", "lut_c":
		return c.LUT
	case "copy":
		return c.Copy
	case "gap":
		return c.Sum
	case "requant":
		return c.Requant
	}
	return 0
}

func estimate(s *schedule, spec Spec) *estimateResult {
	cc := coreCosts[spec.Core]
	r := &estimateResult{}
	for _, st := range s.steps {
		cyc := cc.Call + float64(st.macs)*cc.macCycles(st.kernel) + float64(st.rows)*cc.Row + float64(st.elems)*cc.elemCycles(st.kernel) + float64(st.copy)*cc.Copy
		switch st.kernel {
		case "conv_pw", "conv_dw", "conv", "dense_i8", "gap":
			cyc += float64(st.outs) * cc.Requant
		}
		r.layers = append(r.layers, layerEstimate{cycles: cyc})
		r.cycles += cyc
	}
	r.latencyMs = r.cycles / spec.ClockHz * 1e3
	r.constBytes = s.constBytes()
	r.codeBytes = runCodeBytes
	used := s.kernelsUsed()
	if needsHelpers(used) {
		r.codeBytes += helperCodeBytes
	}
	for _, k := range used {
		r.codeBytes += kernelCodeBytes[k]
	}
	for _, st := range s.steps {
		r.codeBytes += callCodeBytes + argCodeBytes*int64(len(st.args))
	}
	r.flash = r.constBytes + r.codeBytes
	r.stack = runStackBytes + helperStack
	var deepest int64
	for _, k := range used {
		deepest = max(deepest, kernelStackBytes[k])
	}
	r.stack += deepest
	r.sram = s.plan.ArenaBytes + r.stack
	return r
}

// Estimate implements backends.Backend.
func (Backend) Estimate(g *ir.Graph, plan *passes.MemoryPlan, t backends.Target) (*backends.Cost, error) {
	spec, err := specOf(t)
	if err != nil {
		return nil, err
	}
	if _, ok := coreCosts[spec.Core]; !ok {
		return nil, fmt.Errorf("c backend: no cost table for core %s", spec.Core)
	}
	s, err := buildSchedule(g, plan)
	if err != nil {
		return nil, err
	}
	e := estimate(s, spec)
	c := &backends.Cost{LatencyMs: e.latencyMs, Resources: map[string]float64{
		"sram_bytes": float64(e.sram), "flash_bytes": float64(e.flash),
		"arena_bytes": float64(plan.ArenaBytes), "stack_bytes": float64(e.stack),
		"const_bytes": float64(e.constBytes), "code_bytes": float64(e.codeBytes), "cycles": e.cycles,
	}}
	for i, st := range s.steps {
		node, op := "", "output"
		if st.node != nil {
			node, op = st.node.Output.Ref(), st.node.Op.String()
		}
		c.Layers = append(c.Layers, backends.LayerCost{Node: node, Op: op, Cycles: e.layers[i].cycles,
			LatencyMs: e.layers[i].cycles / spec.ClockHz * 1e3, Resources: map[string]float64{"macs": float64(st.macs)}})
	}
	return c, nil
}
