// Package ofa is the elastic Once-for-All network: its search space, the
// architecture spec that picks a subnet, and (with the training engine) the
// weight-shared layers and progressive shrinking.
package ofa
