package hls

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"

	"github.com/ofac-dev/ofac/backends"
	"github.com/ofac-dev/ofac/ir"
	"github.com/ofac-dev/ofac/ir/interp"
	"github.com/ofac-dev/ofac/passes"
)

// Verify implements backends.Verifier: it writes the project with inputs
// as the testbench's images into a scratch folder and runs its C
// simulation (make csim, g++), whose testbench compares every output code
// with the int8 interpreter's.
func (b Backend) Verify(g *ir.Graph, _ *passes.MemoryPlan, t backends.Target, inputs []interp.Tensor) error {
	for _, tool := range []string{"make", "g++"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("the C simulation needs %s: %w", tool, backends.ErrNoHostTool)
		}
	}
	dir, err := os.MkdirTemp("", "ofac-csim-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := b.EmitProject(g, t, dir, inputs); err != nil {
		return err
	}
	cmd := exec.Command("make", "-s", "csim")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("PASS:")) {
		return fmt.Errorf("the C simulation failed: %v\n%s", err, lastLines(out, 12))
	}
	return nil
}

// VerifiedBy implements backends.Verifier.
func (Backend) VerifiedBy() string { return "C simulation with g++" }

// lastLines returns the last n lines of out.
func lastLines(out []byte, n int) []byte {
	lines := bytes.Split(bytes.TrimRight(out, "\n"), []byte("\n"))
	return bytes.Join(lines[max(0, len(lines)-n):], []byte("\n"))
}
