package optim

// Config holds the training hyper-parameters. The tags let a kong CLI embed
// it and override any field; the defaults in the tags match DefaultConfig.
// The defaults follow OFA's ImageNet recipe, scaled for a small data set.
type Config struct {
	// LR is the peak learning rate reached after warm-up.
	LR float64 `help:"Peak learning rate after warm-up." default:"0.08"`
	// Momentum is the SGD momentum coefficient.
	Momentum float64 `help:"SGD momentum." default:"0.9"`
	// Nesterov selects Nesterov momentum, as OFA trains.
	Nesterov bool `help:"Use Nesterov momentum." default:"true" negatable:""`
	// WeightDecay is applied only to parameters flagged Decay (not to batch
	// norm parameters or biases, which the caller flags off).
	WeightDecay float64 `help:"L2 weight decay on conv and linear weights." default:"3e-5"`
	// WarmupEpochs of linear learning-rate warm-up precede the cosine decay.
	WarmupEpochs float64 `help:"Epochs of linear learning-rate warm-up." default:"1"`
	// LabelSmoothing is passed to nn.CrossEntropy.
	LabelSmoothing float64 `help:"Label smoothing of the cross-entropy loss." default:"0.1"`
	// Dropout is the probability used before the classifier.
	Dropout float64 `help:"Dropout probability before the classifier." default:"0.1"`
	// Erase is the probability of random erasing per training image (see
	// data.Loader.SetErasing). It is zero in checkpoints written before it
	// existed, which is what they trained with.
	Erase float64 `help:"Probability of random erasing per training image: a random rectangle of 2-40% of the image filled with noise (0: off)." default:"0"`
}

// DefaultConfig returns the defaults documented on Config's fields.
func DefaultConfig() Config {
	return Config{
		LR:             0.08,
		Momentum:       0.9,
		Nesterov:       true,
		WeightDecay:    3e-5,
		WarmupEpochs:   1,
		LabelSmoothing: 0.1,
		Dropout:        0.1,
	}
}
