// Package search holds the accuracy predictor and the constrained evolutionary
// search that asks backends for costs through one interface.
//
// search may import backends, frontend and ir.
package search
