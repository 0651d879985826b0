// Package c (import path github.com/ofac-dev/ofac/backends/c, imported as
// cmcu where the name c would read badly) is ofac's microcontroller backend:
// it turns an int8 graph (passes.Run with Options.Int8) and its memory plan
// (passes.PlanMemory) into a C99 library for Cortex-M firmware, and
// estimates its cycles, SRAM and flash from the same schedule.
//
// The emitted folder holds:
//
//	ofa_model.h            the API: arena size, input/output shapes and
//	                       quantization, int ofa_model_run(in, out, arena)
//	ofa_model.c            the network as straight-line kernel calls with
//	                       constant shapes and arena offsets
//	ofa_model_weights.c/.h weights, biases, requantization constants and
//	                       lookup tables as const arrays (flash)
//	ofa_model_kernels.c/.h only the kernels this model uses
//	Makefile, CMakeLists.txt, README.md, example/main.c, report.json
//
// Kernels are integer-only (no float, malloc, stdio or libm) and reproduce
// the int8 interpreter (ir/interp Int8) bit for bit: they implement the
// loops of ir/interp/int8_kernels.go with the constants of ir.IntegerParams.
// Two integer identities are used that cannot change a result while no
// int32 accumulator overflows (the interpreter's wrap-around and C's
// undefined behaviour only differ there): accumulation order, and folding
// -zp_x * sum(w) into the bias of unpadded convolutions and dense layers.
//
// The library assumes an arithmetic right shift of negative integers
// (implementation-defined in C99; GCC, Clang and Arm Compiler all do it);
// ofa_model_kernels.c refuses to compile otherwise.
package c
