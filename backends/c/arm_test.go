package c

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var libSources = []string{"ofa_model.c", "ofa_model_weights.c", "ofa_model_kernels.c"}

// armFlags are the firmware flags of the issue, per core.
var armFlags = map[string][]string{
	"cortex-m4": {"-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"},
	"cortex-m7": {"-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"},
}

// TestStrictBuilds compiles the fixture's library with no warning allowed:
// on the host at -O2 through its Makefile (and runs the example), and with
// the ARM toolchain for Cortex-M4 and M7 at -Os. Every kernel, used or not,
// is compiled the same way.
func TestStrictBuilds(t *testing.T) {
	gcc := tool(t, "gcc")
	tool(t, "make")
	g := fixtureInt8(t)
	lib, _ := emit(t, g, "mcu-m7")
	all := filepath.Join(t.TempDir(), "all_kernels.c")
	if err := os.WriteFile(all, []byte(allKernelsSource()), 0o644); err != nil {
		t.Fatal(err)
	}
	runCmd(t, lib, "make", "CC="+gcc, "CFLAGS=-std=c99 -O2 -Wall -Wextra -Werror -pedantic", "example")
	if out := runCmd(t, lib, "./example/ofa_model_example"); !strings.HasPrefix(out, "prediction: class ") {
		t.Fatalf("example printed %q", out)
	}
	runCmd(t, lib, gcc, append(append([]string{}, strictFlags...), "-O2", "-c", all, "-o", os.DevNull)...)
	armGCC, err := exec.LookPath("arm-none-eabi-gcc")
	if err != nil {
		t.Skip("arm-none-eabi-gcc is not installed (tools/install-deps.sh installs gcc-arm-none-eabi): skipping the ARM builds")
	}
	for _, core := range []string{"cortex-m4", "cortex-m7"} {
		for _, src := range append(append([]string{}, libSources...), all) {
			args := append(append(append([]string{}, strictFlags...), armFlags[core]...), "-Os", "-c", src, "-o", os.DevNull)
			runCmd(t, lib, armGCC, args...)
		}
	}
}

// allKernelsSource is every kernel in one file, as the emitter writes them.
func allKernelsSource() string {
	var b strings.Builder
	b.WriteString("#include <stdint.h>\n")
	b.WriteString(expand(kernelHelpers, Prefix))
	for _, k := range sortedKeys(kernels) {
		fmt.Fprintf(&b, "\n%s;\n%s\n%s\n", expand(kernels[k].proto, Prefix), expand(kernels[k].proto, Prefix), expand(kernels[k].body, Prefix))
	}
	return b.String()
}

const linkerScript = `MEMORY
{
  FLASH (rx)  : ORIGIN = 0x00000000, LENGTH = 4M
  RAM   (rwx) : ORIGIN = 0x20000000, LENGTH = 4M
}
ENTRY(Reset_Handler)
SECTIONS
{
  .text : {
    KEEP(*(.vectors))
    *(.text*)
    KEEP(*(.init))
    KEEP(*(.fini))
    *(.rodata*)
    . = ALIGN(4);
  } > FLASH
  .ARM.exidx : { *(.ARM.exidx*) } > FLASH
  .preinit_array : { PROVIDE_HIDDEN(__preinit_array_start = .); KEEP(*(.preinit_array)) PROVIDE_HIDDEN(__preinit_array_end = .); } > FLASH
  .init_array : { PROVIDE_HIDDEN(__init_array_start = .); KEEP(*(SORT(.init_array.*))) KEEP(*(.init_array)) PROVIDE_HIDDEN(__init_array_end = .); } > FLASH
  .fini_array : { PROVIDE_HIDDEN(__fini_array_start = .); KEEP(*(.fini_array)) PROVIDE_HIDDEN(__fini_array_end = .); } > FLASH
  /* QEMU loads .data at its address, so no copy from flash is needed. */
  .data : { *(.data*) . = ALIGN(4); } > RAM
  .bss : { __bss_start__ = .; *(.bss*) *(COMMON) . = ALIGN(4); __bss_end__ = .; } > RAM
  end = .;
  _end = .;
  __end__ = .;
  __stack = ORIGIN(RAM) + LENGTH(RAM);
}
`

