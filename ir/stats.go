package ir

// NodeStats are the static costs of one node.
type NodeStats struct {
	Node *Node
	// MACs counts multiply-accumulates.
	MACs int64
	// Params counts the constant elements the node reads.
	Params int64
	// ActivationBytes is the size of the node's output.
	ActivationBytes int64
}

// Totals sums a graph's costs; constants shared by several nodes count once.
type Totals struct {
	MACs            int64
	Params          int64
	ParamBytes      int64
	ActivationBytes int64
	// PeakActivationBytes is the largest single output, a floor for any
	// memory plan.
	PeakActivationBytes int64
}

// Stats returns per-node costs in graph order and their totals.
func Stats(g *Graph) ([]NodeStats, Totals) {
	var t Totals
	per := make([]NodeStats, len(g.Nodes))
	for i, n := range g.Nodes {
		s := NodeStats{Node: n, MACs: n.MACs()}
		for _, in := range n.Inputs {
			if in.Kind == ConstValue {
				s.Params += int64(in.Shape.NumElements())
			}
		}
		s.ActivationBytes = int64(n.Output.Shape.NumElements() * n.Output.DType.Size())
		t.MACs += s.MACs
		t.ActivationBytes += s.ActivationBytes
		t.PeakActivationBytes = max(t.PeakActivationBytes, s.ActivationBytes)
		per[i] = s
	}
	for _, c := range g.Consts {
		t.Params += int64(c.Shape.NumElements())
		t.ParamBytes += int64(c.Shape.NumElements() * c.DType.Size())
	}
	return per, t
}
