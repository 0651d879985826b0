package passes

import (
	"errors"
	"fmt"

	"github.com/ofac-dev/ofac/ir"
)

// CheckMemoryPlan verifies p against g without trusting the planner: it
// recomputes every lifetime and size from the graph, checks each reuse is
// legal for its op, and checks that no two values (or a value and a
// scratch buffer) share a byte while both are live, except where the plan
// says so: a reshape alias shares its input's bytes, and a node writing in
// place shares its input's bytes at that node's step only. It also
// recomputes the lower bound and the naive total. Backends can call it
// before emitting.
func CheckMemoryPlan(g *ir.Graph, p *MemoryPlan) error {
	if p == nil {
		return errors.New("memory plan: nil")
	}
	o, err := p.Options.withDefaults()
	if err != nil {
		return err
	}
	want, err := lifetimes(g, o) // the graph's facts, before any decision
	if err != nil {
		return err
	}
	if len(p.Values) != len(want.Values) || len(p.Nodes) != len(g.Nodes) {
		return fmt.Errorf("memory plan: %d values and %d nodes, the graph has %d and %d", len(p.Values), len(p.Nodes), len(want.Values), len(g.Nodes))
	}
	align := int64(o.Alignment)
	end := func(v *ValuePlan) int64 { return v.Offset + o.align(v.Size) }
	var naive int64
	for i := range want.Values {
		w, v := &want.Values[i], p.Value(want.Values[i].Value)
		if v == nil {
			return fmt.Errorf("memory plan: %s is not planned", w.Value.Ref())
		}
		if v.Size != w.Size || v.First != w.First || v.Last != w.Last {
			return fmt.Errorf("memory plan: %s has %d bytes live at %d-%d, want %d bytes at %d-%d", w.Value.Ref(), v.Size, v.First, v.Last, w.Size, w.First, w.Last)
		}
		if v.Offset < 0 || v.Offset%align != 0 || end(v) > p.ArenaBytes {
			return fmt.Errorf("memory plan: %s at %d+%d is unaligned or outside the %d-byte arena", w.Value.Ref(), v.Offset, v.Size, p.ArenaBytes)
		}
		naive += o.align(v.Size)
	}
	if naive != p.NaiveBytes {
		return fmt.Errorf("memory plan: naive total %d, want %d", p.NaiveBytes, naive)
	}
	pinned := map[*ir.Value]bool{}
	for _, v := range g.Outputs {
		pinned[v] = true
	}
	// Alias classes: values that are the same bytes through reshapes.
	class := map[*ir.Value]*ir.Value{}
	for _, v := range p.Values {
		class[v.Value] = v.Value
		if v.Reuse == ReuseAlias {
			class[v.Value] = class[v.Reuses]
		}
	}
	overlap := func(a, b *ValuePlan) bool { return a.Offset < end(b) && b.Offset < end(a) }
	var maxScratch int64
	for s := range p.Nodes {
		np := &p.Nodes[s]
		n := g.Nodes[s]
		if np.Node != n || np.Step != s {
			return fmt.Errorf("memory plan: node entry %d is not step %d of the graph", s, s)
		}
		if err := checkReuse(o, p, np, class, pinned); err != nil {
			return fmt.Errorf("memory plan: step %d %s = %s: %w", s, n.Name(), n.Op, err)
		}
		maxScratch = max(maxScratch, np.ScratchBytes)
		if np.ScratchBytes == 0 {
			continue
		}
		lo, hi := np.ScratchOffset, np.ScratchOffset+o.align(np.ScratchBytes)
		if lo < 0 || lo%align != 0 || hi > p.ArenaBytes {
			return fmt.Errorf("memory plan: step %d scratch at %d+%d is unaligned or outside the arena", s, lo, np.ScratchBytes)
		}
		for i := range p.Values {
			v := &p.Values[i]
			if v.First <= s && s <= v.Last && lo < end(v) && v.Offset < hi {
				return fmt.Errorf("memory plan: step %d scratch at %d+%d overlaps live %s at %d+%d", s, lo, np.ScratchBytes, v.Value.Ref(), v.Offset, v.Size)
			}
		}
	}
	if maxScratch != p.ScratchBytes {
		return fmt.Errorf("memory plan: scratch total %d, want %d", p.ScratchBytes, maxScratch)
	}
	for i := range p.Values {
		a := &p.Values[i]
		for j := i + 1; j < len(p.Values); j++ {
			b := &p.Values[j]
			if !overlap(a, b) || a.Last < b.First || b.Last < a.First {
				continue
			}
			if class[a.Value] == class[b.Value] && a.Offset == b.Offset {
				continue // the same bytes under two shapes
			}
			// b (created later) writes over a at b's step, a's last.
			if b.First == a.Last && b.Reuses != nil && b.Reuse != ReuseAlias &&
				class[a.Value] == class[b.Reuses] && a.Offset == b.Offset {
				continue
			}
			return fmt.Errorf("memory plan: %s (%d+%d, steps %d-%d) and %s (%d+%d, steps %d-%d) share bytes while both are live",
				a.Value.Ref(), a.Offset, a.Size, a.First, a.Last, b.Value.Ref(), b.Offset, b.Size, b.First, b.Last)
		}
	}
	// The lower bound, from the plan's reuse links.
	buffer := make([]int, len(p.Values))
	for i, v := range p.Values {
		buffer[i] = i
		if v.Reuses != nil {
			buffer[i] = buffer[p.index[v.Reuses]]
		}
	}
	var bound int64
	largest := make([]int64, len(p.Values))
	for s := range max(len(p.Nodes), 1) {
		clear(largest)
		var need int64
		if s < len(p.Nodes) {
			need = p.Nodes[s].ScratchBytes
		}
		for i, v := range p.Values {
			if v.First <= s && s <= v.Last {
				largest[buffer[i]] = max(largest[buffer[i]], v.Size)
			}
		}
		for _, b := range largest {
			need += b
		}
		bound = max(bound, need)
	}
	if bound != p.LowerBoundBytes || bound > p.ArenaBytes {
		return fmt.Errorf("memory plan: lower bound %d, recomputed %d, arena %d", p.LowerBoundBytes, bound, p.ArenaBytes)
	}
	return nil
}

