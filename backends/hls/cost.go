package hls

import (
	"math/bits"

	"github.com/ofac-dev/ofac/ir"
)

// The cost model. Every figure follows from the loop nests the emitter
// writes (emit.go) and the lane counts of the plan:
//
//   - a layer is one perfect loop nest, flattened and pipelined at II=1, so
//     it takes (trips - 1) * II + depth cycles, plus callOverhead for the
//     function's start/done handshake; trips is the product of the loop
//     bounds (lane loops are fully unrolled and do not count);
//   - the design is sequential (the top calls the layers one after the
//     other), so the latency of one image is the sum over layers. The
//     report also gives, as a what-if, the interval a DATAFLOW version with
//     ping-pong buffers would reach: the slowest layer;
//   - DSPs: one int8 multiply-accumulate lane per DSP48E2 (the 27x18
//     multiplier takes the 9-bit offset input times the 8-bit weight; no
//     packing of two MACs per DSP), and dspMul32 DSPs per 32x32-bit
//     multiply of a requantization (MultiplyByQuantizedMultiplier);
//   - memories: arrays are split into banks (one per lane); a bank of at
//     most lutramMaxBits bits goes to LUTRAM (one LUT6 holds 64x1 bits, so
//     ceil(depth/64)*width LUTs), a larger one to 18 Kb block RAM halves in
//     the narrowest aspect ratio that holds its width (2Kx9, 1Kx18, 512x36;
//     the BRAM36 aspect ratios are 4Kx9, 2Kx18, 1Kx36, 512x72). The emitter
//     binds every array with BIND_STORAGE accordingly, so the tool follows
//     the same rule. BRAM36 = BRAM18 / 2;
//   - LUTs and FFs: per-layer control and per-lane datapath constants below.
//     They are estimates in the spirit of hls4ml's resource reports, not
//     calibrated against Vitis (no Vitis on this machine); read them as
//     order-of-magnitude figures and replace them with csynth numbers when a
//     Vitis run is available.
const (
	depthRead    = 2  // address register + block RAM read
	depthMAC     = 3  // DSP48E2 A/B, M and P registers
	depthRequant = 7  // 32x32 multiply (4), rounding shift (2), zero point and clamp (1)
	depthRescale = 6  // an add input's rescale: 32x32 multiply (4) + rounding shift (2)
	depthWrite   = 1  // buffer write
	depthAXI     = 64 // assumed DDR latency of an m_axi burst (the INTERFACE latency Vitis assumes by default)
	callOverhead = 2  // ap_start -> first iteration, last iteration -> ap_done

	dspMul32 = 4 // ceil(32/27) * ceil(32/18) DSP48E2 27x18 multipliers for a 32x32 product (UG579)

	lutLayer, ffLayer     = 300, 400   // loop counters, FSM, address generation
	lutMAC, ffMAC         = 10, 30     // input offset subtract and operand registers around a DSP
	lutAdd32, ffAdd32     = 32, 32     // one 32-bit adder of a lane's adder tree (CARRY8: a LUT per bit)
	lutRequant, ffRequant = 250, 250   // rounding, variable shift, clamp of one requantization
	lutAXI, ffAXI         = 1500, 2000 // an m_axi adapter
	lutTop, ffTop         = 300, 400   // the s_axilite control interface

	lutramMaxBits = 2048 // a bank of up to 2 Kib (a 256-entry table) is LUTRAM

	// A 32x32 requantization multiply bound to fabric (BIND_OP impl=fabric)
	// instead of DSPs: a pipelined LUT multiplier, order of magnitude of the
	// LogiCORE Multiplier's LUT-based figures.
	lutMul32Fabric, ffMul32Fabric = 1000, 1000
)

// ArrayPlan is one array, partitioned into banks.
type ArrayPlan struct {
	Name    string `json:"name"`
	Banks   int    `json:"banks"`
	Depth   int    `json:"depth"` // elements per bank
	Width   int    `json:"width"` // bits per element
	Storage string `json:"storage"`
	BRAM18  int    `json:"bram18"`
	LUT     int    `json:"lut"`
}

