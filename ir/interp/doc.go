// Package interp is the reference interpreter of the graph IR: float32
// semantics for every op, written for clarity first. It is the oracle that
// every pass and backend is checked against.
//
// Integer values follow the quantization in their type: an op that reads one
// sees its real value scale*(q-zp), and a node whose result is an integer
// type rounds and clamps its real result to that type's grid (fake
// quantization). At the graph boundary integer tensors carry their integer
// codes, so a test can hand an int8 image in and compare int8 logits out.
//
// interp imports only ir.
package interp
