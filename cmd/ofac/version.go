package main

import (
	"fmt"
	"runtime"

	"github.com/ofac-dev/ofac/ir"
)

// version is the release of ofac; artifacts record it so a build can be
// traced to the compiler that made it.
const version = "0.1.0"

type versionCmd struct{}

func (versionCmd) Run(e *env) error {
	fmt.Fprintf(e.stdout, "ofac %s (model file version %d, %s %s/%s)\n", version, ir.ModelVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
