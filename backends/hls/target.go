// Package hls compiles int8 subnets to Vitis HLS C++ projects for Zynq
// UltraScale+ parts (targets fpga-zu9 and fpga-zu3).
//
// The design is sequential: the top function calls one function per graph
// node in graph order, each a perfect loop nest pipelined at II=1 whose lane
// loops (output channels, input channels, or channels for per-channel ops)
// are fully unrolled. Every activation has its own on-chip buffer laid out
// [pixels*C/L][L] (channels last, L lanes) with the lane dimension completely
// partitioned, so every lane reads and writes its own bank and every bank
// index is a compile-time constant. The number of lanes L is chosen per
// "lane class" (values that must share a layout, see plan.go) by the
// planner, under the part's DSP, BRAM, LUT and FF budget.
//
// The planner (plan.go) produces a Plan; the cost model (cost.go) and the
// emitter (emit.go) both read it, so the estimate describes the code
// written. Estimates are a model, not Vitis reports: see README.md of an
// emitted project and the constants in cost.go.
package hls

import "github.com/ofac-dev/ofac/backends"

// Spec describes one FPGA part: what the planner budgets and the cost model
// divides by. Source names where each figure comes from.
type Spec struct {
	Part     string  // Vivado part name, for set_part
	Device   string  // device and board
	DSP      int     // DSP48E2 slices
	LUT      int     // CLB LUTs
	FF       int     // CLB flip-flops
	BRAM36   int     // 36 Kb block RAMs (each two 18 Kb halves)
	ClockMHz float64 // the clock the design is planned for
	Source   string
}

// ClockPeriodNs is the clock period for create_clock.
func (s Spec) ClockPeriodNs() float64 { return 1000 / s.ClockMHz }

// ds891 is the data sheet every resource figure below is taken from:
// AMD/Xilinx DS891, "Zynq UltraScale+ MPSoC Data Sheet: Overview", table
// "Zynq UltraScale+ MPSoC: EG Device Feature Summary" (rows System Logic
// Cells / CLB Flip-Flops / CLB LUTs / Block RAM Blocks / DSP Slices). The
// search corpus of this session did not return the PDF itself; the figures
// are those of /work/shared/reference/targets.md, which match DS891 v1.x.
const ds891 = "AMD/Xilinx DS891 Zynq UltraScale+ MPSoC Data Sheet: Overview, EG Device Feature Summary"

// ZU9 is the ZU9EG of the ZCU102 evaluation board.
var ZU9 = Spec{
	Part:     "xczu9eg-ffvb1156-2-e", // ZCU102 board part (UG1182 ZCU102 user guide)
	Device:   "Zynq UltraScale+ ZU9EG, ZCU102",
	DSP:      2520,   // DS891: ZU9EG DSP slices 2,520
	LUT:      274080, // DS891: ZU9EG CLB LUTs 274,080
	FF:       548160, // DS891: ZU9EG CLB flip-flops 548,160
	BRAM36:   912,    // DS891: ZU9EG block RAM 912 x 36 Kb (32.1 Mb)
	ClockMHz: 200,    // 5 ns, the hls4ml default clock period
	Source:   ds891 + "; clock: hls4ml default 5 ns",
}

// ZU3 is the ZU3EG of the Ultra96 board.
var ZU3 = Spec{
	Part:     "xczu3eg-sbva484-1-e", // Ultra96 (v1); the Ultra96-V2 board files name xczu3eg-sbva484-1-i
	Device:   "Zynq UltraScale+ ZU3EG, Ultra96",
	DSP:      360,    // DS891: ZU3EG DSP slices 360
	LUT:      70560,  // DS891: ZU3EG CLB LUTs 70,560
	FF:       141120, // DS891: ZU3EG CLB flip-flops 141,120
	BRAM36:   216,    // DS891: ZU3EG block RAM 216 x 36 Kb (7.6 Mb)
	ClockMHz: 200,    // the same 5 ns target as fpga-zu9
	Source:   ds891 + "; clock: hls4ml default 5 ns",
}

func init() {
	backends.RegisterBackend(Backend{},
		backends.Target{Name: "fpga-zu9", Backend: "hls", Spec: ZU9, Capacity: ZU9.capacity(),
			Summary: "Zynq UltraScale+ ZU9EG (ZCU102): Vitis HLS C++ project, int8, 200 MHz"},
		backends.Target{Name: "fpga-zu3", Backend: "hls", Spec: ZU3, Capacity: ZU3.capacity(),
			Summary: "Zynq UltraScale+ ZU3EG (Ultra96): Vitis HLS C++ project, int8, 200 MHz"},
	)
}

// capacity lists the part's resources under the keys Cost.Resources uses.
func (s Spec) capacity() map[string]float64 {
	return map[string]float64{"dsp": float64(s.DSP), "lut": float64(s.LUT), "ff": float64(s.FF), "bram36": float64(s.BRAM36)}
}

// specOf returns t's part spec.
func specOf(t backends.Target) (Spec, bool) {
	switch s := t.Spec.(type) {
	case Spec:
		return s, true
	case *Spec:
		return *s, s != nil
	}
	return Spec{}, false
}
