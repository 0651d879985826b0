package ir

import "fmt"

// Act is an activation fused into a conv2d, dense or add.
type Act uint8

// Fusable activations. ActNone must stay the zero value.
const (
	ActNone Act = iota
	ActReLU
	ActReLU6
	ActHSwish
	ActHSigmoid
	ActSigmoid
)

var actNames = []string{"none", "relu", "relu6", "hswish", "hsigmoid", "sigmoid"}

func (a Act) String() string {
	if int(a) < len(actNames) {
		return actNames[a]
	}
	return fmt.Sprintf("act(%d)", uint8(a))
}

func parseAct(s string) (Act, bool) {
	for i, n := range actNames {
		if n == s {
			return Act(i), true
		}
	}
	return 0, false
}

// Attrs are the attributes of a node. One struct serves every op; each op
// names the fields it reads (its schema), and the printer writes exactly those,
// in schema order, so the text form is canonical.
type Attrs struct {
	Kernel [2]int  // conv2d: kernel height and width
	Stride int     // conv2d: stride, the same along both axes
	Pad    int     // conv2d: zero padding on every side
	Groups int     // conv2d: groups; depthwise when it equals the channels
	Act    Act     // conv2d, dense, add: fused activation
	Eps    float32 // batchnorm: variance epsilon
	Min    float32 // clip
	Max    float32 // clip
	Shape  Shape   // reshape: the output shape
	Axis   int     // softmax: the axis normalised over
}

// attrKey names an attribute in the text form.
type attrKey string

const (
	keyKernel attrKey = "kernel"
	keyStride attrKey = "stride"
	keyPad    attrKey = "pad"
	keyGroups attrKey = "groups"
	keyAct    attrKey = "act"
	keyEps    attrKey = "eps"
	keyMin    attrKey = "min"
	keyMax    attrKey = "max"
	keyShape  attrKey = "shape"
	keyAxis   attrKey = "axis"
)

// Equal reports whether two attribute sets are identical.
func (a Attrs) Equal(b Attrs) bool {
	return a.Kernel == b.Kernel && a.Stride == b.Stride && a.Pad == b.Pad &&
		a.Groups == b.Groups && a.Act == b.Act && a.Eps == b.Eps &&
		a.Min == b.Min && a.Max == b.Max && a.Axis == b.Axis &&
		a.Shape.Equal(b.Shape)
}