const startup = `#include <stdint.h>
extern char __stack[];
extern void _start(void);
void Reset_Handler(void);
static void Default_Handler(void);

void Reset_Handler(void)
{
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: enable the FPU */
    __asm volatile("dsb\n\tisb");
    _start();
    for (;;) {
    }
}

static void Default_Handler(void)
{
    for (;;) {
    }
}

__attribute__((section(".vectors"), used)) static void *const vectors[16] = {
    __stack, (void *)Reset_Handler, (void *)Default_Handler, (void *)Default_Handler,
    (void *)Default_Handler, (void *)Default_Handler, (void *)Default_Handler, 0,
    0, 0, 0, (void *)Default_Handler, (void *)Default_Handler, 0,
    (void *)Default_Handler, (void *)Default_Handler,
};
`

const firmwareMain = `#include <stdio.h>
#include "ofa_model.h"
#include "images.h"

static int8_t arena[OFA_MODEL_ARENA_SIZE];

int main(void)
{
    static ofa_model_output_t out[OFA_MODEL_OUTPUT_SIZE];
    int n, i, best;
    for (n = 0; n < NUM_IMAGES; n++) {
        if (ofa_model_run(images[n], out, arena) != 0) {
            return 3;
        }
        best = 0;
        for (i = 1; i < OFA_MODEL_OUTPUT_SIZE; i++) {
            if (out[i] > out[best]) {
                best = i;
            }
        }
        printf("image %d class %d logits", n, best);
        for (i = 0; i < OFA_MODEL_OUTPUT_SIZE; i++) {
            printf(" %ld", (long)out[i]);
        }
        printf("\n");
    }
    printf("done\n");
    return 0;
}
`

// TestQEMU builds a Cortex-M4 firmware from the smallest subnet's library
// with 100 test images baked in, runs it on QEMU's mps2-an386 and checks
// that it reports, through semihosting, the host's predictions and logits
// (which the host test checks against the interpreter).
func TestQEMU(t *testing.T) {
	armGCC := tool(t, "arm-none-eabi-gcc")
	qemu := tool(t, "qemu-system-arm")
	tool(t, "gcc")
	const n = 100
	g := subnets(t, 1, 1)[0]
	lib, s := emit(t, g, "mcu-m4")
	xs := images(testSet(t).Test, n, g.Inputs[0].Shape[2])
	in, want := oracle(t, g, s, xs)
	host := runHost(t, lib, s, in)
	compare(t, "host", want, host)

	work := t.TempDir()
	var img strings.Builder
	fmt.Fprintf(&img, "#include <stdint.h>\n#define NUM_IMAGES %d\nstatic const int8_t images[%d][%d] = {\n", n, n, len(in[0]))
	for _, x := range in {
		img.WriteString("{")
		for i, v := range x {
			if i > 0 {
				img.WriteString(",")
			}
			img.WriteString(strconv.Itoa(int(v)))
		}
		img.WriteString("},\n")
	}
	img.WriteString("};\n")
	files := map[string]string{"images.h": img.String(), "main.c": firmwareMain, "startup.c": startup, "link.ld": linkerScript}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{}, armFlags["cortex-m4"]...)
	args = append(args, "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-I", lib, "-T", "link.ld", "--specs=rdimon.specs", "-o", "fw.elf", "main.c")
	for _, f := range libSources {
		args = append(args, filepath.Join(lib, f))
	}
	runCmd(t, work, armGCC, append(args[:len(args):len(args)], "-x", "c", "-std=gnu99", "startup.c")...)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
		"-semihosting-config", "enable=on,target=native", "-kernel", "fw.elf")
	cmd.Dir = work
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("qemu: %v\n%s", err, tail(out.String()))
	}
	line := regexp.MustCompile(`^image (\d+) class (\d+) logits((?: -?\d+)+)$`)
	seen, agree := 0, 0
	for _, l := range strings.Split(out.String(), "\n") {
		m := line.FindStringSubmatch(strings.TrimSpace(l))
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1])
		class, _ := strconv.Atoi(m[2])
		if i != seen {
			t.Fatalf("qemu: image %d reported out of order (want %d)", i, seen)
		}
		if class == argmax(host[i]) {
			agree++
		}
		for j, f := range strings.Fields(m[3]) {
			v, _ := strconv.ParseInt(f, 10, 32)
			if int32(v) != host[i][j] {
				t.Errorf("qemu: image %d logit %d: firmware %d, host %d", i, j, v, host[i][j])
			}
		}
		seen++
	}
	if seen != n || !strings.Contains(out.String(), "done") {
		t.Fatalf("qemu reported %d of %d images:\n%s", seen, n, tail(out.String()))
	}
	if agree != n {
		t.Fatalf("qemu: %d of %d predictions agree with the host", agree, n)
	}
	t.Logf("qemu mps2-an386: %d/%d predictions and all logits identical to the host and the interpreter", agree, n)
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}

