package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ofac-dev/ofac/backends"
	"github.com/ofac-dev/ofac/frontend"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/passes"
	"github.com/ofac-dev/ofac/search"
	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/train"
)

type buildCmd struct {
	searchFlags
	Supernet string `placeholder:"FILE" default:"${default_supernet}" help:"Trained supernet checkpoint (default ${default_supernet})."`
	Data     string `placeholder:"DIR" default:"${default_data}" help:"Folder with the Fashion-MNIST files (recalibration, calibration, verification)."`
	BNCalib  int    `name:"bn-calib" default:"2000" help:"Training images that recalibrate batch norm."`
	Calib    int    `default:"512" help:"Training images that calibrate int8 activation ranges."`
	Verify   int    `default:"100" help:"Test images the int8 graph is measured on (integer interpreter) and the artifact itself is run on (host build or C simulation), bit-exact or the build fails."`
	Out      string `short:"o" required:"" placeholder:"DIR" help:"Folder to write; must not exist or be empty unless --force."`
	Force    bool   `help:"Replace a non-empty output folder."`
}

func (c *buildCmd) Help() string {
	return `Search, then compile: finds the subnet with the best predicted accuracy that
fits the budget on the target's cost model, extracts it from the supernet with
batch norm recalibrated, runs the passes and the backend, checks accuracy
(float on the validation split, int8 with the integer interpreter on --verify
test images), runs the artifact itself on those images (host build with gcc,
or the HLS C simulation with g++) and fails unless its outputs are bit-exact
with the interpreter's, then writes DIR with
  artifact/    the backend's output (C library or HLS project)
  model.ofac   the float subnet
  arch.json    the chosen architecture
  report.md    architecture, predicted and measured accuracy, cost per layer, budget use
  report.json  the same for scripts
  pareto.svg   predicted accuracy against latency of the final population
The same inputs give byte-identical folders.

Examples:
  ofac build --target mcu-m7 --latency 100ms --sram 128KB -o m7
  ofac build --target fpga-zu9 --latency 2ms -o zu9`
}

