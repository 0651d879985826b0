package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ofac-dev/ofac/search"
	"github.com/ofac-dev/ofac/supernet/data/datatest"
)

// TestSearchPipelineTiny runs the whole chain on the tiny space: a supernet
// trained one short epoch per phase, accuracy data for 50 subnets, the
// predictor, search, and build for a microcontroller and an FPGA.
func TestSearchPipelineTiny(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	os.Mkdir(dataDir, 0o755)
	if err := datatest.Write(dataDir, 1200, 100, 1); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "tiny.ckpt")
	acc := filepath.Join(dir, "acc.jsonl")
	pred := filepath.Join(dir, "pred.json")
	step := func(name string, want int, args ...string) string {
		t.Helper()
		start := time.Now()
		code, out, errOut := ofac(t, args...)
		t.Logf("%s: %v", name, time.Since(start).Round(time.Millisecond))
		if code != want {
			t.Fatalf("%s: exit %d, want %d: %s%s", name, code, want, out, errOut)
		}
		if want != 0 {
			return errOut
		}
		return out
	}

	// Nothing made yet: one-line errors that say how to make what is missing.
	errOut := step("no predictor", 1, "search", "--target", "mcu-m7", "--predictor", pred)
	if !strings.Contains(errOut, "ofac predictor") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("missing predictor: %q", errOut)
	}
	errOut = step("no supernet", 1, "accuracy-data", "--supernet", ckpt, "-o", acc, "--data", dataDir)
	if !strings.Contains(errOut, "ofac train") {
		t.Errorf("missing supernet: %q", errOut)
	}

	step("train", 0, "train", "--space", "tiny", "--data", dataDir, "-o", ckpt, "--batch-size", "32", "-q",
		"--phase-epochs", "full=1;kernel=1;depth1=1;depth2=1;expand1=1;expand2=1")
	step("accuracy-data", 0, "accuracy-data", "--supernet", ckpt, "--data", dataDir, "--samples", "40", "--calib", "200", "-o", acc, "-q")
	before, _ := os.ReadFile(acc)
	out := step("accuracy-data resumed", 0, "accuracy-data", "--supernet", ckpt, "--data", dataDir, "--samples", "50", "--calib", "200", "-o", acc, "-q", "--json")
	after, _ := os.ReadFile(acc)
	if !bytes.HasPrefix(after, before) || bytes.Count(after, []byte("\n")) != 50 {
		t.Fatalf("resumed accuracy data did not append 10 records to the 40:\n%s", out)
	}
	out = step("predictor", 0, "predictor", "-i", acc, "-o", pred, "--epochs", "60", "--json")
	var ps struct {
		RMSE float64 `json:"rmse"`
		Held int     `json:"held_out_records"`
	}
	if err := json.Unmarshal([]byte(out), &ps); err != nil || ps.Held != 10 {
		t.Fatalf("predictor output %q: %v", out, err)
	}
	t.Logf("tiny-space predictor: RMSE %.2f points on %d held-out subnets", 100*ps.RMSE, ps.Held)

	small := []string{"--population", "16", "--generations", "4", "-q", "--predictor", pred}
	out = step("search", 0, append([]string{"search", "--target", "mcu-m7", "--latency", "50ms", "--sram", "64KB", "--json"}, small...)...)
	var sr struct {
		Best   search.Candidate   `json:"best"`
		Pareto []search.Candidate `json:"pareto"`
	}
	if err := json.Unmarshal([]byte(out), &sr); err != nil || len(sr.Pareto) == 0 {
		t.Fatalf("search output %q: %v", out, err)
	}
	if sr.Best.Cost.LatencyMs > 50 || sr.Best.Cost.Resources["sram_bytes"] > 64<<10 {
		t.Errorf("best breaks the budget: %+v", sr.Best.Cost)
	}
	errOut = step("infeasible", 2, append([]string{"search", "--target", "mcu-m7", "--latency", "1us"}, small...)...)
	if !strings.Contains(errOut, "smallest subnet") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("infeasible budget: %q", errOut)
	}
	errOut = step("bad resource", 2, append([]string{"search", "--target", "mcu-m7", "--dsp", "10"}, small...)...)
	if !strings.Contains(errOut, "has no dsp") {
		t.Errorf("--dsp on a microcontroller: %q", errOut)
	}

	build := func(target, out string, budget ...string) {
		args := append([]string{"build", "--target", target, "--supernet", ckpt, "--data", dataDir, "--bn-calib", "200", "--calib", "16", "--verify", "20", "-o", out}, small...)
		step("build "+target, 0, append(args, budget...)...)
	}
	m7 := filepath.Join(dir, "m7")
	build("mcu-m7", m7, "--latency", "50ms", "--flash", "256KB")
	build("mcu-m7", filepath.Join(dir, "m7-again"), "--latency", "50ms", "--flash", "256KB")
	if a, b := tree(t, m7), tree(t, filepath.Join(dir, "m7-again")); a != b {
		t.Error("two builds with the same inputs differ")
	}
	build("fpga-zu9", filepath.Join(dir, "zu9"), "--latency", "1ms", "--dsp", "1000")
	for _, d := range []string{m7, filepath.Join(dir, "zu9")} {
		for _, f := range []string{"report.md", "report.json", "pareto.svg", "arch.json", "model.ofac", "artifact"} {
			if _, err := os.Stat(filepath.Join(d, f)); err != nil {
				t.Errorf("%s lacks %s", d, f)
			}
		}
	}
	var rep search.Report
	b, _ := os.ReadFile(filepath.Join(dir, "zu9", "report.json"))
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Resources["dsp"] > 1000 || rep.LatencyMs > 1 || len(rep.Layers) == 0 {
		t.Errorf("fpga-zu9 build breaks its budget or lacks layers: %.3f ms, %v DSP", rep.LatencyMs, rep.Resources["dsp"])
	}
	// With the compilers installed, both artifacts were run on the images.
	for _, d := range []string{m7, filepath.Join(dir, "zu9")} {
		var r search.Report
		b, _ := os.ReadFile(filepath.Join(d, "report.json"))
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		_, gcc := exec.LookPath("gcc")
		_, gxx := exec.LookPath("g++")
		if gcc == nil && gxx == nil && !strings.Contains(r.HostCheck, "bit-exact") {
			t.Errorf("%s: artifact not checked: %q", d, r.HostCheck)
		}
	}
	md, _ := os.ReadFile(filepath.Join(m7, "report.md"))
	for _, want := range []string{"predicted top-1", "measured top-1", "Cost per layer", "Budget use", "flash_bytes"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}

// tree is every file under dir with its bytes, as one string.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		b.WriteString(rel + "\n" + string(data) + "\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
