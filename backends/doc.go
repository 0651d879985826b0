// Package backends is the root of ofac's code generators. Each backend lives in
// its own folder below this one with its target specs, its cost model and its
// emitter, both reading the same schedule so that estimates describe the code
// that is really emitted.
//
// backends may import ir and passes, never frontend, supernet or search.
package backends
