// Package supernet owns the elastic Once-for-All network, its CPU tensor
// engine, the progressive-shrinking trainer and the data sets it trains on.
//
// supernet imports nothing else from ofac: it is a self-contained training
// system whose results reach the compiler only through frontend.
package supernet
