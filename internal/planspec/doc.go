// Package planspec is the one schema of a compiled plan as data (Spec): what
// a submitter sends to the coordinator and what a worker checks its rebuilt
// plan against. Package bsp (the user API) re-exports these types, and the
// coordinator reads them directly, so that the coordinator depends on
// neither the user API nor user code, and so that there is one validator
// (Decode) and one copy of every rule that both sides must agree on: the
// range bounds taken from samples (RangeBounds), the stages a shuffle reads
// (Producers, Consumers) and when an iteration's superstep is its last
// (IterateSpec.Final).
//
// The package imports only the standard library.
package planspec
