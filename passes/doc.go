// Package passes holds IR-to-IR rewrites (BN folding, fusion, int8
// quantization, memory planning) and the ordered pass table that runs them.
//
// passes may import ir only: a pass is a plain function of the graph, checked
// against the reference interpreter before and after it runs.
package passes
