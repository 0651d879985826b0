package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/ofac-dev/ofac/backends"
	_ "github.com/ofac-dev/ofac/backends/c" // registers the mcu-* targets
	"github.com/ofac-dev/ofac/frontend"
	"github.com/ofac-dev/ofac/internal/humanize"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/passes"
)

// compileCmd emits a target's artifact for one subnet (or model file),
// without search.
type compileCmd struct {
	Target   string `required:"" placeholder:"TARGET" help:"Hardware to compile for (see 'ofac targets')."`
	Arch     string `placeholder:"ARCH" xor:"source" help:"Subnet of the supernet: largest, smallest, random:SEED or a JSON file (exactly one of --arch and --model)."`
	Model    string `placeholder:"FILE" xor:"source" type:"path" help:"A float model file (.ofac) to compile instead of a subnet."`
	Supernet string `placeholder:"FILE" default:"${default_supernet}" help:"Trained supernet checkpoint, for --arch (default ${default_supernet})."`
	Data     string `placeholder:"DIR" default:"${default_data}" help:"Folder with the Fashion-MNIST files (calibration)."`
	Calib    int    `default:"512" help:"Training images that calibrate int8 activation ranges."`
	BNCalib  int    `name:"bn-calib" default:"2000" help:"Training images that recalibrate batch norm, for --arch."`
	Out      string `short:"o" required:"" placeholder:"DIR" help:"Folder to write; must not exist or be empty unless --force."`
	Force    bool   `help:"Replace a non-empty output folder."`
	passFlags
}

func (c *compileCmd) Run(e *env) error {
	if (c.Arch == "") == (c.Model == "") {
		return usageError{errors.New("give exactly one of --arch and --model")}
	}
	b, t, err := backends.For(c.Target)
	if err != nil {
		return usageError{err}
	}
	if err := checkOutDir(c.Out, c.Force); err != nil {
		return err
	}
	var g *ir.Graph
	if c.Model != "" {
		if g, err = ir.ReadModelFile(c.Model); err != nil {
			return err
		}
	} else {
		sf := supernetFlags{Supernet: c.Supernet, Arch: c.Arch, Data: c.Data, Calib: c.BNCalib}
		net, a, _, stats, err := sf.load()
		if err != nil {
			return err
		}
		if g, err = frontend.Subnet("subnet", net.Extract(a, stats)); err != nil {
			return err
		}
	}
	opts := passes.Options{Int8: b.Int8()}
	if opts.Int8 {
		if opts.Calibration, err = calibrationSamples(g, c.Data, c.Calib); err != nil {
			return err
		}
	}
	if err := c.passFlags.run(g, opts, e.stdout); err != nil {
		return err
	}
	plan, err := passes.PlanMemory(g, passes.PlanOptions{ExternalInputs: true})
	if err != nil {
		return err
	}
	cost, err := b.Estimate(g, plan, t)
	if err != nil {
		return err
	}
	if err := emitAtomically(c.Out, func(dir string) error { return b.Emit(g, plan, t, dir) }); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s for %s (%s backend): %d nodes\n", c.Out, t.Name, b.Name(), len(g.Nodes))
	printEstimate(e, t, cost)
	return nil
}

// checkOutDir refuses an output folder that holds something, unless force.
func checkOutDir(dir string, force bool) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("output %s: %w", dir, err)
	case len(entries) > 0 && !force:
		return usageError{fmt.Errorf("output folder %s is not empty (pass --force to replace it)", dir)}
	}
	return nil
}

// emitAtomically writes into a temporary folder beside out and renames it
// over out at the end, so a failure never leaves a half-written output.
func emitAtomically(out string, write func(dir string) error) (err error) {
	out = filepath.Clean(out)
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err = os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err = write(tmp); err != nil {
		return err
	}
	if err = os.RemoveAll(out); err != nil { // empty, or replaced with --force
		return err
	}
	return os.Rename(tmp, out)
}

func printEstimate(e *env, t backends.Target, c *backends.Cost) {
	fmt.Fprintf(e.stdout, "estimate on %s: latency %.2f ms (%s cycles)\n", t.Name, c.LatencyMs, humanize.Count(int64(c.Resources["cycles"])))
	keys := make([]string, 0, len(c.Resources))
	for k := range c.Resources {
		if k != "cycles" && k != "latency_cycles" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		used := c.Resources[k]
		capacity, ok := t.Capacity[k]
		if !ok || capacity <= 0 {
			fmt.Fprintf(e.stdout, "  %-12s %s\n", k, humanize.Count(int64(used)))
			continue
		}
		warn := ""
		if used > capacity {
			warn = "  DOES NOT FIT"
		}
		fmt.Fprintf(e.stdout, "  %-12s %s of %s (%.1f%%)%s\n", k, humanize.Count(int64(used)), humanize.Count(int64(capacity)), 100*used/capacity, warn)
	}
}
