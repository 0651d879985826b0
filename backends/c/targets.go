package c

import (
	"fmt"

	"github.com/ofac-dev/ofac/backends"
)

// Spec describes one microcontroller target. Every figure carries its source
// in the comment of the table below.
type Spec struct {
	Part       string // the reference part
	Core       string // "cortex-m4" or "cortex-m7" (-mcpu)
	ClockHz    float64
	SRAMBytes  int64 // the largest contiguous data RAM the arena can live in
	FlashBytes int64
	DSP        bool   // ARMv7E-M DSP extension (SMLAD, SXTB16, ...)
	FPU        string // -mfpu for the example build flags
	Source     string // the datasheet the figures come from
}

// Targets are the microcontrollers the backend compiles for.
//
// Sources (ST datasheets, public on st.com):
//   - STM32F405xx/STM32F407xx datasheet DS8626: Cortex-M4 with FPU and DSP
//     instructions, up to 168 MHz, up to 1 Mbyte flash, up to 192 Kbytes
//     SRAM (112 + 16 + 64 KB CCM data RAM; CCM is usable for an arena, not by
//     DMA).
//   - STM32F745xx/STM32F746xx datasheet DS10916: Cortex-M7 with FPU, up to
//     216 MHz, up to 1 Mbyte flash, 320 Kbytes SRAM (including 64 KB DTCM)
//     plus 16 KB ITCM. MCUNet's board (STM32F746G-DISCO).
//   - STM32H742xI/G STM32H743xI/G datasheet DS12110: Cortex-M7 with DP FPU,
//     up to 480 MHz, up to 2 Mbytes flash, 1 Mbyte RAM of which 512 KB AXI
//     SRAM is the largest contiguous block (we count only that), plus
//     128 KB DTCM, 64 KB ITCM and 288 KB in the D2/D3 domains. TinyEngine's
//     board. The same memory breakdown is shown in
//     https://0xhenry.dev/en/study/stm32-architecture (secondary source).
//
// All three cores implement ARMv7E-M, whose DSP extension is part of the
// architecture for M4 and M7 (Arm Cortex-M4/M7 Technical Reference Manuals).
var Targets = []backends.Target{
	target("mcu-m4", Spec{Part: "STM32F407", Core: "cortex-m4", ClockHz: 168e6, SRAMBytes: 192 << 10, FlashBytes: 1 << 20, DSP: true, FPU: "fpv4-sp-d16", Source: "ST DS8626"}),
	target("mcu-m7", Spec{Part: "STM32F746", Core: "cortex-m7", ClockHz: 216e6, SRAMBytes: 320 << 10, FlashBytes: 1 << 20, DSP: true, FPU: "fpv5-sp-d16", Source: "ST DS10916"}),
	target("mcu-h7", Spec{Part: "STM32H743", Core: "cortex-m7", ClockHz: 480e6, SRAMBytes: 512 << 10, FlashBytes: 2 << 20, DSP: true, FPU: "fpv5-d16", Source: "ST DS12110"}),
}

func target(name string, s Spec) backends.Target {
	return backends.Target{
		Name:    name,
		Backend: "c",
		Summary: fmt.Sprintf("%s (%s, %.0f MHz, %d KB SRAM, %d KB flash; %s): int8 C99 library",
			s.Part, s.Core, s.ClockHz/1e6, s.SRAMBytes>>10, s.FlashBytes>>10, s.Source),
		Spec:     s,
		Capacity: map[string]float64{"sram_bytes": float64(s.SRAMBytes), "flash_bytes": float64(s.FlashBytes)},
	}
}

func init() {
	backends.RegisterBackend(Backend{}, Targets...)
}

// specOf returns t's Spec or an error when t is not one of this backend's.
func specOf(t backends.Target) (Spec, error) {
	s, ok := t.Spec.(Spec)
	if !ok {
		return Spec{}, fmt.Errorf("target %s is not a microcontroller target of the c backend", t.Name)
	}
	return s, nil
}
