package optim

import "math"

// CosineLR is the learning rate at optimiser step (counted from 0) of
// totalSteps, with warmupSteps of linear warm-up: during warm-up it rises as
// peak*(step+1)/warmupSteps so the first step is not taken at zero; after it,
// it follows peak*0.5*(1+cos(pi*t)) with t the fraction of the post-warm-up
// steps done, reaching 0 at totalSteps. This is OFA's schedule per batch.
func CosineLR(peak float64, step, warmupSteps, totalSteps int) float64 {
	if step < warmupSteps {
		return peak * float64(step+1) / float64(warmupSteps)
	}
	span := totalSteps - warmupSteps
	if span <= 0 {
		return peak
	}
	t := math.Min(float64(step-warmupSteps)/float64(span), 1)
	return peak * 0.5 * (1 + math.Cos(math.Pi*t))
}

// WarmupSteps converts Config.WarmupEpochs to steps for an epoch of
// stepsPerEpoch optimiser steps.
func (c Config) WarmupSteps(stepsPerEpoch int) int {
	return int(math.Round(c.WarmupEpochs * float64(stepsPerEpoch)))
}
