package main

// The HLS backend registers fpga-zu9 and fpga-zu3 for `ofac compile`.
import _ "github.com/ofac-dev/ofac/backends/hls"
