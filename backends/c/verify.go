package c

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ofac-dev/ofac/backends"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/passes"
)

// hostRunner is the host program of a check: it reads input codes from
// argv[1] and writes the outputs to argv[2], running each image on a
// freshly scribbled, exactly sized heap arena (so a sanitizer sees any read
// past it and a stale-arena dependency shows up as a mismatch).
const hostRunner = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ofa_model.h"

int main(int argc, char **argv)
{
    static int8_t in[OFA_MODEL_INPUT_SIZE];
    static ofa_model_output_t out[OFA_MODEL_OUTPUT_SIZE];
    unsigned char *arena = malloc(OFA_MODEL_ARENA_SIZE);
    FILE *fi, *fo;
    int n = 0;
    if (argc != 3 || arena == NULL) {
        return 2;
    }
    fi = fopen(argv[1], "rb");
    fo = fopen(argv[2], "wb");
    if (fi == NULL || fo == NULL) {
        return 2;
    }
    while (fread(in, 1, sizeof in, fi) == sizeof in) {
        memset(arena, 0x5A ^ (n * 37), OFA_MODEL_ARENA_SIZE);
        if (ofa_model_run(in, out, arena) != 0) {
            return 3;
        }
        fwrite(out, sizeof out, 1, fo);
        n++;
    }
    fclose(fo);
    fclose(fi);
    free(arena);
    return 0;
}
`

// strictFlags are the warnings the emitted C must compile cleanly under.
var strictFlags = []string{"-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"}

// Verify implements backends.Verifier: it emits the library into a
// scratch folder, builds it with the host's gcc (warnings as errors) and a
// runner, and compares every output code on inputs with the int8
// interpreter's.
func (b Backend) Verify(g *ir.Graph, plan *passes.MemoryPlan, t backends.Target, inputs []interp.Tensor) error {
	gcc, err := exec.LookPath("gcc")
	if err != nil {
		return fmt.Errorf("the host check needs gcc: %w", backends.ErrNoHostTool)
	}
	work, err := os.MkdirTemp("", "ofac-host-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	lib := filepath.Join(work, "lib")
	if err := os.Mkdir(lib, 0o755); err != nil {
		return err
	}
	if err := b.Emit(g, plan, t, lib); err != nil {
		return err
	}
	s, err := buildSchedule(g, plan)
	if err != nil {
		return err
	}
	it, err := interp.NewInt8(g)
	if err != nil {
		return err
	}
	codes := make([][]int8, len(inputs))
	want := make([][]float32, len(inputs))
	for i, x := range inputs {
		_, all, err := it.RunAll(x)
		if err != nil {
			return err
		}
		codes[i] = make([]int8, len(x.Data))
		for j, v := range all[s.input].Data {
			codes[i][j] = int8(v)
		}
		want[i] = all[s.output].Data
	}
	got, err := runLibrary(gcc, lib, work, s, codes, append(append([]string{}, strictFlags...), "-O2"))
	if err != nil {
		return err
	}
	for i := range got {
		for j, v := range got[i] {
			if float32(v) != want[i][j] {
				return fmt.Errorf("host run: image %d output %d is %d, the int8 interpreter says %v", i, j, v, want[i][j])
			}
		}
	}
	return nil
}

// VerifiedBy implements backends.Verifier.
func (Backend) VerifiedBy() string { return "host build with gcc" }

// runLibrary builds the library in lib with hostRunner in work (gcc with
// flags) and returns its outputs for inputs, as int32 whatever the output
// type.
func runLibrary(gcc, lib, work string, s *schedule, inputs [][]int8, flags []string) ([][]int32, error) {
	if err := os.WriteFile(filepath.Join(work, "runner.c"), []byte(hostRunner), 0o644); err != nil {
		return nil, err
	}
	args := append(append([]string{}, flags...), "-I", lib, "-o", "runner", "runner.c")
	for _, f := range []string{"ofa_model.c", "ofa_model_weights.c", "ofa_model_kernels.c"} {
		args = append(args, filepath.Join(lib, f))
	}
	if _, err := run(work, gcc, args...); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	for _, in := range inputs {
		for _, v := range in {
			buf.WriteByte(byte(v))
		}
	}
	if err := os.WriteFile(filepath.Join(work, "in.bin"), buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	if _, err := run(work, filepath.Join(work, "runner"), "in.bin", "out.bin"); err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(filepath.Join(work, "out.bin"))
	if err != nil {
		return nil, err
	}
	m := s.output.Shape.NumElements()
	size := 1
	if s.outDType == ir.I32 {
		size = 4
	}
	if len(raw) != len(inputs)*m*size {
		return nil, fmt.Errorf("host runner wrote %d bytes, want %d", len(raw), len(inputs)*m*size)
	}
	out := make([][]int32, len(inputs))
	for i := range out {
		out[i] = make([]int32, m)
		for j := range out[i] {
			k := (i*m + j) * size
			if size == 4 {
				out[i][j] = int32(binary.LittleEndian.Uint32(raw[k:]))
			} else {
				out[i][j] = int32(int8(raw[k]))
			}
		}
	}
	return out, nil
}

// run runs name in dir and returns its combined output, or an error that
// holds the command line and the output when it fails.
func run(dir, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
