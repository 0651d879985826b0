// Package data owns everything between the Fashion-MNIST files on disk and
// the float32 tensors the supernet trains on:
//
//   - a strict reader for IDX files (gzip-compressed or plain), so a damaged
//     or wrong file fails loudly with a one-line error naming the file,
//     instead of training silently on garbage;
//   - the fixed train / validation / test split (see SplitTrainVal), and
//     a smaller validation split inside it (Splits.HoldOut);
//   - the normalisation constants (Mean, Std) every consumer must share;
//   - bilinear resizing with PyTorch align_corners=false semantics (Resize),
//     which elastic-resolution training relies on;
//   - a deterministic, resumable batch loader with the training-time
//     augmentation (2-pixel zero-padded random crop, horizontal flip);
//   - decoding a single PGM or PNG image for the command line, normalised
//     exactly like the training data.
//
// Images stay uint8 in memory (47 MB for the training set instead of 188 MB
// as float32) and are converted while a batch is filled: the conversion is a
// table lookup or part of the resize, so it costs next to nothing.
//
// The data comes from the Debian package dataset-fashion-mnist, which
// installs the four official files under DefaultDir.
package data
