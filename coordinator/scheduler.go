package coordinator

// Assignment is one task attempt the scheduler places on a worker; the
// leader proposes it as an AssignTask command.
type Assignment struct {
	AttemptID
	Worker      WorkerID
	Speculative bool // a copy of a running straggler (see Speculate)
}

// Command returns the AssignTask command of the assignment.
func (a Assignment) Command() AssignTask {
	return AssignTask{AttemptID: a.AttemptID, Worker: a.Worker, Speculative: a.Speculative}
}

// Schedule decides which pending tasks to start where. It is a pure
// function: free gives each worker's free task slots (workers absent from it
// get nothing; State.FreeSlots is the usual source) and is not modified.
//
// Running jobs are served in submission order. Of each job, the pending
// tasks (no commit, no running attempt) of the current stage are placed in
// task order on live workers that can run the job and have a free slot. A
// task that reads a shuffle goes to the worker that holds the most bytes of
// its partition across the committed map outputs; other tasks, and shuffle
// tasks whose data is on no eligible worker, go to the eligible worker with
// the most free slots left, so that work spreads. Ties go to the smaller
// worker ID. A task of a Pregel stage past superstep 0 goes only to the
// worker holding its vertex partition (Iteration.Owner), and waits for a
// free slot there; restoring from a checkpoint, it goes anywhere. The
// result is the same for the same state and free slots.
func Schedule(s *State, free map[WorkerID]int) []Assignment {
	left := make(map[WorkerID]int, len(free))
	for w, n := range free {
		left[w] = n
	}
	var out []Assignment
	for _, j := range s.Jobs {
		if j.Phase != JobRunning {
			continue
		}
		stage := j.CurrentStage()
		if stage == len(j.Stages) {
			continue
		}
		var eligible []*Worker // sorted by ID, as s.Workers is
		for _, w := range s.Workers {
			if w.CanRun(j) && left[w.ID] > 0 {
				eligible = append(eligible, w)
			}
		}
		if len(eligible) == 0 {
			continue
		}
		it := j.Iteration(stage)
		var local map[WorkerID][]int64
		if it == nil || it.Superstep == 0 {
			local = s.partitionBytes(j, stage)
		}
		for ti, t := range j.Stages[stage].Tasks {
			if t.Committed != nil || t.Running() {
				continue
			}
			if o := it.owner(ti); o != "" {
				if w := s.workers[o]; w != nil && w.CanRun(j) && left[o] > 0 {
					left[o]--
					out = append(out, Assignment{
						AttemptID: AttemptID{TaskID: TaskID{j.ID, stage, ti}, Attempt: len(t.Attempts)},
						Worker:    o,
					})
				}
				continue
			}
			w := pick(eligible, left, local, ti, t.failedOn())
			if w == "" {
				break
			}
			left[w]--
			out = append(out, Assignment{
				AttemptID: AttemptID{TaskID: TaskID{j.ID, stage, ti}, Attempt: len(t.Attempts)},
				Worker:    w,
			})
		}
	}
	return out
}

// pick returns the eligible worker with a free slot for task ti: the one
// holding the most bytes of its input, else the one with the most free
// slots, ties to the smaller ID; "" when none has a free slot. Workers in
// avoid (where an attempt of the task failed) are picked only when no other
// has a free slot: a retry that goes back to the worker whose disk is full
// fails again (found by bench/chaos: locality sent all three attempts of a
// reduce task to the worker with the full disk, and the job failed).
func pick(eligible []*Worker, left map[WorkerID]int, local map[WorkerID][]int64, ti int, avoid map[WorkerID]bool) WorkerID {
	if len(avoid) > 0 {
		var others []*Worker
		for _, w := range eligible {
			if !avoid[w.ID] && left[w.ID] > 0 {
				others = append(others, w)
			}
		}
		if len(others) > 0 {
			eligible = others
		}
	}
	var best WorkerID
	var bestBytes int64
	var bestFree int
	for _, w := range eligible {
		n := left[w.ID]
		if n <= 0 {
			continue
		}
		var b int64
		if sizes := local[w.ID]; ti < len(sizes) {
			b = sizes[ti]
		}
		if best == "" || b > bestBytes || (b == bestBytes && n > bestFree) {
			best, bestBytes, bestFree = w.ID, b, n
		}
	}
	return best
}

// partitionBytes returns, for a stage that reads a shuffle, the bytes of
// each of its partitions held by each worker across the committed map
// outputs; nil for other stages.
func (s *State) partitionBytes(j *Job, stage int) map[WorkerID][]int64 {
	prod := j.plan.Producers(stage)
	if len(prod) == 0 {
		return nil
	}
	out := map[WorkerID][]int64{}
	tasks := len(j.Stages[stage].Tasks)
	for _, p := range prod {
		for _, t := range j.Stages[p].Tasks {
			if t.Committed == nil || t.Committed.Report.MapOutput == nil {
				continue
			}
			sizes := out[t.Committed.Worker]
			if sizes == nil {
				sizes = make([]int64, tasks)
				out[t.Committed.Worker] = sizes
			}
			for i, n := range t.Committed.Report.MapOutput.Sizes {
				if i < tasks {
					sizes[i] += n
				}
			}
		}
	}
	return out
}

// failedOn returns the workers where an attempt of the task failed (in user
// code or otherwise lost through the worker, as a full disk is) or timed
// out, or nil.
func (t *Task) failedOn() map[WorkerID]bool {
	var m map[WorkerID]bool
	for _, a := range t.Attempts {
		if a.State == AttemptFailed || a.TimedOut {
			if m == nil {
				m = map[WorkerID]bool{}
			}
			m[a.Worker] = true
		}
	}
	return m
}
