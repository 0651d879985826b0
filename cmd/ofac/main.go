// Command ofac is the Once-for-All compiler: it trains one elastic supernet,
// searches the subnet that fits a hardware budget and compiles it into a
// standalone artifact. This file wires the commands; each lives in its own
// file.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/ofac-dev/ofac/passes"
	"github.com/ofac-dev/ofac/supernet/data"
	"github.com/ofac-dev/ofac/supernet/ofa"
)

const description = `ofac, the Once-for-All compiler.

Train one elastic supernet once; then, for each piece of hardware, search the
most accurate subnet its cost model says fits the budget and compile it into a
standalone artifact: HLS C++ for FPGAs, a C99 library for microcontrollers,
an LLVM-compiled library for CPUs, PTX for GPUs.

Models are .ofac files: the graph IR as text plus its weights and a checksum.

Examples:
  ofac inspect ir/testdata/mbv3_tiny.ofac       per-layer MACs, params, memory
  ofac run ir/testdata/mbv3_tiny.ofac --input 0 classify test image 0
  ofac run model.ofac --input shoe.png          classify a PGM or PNG file
  ofac targets                                  hardware ofac can compile for`

// cli is the command tree; kong reads its tags for parsing and --help.
type cli struct {
	Version versionCmd `cmd:"" help:"Print the ofac version."`
	Inspect inspectCmd `cmd:"" help:"Print a model's layers with MACs, parameters and activation sizes."`
	Run     runCmd     `cmd:"" help:"Run a model on one image with the reference interpreter and print the scores."`
	Targets targetsCmd `cmd:"" help:"List the hardware targets ofac can compile for."`
	Train   trainCmd   `cmd:"" help:"Train the supernet (progressive shrinking) or one architecture from scratch."`
	Eval    evalCmd    `cmd:"" help:"Measure a subnet's top-1 accuracy, batch norm recalibrated, without retraining."`
	Subnet  subnetCmd  `cmd:"" help:"Take a subnet out of the supernet as a model file (.ofac)."`
	Release releaseCmd `cmd:"" help:"Strip a finished supernet checkpoint to the form it ships in."`
	Compile compileCmd `cmd:"" help:"Compile a subnet (--arch) or a model file (--model) for a target, without search."`

	AccuracyData accuracyDataCmd `cmd:"" name:"accuracy-data" help:"Measure sampled subnets' validation accuracy: the predictor's training data."`
	Predictor    predictorCmd    `cmd:"" help:"Train the accuracy predictor on accuracy data."`
	Search       searchCmd       `cmd:"" help:"Search the most accurate subnet that fits a budget on a target; print the Pareto front."`
	Build        buildCmd        `cmd:"" help:"Search, compile, verify and report: a budget in, an artifact and report.md out."`
}

// env is what commands write to; tests pass buffers.
type env struct {
	stdout, stderr io.Writer
}

// usageError marks a mistake in how ofac was called (exit code 2) as opposed
// to a failure while doing the work (exit code 1).
type usageError struct{ error }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes ofac with args and returns the process exit code: 0 on
// success, 1 when the work failed, 2 when the command line was wrong.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		// A bug must still end in one line, not a stack trace.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "ofac: internal error: %v (please report this with the command you ran)\n", r)
			code = 1
		}
	}()
	var c cli
	exited := -1
	parser, err := kong.New(&c,
		kong.Name("ofac"),
		kong.Description(description),
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) { exited = c; panic(exitSentinel{}) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Bind(&env{stdout: stdout, stderr: stderr}),
		kong.Vars{"default_data": data.DefaultDir, "default_supernet": defaultSupernet, "default_accuracy": defaultAccuracy, "default_predictor": defaultPredictor, "passes": strings.Join(passes.PassNames(), ", "), "spaces": spaceNames()},
	)
	if err != nil {
		fmt.Fprintf(stderr, "ofac: internal error: %v\n", err)
		return 1
	}
	ctx, err := parseArgs(parser, args, &exited)
	if exited >= 0 {
		return exited
	}
	if err != nil {
		fmt.Fprintf(stderr, "ofac: %s (see 'ofac --help')\n", oneLine(err))
		return 2
	}
	if err := ctx.Run(); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "ofac: %s (see 'ofac %s --help')\n", oneLine(err), ctx.Command())
			return 2
		}
		fmt.Fprintf(stderr, "ofac: %s\n", oneLine(err))
		return 1
	}
	return 0
}

// exitSentinel unwinds out of kong when --help asks to exit, so run can
// return the code instead of killing the process (which tests need).
type exitSentinel struct{}

func parseArgs(p *kong.Kong, args []string, exited *int) (ctx *kong.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exitSentinel); !ok {
				panic(r)
			}
		}
	}()
	if len(args) == 0 {
		args = []string{"--help"}
	}
	return p.Parse(args)
}

// oneLine keeps error output to a single line whatever the error text holds.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// spaceNames lists ofa.Spaces in name order for the --space enums, so a new
// search space needs adding in one place only.
func spaceNames() string {
	names := make([]string, 0, len(ofa.Spaces))
	for name := range ofa.Spaces {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}
