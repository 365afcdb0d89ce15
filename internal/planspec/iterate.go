package planspec

// MessageSide is the shuffle side of a Pregel stage's message outputs: the
// map outputs its tasks write in superstep k and read in superstep k+1.
const MessageSide = -1

// IterateSpec describes a stage that runs a Pregel iteration. This is the
// iteration protocol; the coordinator's state machine (package coordinator,
// iterate.go) is its one implementation, and every executor runs it:
//
//   - Superstep 0 (TaskSpec.Superstep 0) reads the stage's shuffle input,
//     like any stage, and loads the partition.
//   - When every task of superstep k has succeeded without Final, superstep
//     k+1 starts. Its tasks get the aggregates (the IterReport.Aggregates of
//     every task of k, in task order) and read, on side MessageSide of the
//     stage's input node, the message outputs of every task of k. Superstep
//     k+1 is the final one when Final(k+1, active, messages) holds, active
//     and messages being summed over the tasks of k.
//   - Task p of superstep k+1 must run where task p of k succeeded; a task
//     that finds no resident partition fails as state-lost. The stage then
//     rolls back to the newest superstep c whose tasks all reported
//     Checkpoint, and runs superstep c+1 restoring from it, in any process;
//     with no checkpoint yet, it reruns superstep 0.
//   - A final task emits the vertices into the stage's chain and output,
//     which is then committed as for any other stage.
//
// Checkpoints are files under CheckpointDir, which every process of the job
// must be able to read; they are removed when the job ends.
type IterateSpec struct {
	MaxSupersteps   int    `json:"max_supersteps"`
	CheckpointEvery int    `json:"checkpoint_every,omitempty"` // 0: never
	CheckpointDir   string `json:"checkpoint_dir,omitempty"`
}

// Final reports whether superstep, which follows a superstep whose tasks
// reported active vertices and sent messages in total, is the iteration's
// last: the superstep bound is reached, or nothing is left to do. This is
// the one place the rule is written.
func (it *IterateSpec) Final(superstep int, active, messages int64) bool {
	return superstep >= it.MaxSupersteps || (active == 0 && messages == 0)
}
