// Package ir is ofac's graph intermediate representation: values with dtype,
// static shape and quantization parameters; nodes in topological order; the
// op set with attribute validation, shape inference and MAC counts; a verifier;
// the canonical text form (printer and parser); and the model file that holds a
// graph together with its weights.
//
// ir imports nothing else from ofac: every other layer depends on it, so it must
// stay at the bottom. The reference interpreter lives in ir/interp.
package ir