// checkReuse checks one node's reuse decision against its op.
func checkReuse(o PlanOptions, p *MemoryPlan, np *NodePlan, class map[*ir.Value]*ir.Value, pinned map[*ir.Value]bool) error {
	n, s := np.Node, np.Step
	out := p.Value(n.Output)
	if out.Reuse != np.Reuse {
		return fmt.Errorf("value says reuse %q, node says %q", out.Reuse, np.Reuse)
	}
	if np.Reuse == ReuseNone {
		if np.InPlace != -1 || out.Reuses != nil {
			return errors.New("in place without a reuse kind")
		}
		if np.ScratchBytes != 0 {
			return errors.New("scratch without depthwise reuse")
		}
		return nil
	}
	if np.InPlace < 0 || np.InPlace >= len(n.Inputs) {
		return fmt.Errorf("in-place input %d out of range", np.InPlace)
	}
	u := n.Inputs[np.InPlace]
	up := p.Value(u)
	if up == nil || out.Reuses != u {
		return fmt.Errorf("reuses %v, which is not input %d or not in the arena", out.Reuses, np.InPlace)
	}
	if up.Offset != out.Offset {
		return fmt.Errorf("in place over %s at %d but placed at %d", u.Ref(), up.Offset, out.Offset)
	}
	if (np.Reuse == ReuseDepthwise) != (np.ScratchBytes > 0) {
		return fmt.Errorf("scratch %d with reuse %s", np.ScratchBytes, np.Reuse)
	}
	sameElem := o.elemSize(u) == o.elemSize(n.Output)
	sameCount := u.Shape.NumElements() == n.Output.Shape.NumElements()
	switch np.Reuse {
	case ReuseAlias:
		if n.Op != ir.OpReshape || !sameElem || !sameCount {
			return errors.New("alias is only for reshape")
		}
		return nil // nothing is written
	case ReuseElementwise:
		if !isElementwise(n.Op) || !sameElem || !sameCount {
			return errors.New("element-wise reuse of a different op or size")
		}
	case ReuseOperand:
		if (n.Op != ir.OpAdd && n.Op != ir.OpMul) || !sameElem || !sameCount {
			return errors.New("operand reuse of a different op or a broadcast operand")
		}
		other := p.Value(n.Inputs[1-np.InPlace])
		if other != nil && other.Offset < out.Offset+o.align(out.Size) && out.Offset < other.Offset+o.align(other.Size) &&
			(other.Offset != out.Offset || !other.Value.Shape.Equal(n.Output.Shape)) {
			return errors.New("the other operand overlaps the output with another layout")
		}
	case ReuseResidual:
		if n.Op != ir.OpConv2D || np.InPlace != 3 || !sameElem || !sameCount {
			return errors.New("residual reuse of something else than a conv2d residual")
		}
		if x := p.Value(n.Inputs[0]); x != nil && class[x.Value] == class[u] {
			return errors.New("the conv input shares the residual's bytes")
		}
	case ReuseDepthwise:
		if !isDepthwise(n) || np.InPlace != 0 {
			return errors.New("depthwise reuse of a conv2d that is not depthwise")
		}
		if planeBytes(o, n.Output) > planeBytes(o, u) || np.ScratchBytes < planeBytes(o, u) {
			return fmt.Errorf("output plane %d B, input plane %d B, scratch %d B", planeBytes(o, n.Output), planeBytes(o, u), np.ScratchBytes)
		}
		if len(n.Inputs) == 4 {
			if r := p.Value(n.Inputs[3]); r != nil && class[r.Value] == class[u] {
				return errors.New("the residual shares the input's bytes")
			}
		}
	default:
		return fmt.Errorf("unknown reuse %d", np.Reuse)
	}
	// Writing over u is legal only if nothing with u's bytes is read later.
	for _, v := range p.Values {
		if class[v.Value] == class[u] && (v.Last > s || pinned[v.Value]) {
			return fmt.Errorf("writes over %s while %s is still needed", u.Ref(), v.Value.Ref())
		}
	}
	return nil
}