func newArray(name string, elements, banks, width int) ArrayPlan {
	a := ArrayPlan{Name: name, Banks: banks, Depth: ceilDiv(elements, banks), Width: width}
	if a.Depth*width <= lutramMaxBits {
		a.Storage = "lutram"
		a.LUT = banks * ceilDiv(a.Depth, 64) * width
		return a
	}
	a.Storage = "bram"
	per := 2048 // 2K x 9
	switch {
	case width > 18:
		per = 512 // 512 x 36
	case width > 9:
		per = 1024 // 1K x 18
	}
	a.BRAM18 = banks * ceilDiv(a.Depth, per) * ceilDiv(width, 36)
	return a
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func ceilLog2(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

// Loop is one loop of a layer's nest, outermost first; the last is the
// pipelined one (the nest is perfect, so the tool flattens it).
type Loop struct {
	Name string `json:"name"`
	Trip int    `json:"trip"`
}

// LayerPlan is one node's loop nest and cost.
type LayerPlan struct {
	Node     string      `json:"node"`
	Op       string      `json:"op"`
	Kind     string      `json:"kind"`
	Func     string      `json:"func"`
	LanesOut int         `json:"lanes_out"` // unrolled output lanes (output channels)
	LanesIn  int         `json:"lanes_in"`  // unrolled reduction lanes (input channels); 1 where none
	Loops    []Loop      `json:"loops"`
	Trips    int64       `json:"trips"`
	II       int         `json:"ii"`
	Depth    int         `json:"depth"`
	Cycles   int64       `json:"cycles"`
	DSP      int         `json:"dsp"`
	BRAM18   int         `json:"bram18"`
	LUT      int         `json:"lut"`
	FF       int         `json:"ff"`
	Arrays   []ArrayPlan `json:"arrays,omitempty"`
	// Mul32 is how many 32x32 requantization multipliers the layer has;
	// Fabric says they are bound to LUTs rather than DSPs (see plan).
	Mul32  int  `json:"mul32"`
	Fabric bool `json:"mul32_fabric,omitempty"`
}

// setFabric moves the layer's 32x32 multipliers between DSPs and LUTs.
func (lp *LayerPlan) setFabric(on bool) {
	if lp.Fabric == on || lp.Mul32 == 0 {
		return
	}
	sign := 1
	if !on {
		sign = -1
	}
	lp.Fabric = on
	lp.DSP -= sign * lp.Mul32 * dspMul32
	lp.LUT += sign * lp.Mul32 * lutMul32Fabric
	lp.FF += sign * lp.Mul32 * ffMul32Fabric
}

// cost computes layer l's plan given the lanes of every class.
func (d *design) cost(l *layer, lanes []int) LayerPlan {
	lp := LayerPlan{Node: l.n.Name(), Op: l.n.Op.String(), Kind: string(l.kind), Func: l.fn, II: 1, LanesOut: 1, LanesIn: 1}
	lanesOf := func(b int) int { return lanes[d.buffers[b].class] }
	requant := l.n.Output.DType == ir.I8
	lp.LUT, lp.FF = lutLayer, ffLayer
	var rq int // requantizing lanes
	switch l.kind {
	case kindLoad, kindStore:
		// Channel by channel in the graph's NCHW order (the AXI side is
		// sequential), one element per cycle.
		var u int
		if l.kind == kindStore {
			u = lanesOf(l.in[0])
		} else {
			u = lanesOf(l.out)
		}
		lp.Loops = []Loop{{"ct", l.c / u}, {"cu", u}, {"p", l.hw}}
		lp.Depth = depthAXI + depthWrite + 1
		lp.LUT += lutAXI
		lp.FF += ffAXI
	case kindConv:
		uo, ui := lanesOf(l.out), lanesOf(l.in[0])
		lp.LanesOut, lp.LanesIn = uo, ui
		lp.Loops = []Loop{{"ot", l.cout / uo}, {"oy", l.oh}, {"ox", l.ow}, {"it", l.cin / ui}, {"ky", l.k}, {"kx", l.k}}
		lp.Depth = depthRead + depthMAC + ceilLog2(ui) + depthWrite
		lp.DSP = uo * ui
		lp.LUT += uo*ui*lutMAC + uo*(ui-1)*lutAdd32
		lp.FF += uo*ui*ffMAC + uo*(ui-1)*ffAdd32
		lp.Arrays = append(lp.Arrays, newArray("w_"+l.fn, l.cout*l.cin*l.k*l.k, uo*ui, 8), newArray("b_"+l.fn, l.cout, uo, 32))
		if requant {
			rq = uo
			lp.Arrays = append(lp.Arrays, newArray("m_"+l.fn, l.cout, uo, 32), newArray("s_"+l.fn, l.cout, uo, 8))
			lp.Arrays = append(lp.Arrays, l.zpArrays(uo)...)
		}
	case kindDW:
		u := lanesOf(l.out)
		lp.LanesOut = u
		lp.Loops = []Loop{{"ct", l.c / u}, {"oy", l.oh}, {"ox", l.ow}, {"ky", l.k}, {"kx", l.k}}
		lp.Depth = depthRead + depthMAC + depthWrite
		lp.DSP = u
		lp.LUT += u * lutMAC
		lp.FF += u * ffMAC
		rq = u
		lp.Arrays = append(lp.Arrays, newArray("w_"+l.fn, l.c*l.k*l.k, u, 8), newArray("b_"+l.fn, l.c, u, 32),
			newArray("m_"+l.fn, l.c, u, 32), newArray("s_"+l.fn, l.c, u, 8))
		lp.Arrays = append(lp.Arrays, l.zpArrays(u)...)
	case kindAdd:
		u := lanesOf(l.out)
		lp.LanesOut = u
		lp.Loops = []Loop{{"p", l.hw}, {"ct", l.c / u}}
		lp.Depth = depthRead + depthRescale + 1 + depthWrite
		lp.Mul32 = 2 * u // the two input rescales; the output one is rq
		lp.LUT += 2 * u * lutRequant
		lp.FF += 2 * u * ffRequant
		rq = u
	case kindMul:
		u := lanesOf(l.out)
		lp.LanesOut = u
		lp.Loops = []Loop{{"p", l.hw}, {"ct", l.c / u}}
		lp.Depth = depthRead + depthMAC + depthWrite
		lp.DSP = u
		lp.LUT += u * lutMAC
		lp.FF += u * ffMAC
		rq = u
	case kindPool:
		u := lanesOf(l.out)
		lp.LanesOut = u
		lp.Loops = []Loop{{"ct", l.c / u}, {"p", l.hw}}
		lp.Depth = depthRead + 1 + depthWrite
		lp.LUT += u * lutAdd32
		lp.FF += u * ffAdd32
		rq = u
	case kindTable:
		u := lanesOf(l.out)
		lp.LanesOut = u
		lp.Loops = []Loop{{"p", l.hw}, {"ct", l.c / u}}
		lp.Depth = depthRead + depthRead + depthWrite
		if l.channelTable() {
			// One table per channel: bank u holds the tables of channels
			// ct*U + u, one after the other.
			lp.Arrays = append(lp.Arrays, newArray("t_"+l.fn, 256*l.c, u, 8))
		} else {
			// One copy of the table per lane.
			lp.Arrays = append(lp.Arrays, newArray("t_"+l.fn, 256*u, u, 8))
		}
	case kindRequant:
		u := lanesOf(l.out)
		lp.LanesOut = u
		lp.Loops = []Loop{{"p", l.hw}, {"ct", l.c / u}}
		lp.Depth = depthRead + 1 + depthWrite
		rq = u
	}
	if rq > 0 {
		lp.Depth += depthRequant
		lp.LUT += rq * lutRequant
		lp.FF += rq * ffRequant
	}
	lp.Mul32 += rq
	lp.DSP += lp.Mul32 * dspMul32
	lp.Trips = 1
	for _, lo := range lp.Loops {
		lp.Trips *= int64(lo.Trip)
	}
	lp.Cycles = (lp.Trips-1)*int64(lp.II) + int64(lp.Depth) + callOverhead
	for _, a := range lp.Arrays {
		lp.BRAM18 += a.BRAM18
		lp.LUT += a.LUT
	}
	return lp
}

// zpArrays are a conv layer's per-channel zero-point arrays, int8 codes
// [C/U][U] like its other per-channel constants: zi_ for a per-channel
// input (depthwise only), zo_ for a per-channel result. Per-tensor zero
// points are literals in the code and need none.
func (l *layer) zpArrays(u int) []ArrayPlan {
	var as []ArrayPlan
	if l.channelInZP() {
		as = append(as, newArray("zi_"+l.fn, l.cin, u, 8))
	}
	if l.channelOutZP() {
		as = append(as, newArray("zo_"+l.fn, l.cout, u, 8))
	}
	return as
}

// BufferPlan is one activation buffer: a slot that values of one lane
// class with disjoint lifetimes share.
type BufferPlan struct {
	Values []string `json:"values"`
	Class  int      `json:"class"`
	ArrayPlan
}

func (d *design) bufferCost(sl *slot, lanes []int) BufferPlan {
	width := 8
	if sl.i32 {
		width = 32
	}
	bp := BufferPlan{Class: sl.class, ArrayPlan: newArray(sl.name, sl.elements, lanes[sl.class], width)}
	for _, b := range sl.buffers {
		bp.Values = append(bp.Values, d.buffers[b].v.Ref())
	}
	return bp
}
