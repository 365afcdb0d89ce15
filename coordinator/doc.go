// Package coordinator is the deterministic core of the distributed runtime:
// the replicated state of jobs, stages, task attempts, committed outputs and
// worker membership, the commands that change it, and the decisions made
// from it (which task runs where, when the barrier opens, what to recompute).
//
// Nothing in this package does I/O, reads the clock or starts goroutines.
// State.Apply is a pure function of the state and one Command, so that every
// replica of the raft log (package coordinator/raftnode) reaches the same
// state; Schedule is a pure function of a State and the free task slots;
// FailureDetector is fed heartbeats with explicit times and says which
// workers to declare dead. A leader loop built on top proposes the commands
// these functions suggest and talks to workers.
//
// A Pregel stage (StageSpec.Iterate) runs superstep after superstep within
// the barrier of its stage: the state keeps its Iteration (current
// superstep, aggregates, where each vertex partition is resident, the last
// checkpoint), pins each task to the worker holding its partition, and rolls
// the stage back to its checkpoint when a partition is lost (iterate.go).
//
// The package reads the compiled plan through package internal/planspec,
// the one schema and validator that the user API (bsp) uses too, so that it
// depends on neither the user API nor user code.
package coordinator
