// Package search holds the accuracy predictor and the constrained evolutionary
// search that asks backends for costs through one interface.
//
// search may import ir, passes, backends, frontend and supernet: it compiles
// candidate subnets for their costs and measures them for its accuracy data.
package search
