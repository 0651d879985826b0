package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/supernet/ofa"
	"github.com/ofac-dev/ofac/supernet/train"
)

func TestCompileFixture(t *testing.T) {
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"); err != nil {
		t.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
	}
	out := filepath.Join(t.TempDir(), "m4")
	args := []string{"compile", "--target", "mcu-m4", "--model", fixture, "--calib", "32", "-o", out}
	code, stdout, stderr := ofac(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"wrote " + out, "latency", "sram_bytes", "of 196,608 (", "flash_bytes", "of 1,048,576 ("} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, f := range []string{"ofa_model.h", "ofa_model.c", "ofa_model_kernels.c", "ofa_model_weights.c", "Makefile", "CMakeLists.txt", "README.md", "example/main.c", "report.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	// A non-empty output is refused without --force, replaced with it,
	// and no temporary folder is left beside it.
	if code, _, stderr := ofac(t, args...); code != 2 || !strings.Contains(stderr, "--force") {
		t.Fatalf("second compile: exit %d, %s", code, stderr)
	}
	if code, _, stderr := ofac(t, append(args, "--force")...); code != 0 {
		t.Fatalf("--force: exit %d, %s", code, stderr)
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Fatalf("beside the output: %v", entries)
	}
}

func TestCompileUsage(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"compile", "--target", "mcu-m4", "-o", dir}, 2, "exactly one of --arch and --model"},
		{[]string{"compile", "--target", "mcu-m4", "--arch", "smallest", "--model", fixture, "-o", dir}, 2, "arch"},
		{[]string{"compile", "--target", "nope", "--model", fixture, "-o", dir}, 2, "unknown target"},
		{[]string{"compile", "--target", "mcu-m7", "--arch", "smallest", "--supernet", filepath.Join(dir, "none.ckpt"), "-o", filepath.Join(dir, "x")}, 1, "no supernet"},
	}
	for _, c := range cases {
		code, _, stderr := ofac(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	code, out, _ := ofac(t, "targets")
	for _, want := range []string{"mcu-m4", "mcu-m7", "mcu-h7", "STM32H743"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("targets: exit %d, lacks %q:\n%s", code, want, out)
		}
	}
}

// TestCompileArch compiles the smallest subnet of an untrained supernet
// checkpoint (no trained one ships yet) and, when the compilers are
// installed, builds the output with the host and ARM commands, no
// warning allowed.
func TestCompileArch(t *testing.T) {
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"); err != nil {
		t.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
	}
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "supernet.ckpt")
	if err := (&train.Checkpoint{Net: ofa.New(ofa.Default, 1)}).Save(ckpt); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m4")
	code, _, stderr := ofac(t, "compile", "--target", "mcu-m4", "--arch", "smallest", "--supernet", ckpt,
		"--bn-calib", "64", "--calib", "32", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	srcs := []string{"ofa_model.c", "ofa_model_kernels.c", "ofa_model_weights.c"}
	builds := map[string][]string{
		"gcc":               {"-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"},
		"arm-none-eabi-gcc": {"-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os"},
	}
	for cc, flags := range builds {
		if _, err := exec.LookPath(cc); err != nil {
			t.Logf("%s is not installed: build skipped", cc)
			continue
		}
		for _, src := range srcs {
			cmd := exec.Command(cc, append(flags, "-c", src, "-o", os.DevNull)...)
			cmd.Dir = out
			if b, err := cmd.CombinedOutput(); err != nil || len(b) > 0 {
				t.Errorf("%s %s: %v\n%s", cc, src, err, b)
			}
		}
	}
}

func TestCompileFPGAPrintsUtilisation(t *testing.T) {
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"); err != nil {
		t.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
	}
	out := filepath.Join(t.TempDir(), "zu3")
	code, stdout, errOut := ofac(t, "compile", "--target", "fpga-zu3", "--model", fixture, "--calib", "16", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"estimate on fpga-zu3: latency", "dsp", "of 360 (", "bram36", "of 216 ("} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "build_prj.tcl")); err != nil {
		t.Fatal(err)
	}
}