func (c *buildCmd) Run(e *env) error {
	if c.BNCalib < 1 || c.Calib < 1 || c.Verify < 1 {
		return usageError{errors.New("--bn-calib, --calib and --verify must be at least 1")}
	}
	if err := c.check(); err != nil {
		return err
	}
	if err := checkOutDir(c.Out, c.Force); err != nil {
		return err
	}
	pred, err := loadPredictor(c.Predictor) // before the slower supernet load
	if err != nil {
		return err
	}
	ck, err := loadSupernet(c.Supernet)
	if err != nil {
		return err
	}
	splits, err := supernetData(c.Data, ck)
	if err != nil {
		return err
	}
	s, err := c.runSearch(e, pred, ck.Net)
	if err != nil {
		return err
	}
	best := s.res.Best
	a := best.Arch
	stats := train.Recalibrate(ck.Net, a, splits.Train, c.BNCalib, 128)
	measured := accuracyOf(train.Logits(ck.Net, a, stats, splits.Val, 128).Data, splits.Val, ck.Net.Space.Classes)
	g, err := frontend.Subnet("subnet", ck.Net.Extract(a, stats))
	if err != nil {
		return err
	}
	_, tot := ir.Stats(g)
	model, err := ir.EncodeModel(g)
	if err != nil {
		return err
	}
	calib, err := calibrationSamples(g, c.Data, c.Calib)
	if err != nil {
		return err
	}
	cost, err := search.Compile(g, s.backend, s.target, calib)
	if err != nil {
		return err
	}
	plan, err := passes.PlanMemory(g, passes.PlanOptions{ExternalInputs: true})
	if err != nil {
		return err
	}
	n := min(c.Verify, splits.Test.Len())
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	int8Acc, err := int8Accuracy(g, splits.Test.Subset("test-verify", idx), a.R)
	if err != nil {
		return err
	}
	check, err := hostCheck(s.backend, g, plan, s.target, splits.Test, n, a.R)
	if err != nil {
		return err
	}
	rep := &search.Report{
		Target: s.target.Name, Backend: s.backend.Name(), Constraints: s.cons, Capacity: s.target.Capacity,
		Arch: a, MACs: tot.MACs, Params: tot.Params,
		PredictedTop1: best.Accuracy, PredictorRMSE: s.pred.RMSE,
		MeasuredTop1: measured, ValImages: splits.Val.Len(), Int8Top1: int8Acc, TestImages: n, HostCheck: check,
		LatencyMs: cost.LatencyMs, Resources: cost.Resources, Layers: cost.Layers,
		Search: search.SearchSummary{Population: c.Population, Generations: c.Generations, Seed: c.Seed, CostCalls: s.res.CostCalls, Predictions: s.res.Predictions, Fallback: s.res.Fallback},
		Pareto: search.Pareto(s.res.Population), Population: s.res.Population,
	}
	repJSON, err := rep.JSON()
	if err != nil {
		return err
	}
	svg, err := search.ParetoSVG(s.res.Population, best, s.cons, fmt.Sprintf("%s: final population", s.target.Name))
	if err != nil {
		return err
	}
	archJSON, _ := json.MarshalIndent(a, "", "  ")
	err = emitAtomically(c.Out, func(dir string) error {
		art := filepath.Join(dir, "artifact")
		if err := os.Mkdir(art, 0o755); err != nil {
			return err
		}
		if err := s.backend.Emit(g, plan, s.target, art); err != nil {
			return err
		}
		for name, b := range map[string][]byte{"report.md": rep.Markdown(), "report.json": repJSON, "pareto.svg": svg,
			"arch.json": append(archJSON, '\n'), "model.ofac": model} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if c.JSON {
		return json.NewEncoder(e.stdout).Encode(map[string]any{"out": c.Out, "report": rep, "seconds_search": s.took.Seconds()})
	}
	fmt.Fprintf(e.stdout, "wrote %s for %s (%s backend)\n  arch %s\n  predicted top-1 %.2f%%, measured %.2f%% (float, %d validation images), int8 %.2f%% (%d test images)\n",
		c.Out, s.target.Name, s.backend.Name(), a.JSON(), 100*best.Accuracy, 100*measured, splits.Val.Len(), 100*int8Acc, n)
	printEstimate(e, s.target, cost)
	fmt.Fprintf(e.stdout, "search: %s in %.2fs, %d subnets priced by the exact cost model\n", s.how(c.Generations), s.took.Seconds(), s.res.CostCalls)
	return nil
}

// hostCheck runs the artifact itself, when the backend can build it on
// this machine, on the first n images of set and fails unless its outputs
// are bit-exact with the int8 interpreter's. It returns the report's line.
func hostCheck(b backends.Backend, g *ir.Graph, plan *passes.MemoryPlan, t backends.Target, set *data.Dataset, n, r int) (string, error) {
	v, ok := b.(backends.Verifier)
	if !ok {
		return fmt.Sprintf("not run: the %s backend has no host check", b.Name()), nil
	}
	inputs := frontend.Images(set, n, r)
	if err := v.Verify(g, plan, t, inputs); err != nil {
		if errors.Is(err, backends.ErrNoHostTool) {
			return fmt.Sprintf("not run: %v (tools/install-deps.sh installs it)", err), nil
		}
		return "", fmt.Errorf("the emitted %s artifact disagrees with the int8 interpreter: %w", b.Name(), err)
	}
	return fmt.Sprintf("%d test images run by the artifact itself (%s), outputs bit-exact with the int8 interpreter", n, v.VerifiedBy()), nil
}

// accuracyOf is the top-1 of logits (one row per image of set).
func accuracyOf(logits []float32, set *data.Dataset, classes int) float64 {
	correct := 0
	for i := 0; i < set.Len(); i++ {
		row := logits[i*classes : (i+1)*classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == int(set.Labels[i]) {
			correct++
		}
	}
	return float64(correct) / float64(set.Len())
}
