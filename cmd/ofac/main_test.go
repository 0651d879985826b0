package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
)

const fixture = "../../ir/testdata/mbv3_tiny.ofac"

// ofac runs the CLI in-process and returns exit code, stdout and stderr.
func ofac(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := ofac(t, "version")
	if code != 0 || !strings.HasPrefix(out, "ofac "+version) {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestHelpTeaches(t *testing.T) {
	code, out, _ := ofac(t, "--help")
	if code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	for _, want := range []string{"Once-for-All", "Examples:", "inspect", "run", "targets"} {
		if !strings.Contains(out, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestInspectFixture(t *testing.T) {
	code, out, errOut := ofac(t, "inspect", fixture)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"model mbv3_tiny", "conv3x3/s2", "dwconv7x7/s2", "%logits", "total", "totals: 2,018,480 MACs"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
}

func TestErrorsAreOneLineWithExitCodes(t *testing.T) {
	dir := t.TempDir()
	notModel := filepath.Join(dir, "README.md")
	if err := os.WriteFile(notModel, []byte("# hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"not a model", []string{"inspect", notModel}, 1, "not an ofac model file"},
		{"missing file", []string{"inspect", filepath.Join(dir, "nope.ofac")}, 1, "no such file"},
		{"unknown command", []string{"frobnicate"}, 2, "unexpected argument frobnicate"},
		{"missing flag", []string{"run", fixture}, 2, "--input"},
		{"bad top", []string{"run", fixture, "--input", "x.png", "--top", "0"}, 2, "--top must be at least 1"},
		{"bad image", []string{"run", fixture, "--input", notModel}, 1, "not a PGM"},
		{"layers without int8", []string{"eval", "--arch", "smallest", "--int8-layers"}, 2, "--int8-layers needs --int8"},
		{"bad percentile", []string{"eval", "--arch", "smallest", "--int8", "--int8-percentile", "100"}, 2, "--int8-percentile 100 must be in (0, 100)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := ofac(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q lacks %q", errOut, tc.want)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "ofac: ") {
				t.Errorf("stderr is not one 'ofac: ...' line: %q", errOut)
			}
		})
	}
}

func TestRunOnPGM(t *testing.T) {
	// A 28x28 P5 image: a bright rectangle on black, like a garment.
	var img bytes.Buffer
	img.WriteString("P5\n28 28\n255\n")
	for y := 0; y < 28; y++ {
		for x := 0; x < 28; x++ {
			v := byte(0)
			if x > 6 && x < 21 && y > 3 && y < 25 {
				v = 200
			}
			img.WriteByte(v)
		}
	}
	path := filepath.Join(t.TempDir(), "garment.pgm")
	if err := os.WriteFile(path, img.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := ofac(t, "run", fixture, "--input", path, "--top", "10")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "prediction: ") || strings.Count(out, "\n") != 12 {
		t.Fatalf("unexpected output:\n%s", out)
	}
}

func TestRunOnTestSetIndex(t *testing.T) {
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"); err != nil {
		t.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
	}
	code, out, errOut := ofac(t, "run", fixture, "--input", "0")
	if code != 0 || !strings.Contains(out, "(label: Ankle boot,") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = ofac(t, "run", fixture, "--input", "10000")
	if code != 2 || !strings.Contains(errOut, "not an index into the 10000 test images") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}

func TestTargetsListsBackends(t *testing.T) {
	code, out, _ := ofac(t, "targets")
	if code != 0 || !strings.Contains(out, "TARGET") || !strings.Contains(out, "mcu-m7") {
		t.Fatalf("exit %d, output %q", code, out)
	}
}

func TestInspectPasses(t *testing.T) {
	code, out, errOut := ofac(t, "inspect", fixture, "--passes")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.Contains(out, "batchnorm") || !strings.Contains(out, "61 nodes") {
		t.Errorf("--passes output still has batchnorm or not 61 nodes:\n%s", out)
	}
	code, out, _ = ofac(t, "inspect", fixture, "--dump-after", "foldbn")
	if code != 0 || !strings.Contains(out, "# after foldbn") || !strings.Contains(out, "ofac-ir 1") || !strings.Contains(out, "memory plan: arena") {
		t.Errorf("--dump-after printed no IR (exit %d)", code)
	}
	code, _, errOut = ofac(t, "inspect", fixture, "--disable", "bogus")
	if code != 2 || !strings.Contains(errOut, `no pass "bogus"`) {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

func TestInspectInt8(t *testing.T) {
	if _, err := os.Stat("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"); err != nil {
		t.Skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
	}
	code, out, errOut := ofac(t, "inspect", fixture, "--passes", "--int8", "--calib", "32")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"quantization (real = scale x (q - zero point))", "i8[8,1,3,3]", "(8 channels, axis 0)", "memory plan: arena"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if code, _, errOut := ofac(t, "inspect", fixture, "--int8"); code != 2 || !strings.Contains(errOut, "--int8 needs --passes") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestLayerReport checks the --int8-layers output: a table row per layer,
// and JSON that survives a layer int8 reproduced exactly (infinite SQNR).
func TestLayerReport(t *testing.T) {
	layers := []interp.LayerError{
		{Name: "3", Op: ir.OpHSwish, Shape: ir.Shape{1, 16, 14, 14}, SQNR: 30.14, MaxAbs: 19.058},
		{Name: "logits", Op: ir.OpDense, Shape: ir.Shape{1, 10}, SQNR: math.Inf(1), MaxAbs: 4},
	}
	var b bytes.Buffer
	printLayers(&b, layers)
	for _, want := range []string{"SQNR dB", "%3", "hswish", "[1,16,14,14]", "19.058", "30.1", "%logits"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	j, err := json.Marshal(layersJSON(layers))
	if err != nil {
		t.Fatal(err)
	}
	if want := `"op":"hswish","shape":[1,16,14,14],"max_abs":19.058,"sqnr_db":30.14}`; !strings.Contains(string(j), want) {
		t.Errorf("JSON %s lacks %s", j, want)
	}
	if !strings.Contains(string(j), `"sqnr_db":null`) {
		t.Errorf("JSON %s: an exact layer's SQNR is not null", j)
	}
}