// TestSizesAgree compiles libraries for Cortex-M4 at -Os and checks the
// flash (text + rodata + data of the objects) and SRAM (data + bss, the
// arena, and the stack from -fstack-usage: ofa_model_run's frame plus the
// deepest kernel and helper) that arm-none-eabi-size -A reports against
// the cost model, within 10%.
func TestSizesAgree(t *testing.T) {
	armGCC := tool(t, "arm-none-eabi-gcc")
	size := tool(t, "arm-none-eabi-size")
	graphs := map[string]func() (string, *schedule){
		"fixture": func() (string, *schedule) { return emit(t, fixtureInt8(t), "mcu-m4") },
		"smallest": func() (string, *schedule) {
			return emit(t, subnets(t, 1, 1)[0], "mcu-m4")
		},
	}
	for _, name := range []string{"fixture", "smallest"} {
		lib, s := graphs[name]()
		est := estimate(s, Targets[0].Spec.(Spec))
		var flash, ram, stackRun, stackDeep, stackHelper int64
		for _, src := range libSources {
			obj := strings.TrimSuffix(src, ".c") + ".o"
			args := append(append([]string{}, armFlags["cortex-m4"]...), "-std=c99", "-Os", "-ffunction-sections", "-fstack-usage", "-c", src, "-o", obj)
			runCmd(t, lib, armGCC, args...)
			for _, l := range strings.Split(runCmd(t, lib, size, "-A", obj), "\n") {
				f := strings.Fields(l)
				if len(f) < 2 {
					continue
				}
				n, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil {
					continue
				}
				switch {
				case strings.HasPrefix(f[0], ".text"), strings.HasPrefix(f[0], ".rodata"):
					flash += n
				case strings.HasPrefix(f[0], ".data"):
					flash += n
					ram += n
				case strings.HasPrefix(f[0], ".bss"):
					ram += n
				}
			}
			su, err := os.ReadFile(filepath.Join(lib, strings.TrimSuffix(src, ".c")+".su"))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(string(su), "\n") {
				f := strings.Fields(l)
				if len(f) < 2 {
					continue
				}
				n, _ := strconv.ParseInt(f[1], 10, 64)
				fn := f[0][strings.LastIndex(f[0], ":")+1:]
				switch {
				case fn == Prefix+"_run":
					stackRun = n
				case fn == Prefix+"_mbqm" || fn == Prefix+"_srdhm" || fn == Prefix+"_rdbypot" || fn == Prefix+"_requant":
					stackHelper = max(stackHelper, n)
				default:
					stackDeep = max(stackDeep, n)
				}
			}
		}
		ram += s.plan.ArenaBytes + stackRun + stackDeep + stackHelper
		check := func(what string, measured, estimated int64) {
			d := float64(estimated-measured) / float64(measured)
			t.Logf("%s %s: measured %d B, estimated %d B (%+.2f%%)", name, what, measured, estimated, 100*d)
			if math.Abs(d) > 0.10 {
				t.Errorf("%s %s: estimate %d is more than 10%% from the measured %d", name, what, estimated, measured)
			}
		}
		check("flash", flash, est.flash)
		check("sram", ram, est.sram)
		t.Logf("%s code: measured %d B (flash minus %d B of constants), estimated %d B", name, flash-est.constBytes, est.constBytes, est.codeBytes)
	}
}
