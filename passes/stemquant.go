package passes

import (
	"github.com/ofac-dev/ofac/ir"
)

// A stem quantized per channel. In a MobileNetV3 stem the 3x3 conv2d's
// channels span very different ranges after h-swish: in ps9's smallest
// subnet from [-0.375, 0.01] (a channel that never leaves h-swish's
// negative lobe) to [-0.375, 21.7], so a per-tensor grid gives the narrow
// channels a handful of codes, and the depthwise convolution reading them,
// with a batch norm folded into its weights, amplifies exactly those
// (MODELS.md, ps9's int8). Per-channel grids there cost little: the conv2d
// already rescales per output channel (it adds a zero point per channel),
// the activation's table becomes one per channel (16 x 256 bytes), and the
// depthwise convolution folds per-channel input scales into its
// per-channel multipliers (it subtracts a zero point per channel). Readers
// that need a per-tensor input (the block's residual add) read a second
// table node on the same pre-activation.

// stemValues are the float values splitStem chose for per-channel grids.
type stemValues struct {
	pre, act *ir.Value // the conv2d's result and the table activation's
	table    *ir.Node  // the activation, act = table(pre)
}

// splitStem finds the stem, the first conv2d reading a graph input, when its
// result feeds only a table activation (as splitTableActs leaves it) whose
// result a depthwise conv2d reads. Readers of the activation other than
// depthwise convolutions are moved to a copy of the table node, which will
// get a per-tensor result; the float graph computes the same either way.
// It returns nil, changing nothing, for any other shape of graph.
func splitStem(g *ir.Graph) *stemValues {
	isInput, isOutput := map[*ir.Value]bool{}, map[*ir.Value]bool{}
	for _, v := range g.Inputs {
		isInput[v] = true
	}
	for _, v := range g.Outputs {
		isOutput[v] = true
	}
	users := g.Users()
	var conv *ir.Node
	for _, n := range g.Nodes {
		if n.Op == ir.OpConv2D && isInput[n.Inputs[0]] {
			conv = n
			break
		}
	}
	if conv == nil || conv.Attrs.Act != ir.ActNone || len(conv.Output.Shape) != 4 || isOutput[conv.Output] {
		return nil
	}
	pre := conv.Output
	if len(users[pre]) != 1 || !ir.IsTableOp(users[pre][0].Op) {
		return nil
	}
	table := users[pre][0]
	act := table.Output
	if isOutput[act] {
		return nil
	}
	c := act.Shape[1]
	st := &stemValues{pre: pre, act: act, table: table}
	var dw, others []*ir.Node
	for _, u := range users[act] {
		if u.Op == ir.OpConv2D && u.Inputs[0] == act && u.Attrs.Groups == c && u.Output.Shape[1] == c {
			dw = append(dw, u)
		} else {
			others = append(others, u)
		}
	}
	if len(dw) == 0 {
		return nil
	}
	if len(others) == 0 {
		return st
	}
	names := valueNames(g)
	copyOut := &ir.Value{Name: fresh(names, act.Name+".t"), Kind: ir.NodeValue, Type: act.Type}
	var nodes []*ir.Node
	for _, n := range g.Nodes {
		nodes = append(nodes, n)
		if n == table {
			nodes = append(nodes, &ir.Node{Op: table.Op, Inputs: []*ir.Value{pre}, Output: copyOut, Attrs: table.Attrs})
		}
	}
	g.Nodes = nodes
	for _, u := range others {
		for i, in := range u.Inputs {
			if in == act {
				u.Inputs[i] = copyOut
			}
		}
	}
	return st
}

// quants gives the stem's values their per-channel grids (axis 1) from the
// per-channel calibration ranges: each channel of the pre-activation its own
// scale and zero point over its range clipped to where the activation
// changes. An h-swish result takes the same grid, which holds it (on a
// range containing 0, x <= hswish(x) <= max(x, 0) for x <= 3, and
// hswish(x) = x above), so nothing is rounded twice; other activations get
// grids of their own ranges.
func (st *stemValues) quants(cal *observed) map[*ir.Value]*ir.Quant {
	perChannel := func(rs []Range, clip bool) *ir.Quant {
		q := &ir.Quant{Scale: make([]float32, len(rs)), ZeroPoint: make([]int32, len(rs)), Axis: 1}
		for c, r := range rs {
			if clip {
				r = clipTableRange(st.table.Op, r)
			}
			t := activationQuant(r)
			q.Scale[c], q.ZeroPoint[c] = t.Scale[0], t.ZeroPoint[0]
		}
		return q
	}
	pre := perChannel(cal.channels[st.pre], true)
	act := pre
	if st.table.Op != ir.OpHSwish {
		act = perChannel(cal.channels[st.act], false)
	}
	return map[*ir.Value]*ir.Quant{st.pre: pre, st.act: act}
}
