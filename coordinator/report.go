package coordinator

import "fmt"

// TaskReport is what a successful attempt reports, and what the state keeps
// for the one committed attempt of each task. It carries locations and small
// metadata only, never bulk data.
type TaskReport struct {
	// MapOutput is set by tasks of stages whose output is a shuffle or a
	// collect: the file the attempt wrote on its worker.
	MapOutput *MapOutputFile `json:"map_output,omitempty"`
	// SinkFile is set by tasks of sink stages: the attempt-scoped part file
	// that the job commit moves into place.
	SinkFile *SinkFile `json:"sink_file,omitempty"`
	// Samples are the sample keys of a sample stage's task.
	Samples [][]byte `json:"samples,omitempty"`
	// Counters are the task's statistics.
	Counters Counters `json:"counters"`
	// Iter is set by the tasks of a Pregel stage: what their superstep did.
	// Until the iteration ends (Iter.Final) MapOutput is the task's message
	// output, with one partition per task of the stage.
	Iter *IterReport `json:"iter,omitempty"`
}

// IterReport is what a task of a Pregel stage reports about the superstep
// it ran, as bsp.IterReport.
type IterReport struct {
	Superstep int   `json:"superstep"`
	Active    int64 `json:"active,omitempty"`   // vertices that did not vote to halt
	Messages  int64 `json:"messages,omitempty"` // messages sent
	// Aggregates are the task's encoded aggregator partials (opaque here).
	Aggregates []byte `json:"aggregates,omitempty"`
	Final      bool   `json:"final,omitempty"`      // the task emitted its vertices
	Checkpoint bool   `json:"checkpoint,omitempty"` // the task wrote the superstep's checkpoint
}

// MapOutputFile locates one map task's shuffle (or collect) file on the
// worker that ran the attempt.
type MapOutputFile struct {
	Path string `json:"path"`
	// Sizes are the compressed bytes of each reduce partition in the file;
	// the scheduler places reduce tasks near the most bytes. A collect
	// output has one partition.
	Sizes []int64 `json:"sizes"`
	// Index is the file's encoded shuffle index (opaque here), handed to the
	// reduce tasks that fetch from the file.
	Index []byte `json:"index,omitempty"`
}

// SinkFile is an attempt-scoped sink part file.
type SinkFile struct {
	Node int    `json:"node"`
	Part int    `json:"part"`
	Path string `json:"path"`
	Size int64  `json:"size"` // bytes written, verified by the commit
}

// Counters are the statistics a task reports.
type Counters struct {
	RecordsIn    int64 `json:"records_in,omitempty"`
	RecordsOut   int64 `json:"records_out,omitempty"`
	ShuffleBytes int64 `json:"shuffle_bytes,omitempty"`
	ShuffleRaw   int64 `json:"shuffle_raw,omitempty"`
	Spills       int64 `json:"spills,omitempty"`
	SpillBytes   int64 `json:"spill_bytes,omitempty"`
}

// Add folds c2 into c.
func (c *Counters) Add(c2 Counters) {
	c.RecordsIn += c2.RecordsIn
	c.RecordsOut += c2.RecordsOut
	c.ShuffleBytes += c2.ShuffleBytes
	c.ShuffleRaw += c2.ShuffleRaw
	c.Spills += c2.Spills
	c.SpillBytes += c2.SpillBytes
}

// check reports whether r is a complete report for a task of st.
func (r *TaskReport) check(st *StageSpec) error {
	switch st.Output.Kind {
	case OutputShuffle, OutputCollect:
		want := st.Output.Partitions
		if st.Output.Kind == OutputCollect {
			want = 1
		}
		if r.MapOutput == nil || r.MapOutput.Path == "" {
			return fmt.Errorf("%s stage %d: report without a map output file", st.Output.Kind, st.ID)
		}
		if len(r.MapOutput.Sizes) != want {
			return fmt.Errorf("stage %d: map output with %d partition sizes, want %d", st.ID, len(r.MapOutput.Sizes), want)
		}
		for _, n := range r.MapOutput.Sizes {
			if n < 0 {
				return fmt.Errorf("stage %d: negative partition size", st.ID)
			}
		}
	case OutputSink:
		if r.SinkFile == nil || r.SinkFile.Path == "" {
			return fmt.Errorf("sink stage %d: report without a sink file", st.ID)
		}
	}
	return nil
}

// checkIter reports whether r is a complete report for a task of the Pregel
// stage st that ran superstep superstep, it being the stage's iteration.
func (r *TaskReport) checkIter(st *StageSpec, it *Iteration, superstep int) error {
	ir := r.Iter
	switch {
	case ir == nil:
		return fmt.Errorf("iterating stage %d: report without an iteration report", st.ID)
	case ir.Superstep != superstep:
		return fmt.Errorf("iterating stage %d: report of superstep %d from an attempt of superstep %d", st.ID, ir.Superstep, superstep)
	case ir.Active < 0 || ir.Messages < 0:
		return fmt.Errorf("iterating stage %d: %d active vertices, %d messages", st.ID, ir.Active, ir.Messages)
	case ir.Final:
		return r.check(st)
	case it.Final:
		return fmt.Errorf("iterating stage %d: the final superstep %d did not emit the vertices", st.ID, superstep)
	}
	mo := r.MapOutput
	if mo == nil {
		return nil
	}
	if mo.Path == "" || len(mo.Sizes) != st.Tasks {
		return fmt.Errorf("iterating stage %d: message output %q with %d partition sizes, want %d", st.ID, mo.Path, len(mo.Sizes), st.Tasks)
	}
	for _, n := range mo.Sizes {
		if n < 0 {
			return fmt.Errorf("iterating stage %d: negative partition size", st.ID)
		}
	}
	return nil
}
