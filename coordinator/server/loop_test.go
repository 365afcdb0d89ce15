package server

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/superstep/superstep/coordinator"
)

// apply applies commands to st and fails the test on a rejection.
func apply(t *testing.T, st *coordinator.State, cs ...coordinator.Command) {
	t.Helper()
	for _, c := range cs {
		if r := st.Apply(c); r.Err != nil {
			t.Fatalf("%s: %v", c.Kind(), r.Err)
		}
	}
}

// runAll assigns and completes every schedulable task of the current
// superstep or stage once, reporting rep.
func runAll(t *testing.T, st *coordinator.State, rep func(a coordinator.AttemptID) coordinator.TaskReport) {
	t.Helper()
	for _, a := range coordinator.Schedule(st, st.FreeSlots()) {
		apply(t, st, a.Command())
		apply(t, st, coordinator.TaskSucceeded{AttemptID: a.AttemptID, Worker: a.Worker, Report: rep(a.AttemptID)})
	}
}

// TestAssignmentOfSupersteps: the assignment of a Pregel task carries its
// superstep, the previous superstep's aggregates and, past superstep 0, the
// message outputs as side -1 of the stage's input node; a restoring task
// reads none.
func TestAssignmentOfSupersteps(t *testing.T) {
	spec, _ := json.Marshal(coordinator.Spec{Version: 1, Partitions: 2, Stages: []coordinator.StageSpec{
		{ID: 0, Input: coordinator.SourceInput(1, 2), Tasks: 2,
			Output: coordinator.OutputSpec{Kind: coordinator.OutputShuffle, Node: 10, Partitions: 2}},
		{ID: 1, Input: coordinator.InputSpec{Kind: coordinator.InputShuffle, Node: 10, Sides: 1}, Tasks: 2,
			Iterate: &coordinator.IterateSpec{MaxSupersteps: 5, CheckpointEvery: 1},
			Output:  coordinator.OutputSpec{Kind: coordinator.OutputCollect, Node: 20}},
	}})
	st := coordinator.NewState()
	apply(t, st, coordinator.RegisterWorker{Worker: "w1", Addr: "a1", Fingerprint: "fp", Slots: 4},
		coordinator.SubmitJob{Job: "j", Name: "job", Spec: spec, Fingerprint: "fp"})
	sizes := []int64{1, 1}
	runAll(t, st, func(a coordinator.AttemptID) coordinator.TaskReport {
		return coordinator.TaskReport{MapOutput: &coordinator.MapOutputFile{Path: fmt.Sprintf("/m/%d", a.Task), Sizes: sizes}}
	})
	iter := func(a coordinator.AttemptID) coordinator.TaskReport {
		ss := st.Job("j").Task(a.Stage, a.Task).Attempts[a.Attempt].Superstep
		return coordinator.TaskReport{Iter: &coordinator.IterReport{Superstep: ss, Active: 1, Checkpoint: true,
			Aggregates: []byte{byte(a.Task)}}, MapOutput: &coordinator.MapOutputFile{Path: fmt.Sprintf("/msg/%d-%d", ss, a.Task), Sizes: sizes}}
	}
	as := coordinator.Schedule(st, st.FreeSlots())
	apply(t, st, as[0].Command())
	msg, why := assignment(st, as[0])
	if msg == nil || msg.GetSuperstep() != 0 || len(msg.GetInputs()) != 1 || msg.GetInputs()[0].GetSide() != 0 ||
		len(msg.GetInputs()[0].GetOutputs()) != 2 || len(msg.GetAggregates()) != 0 {
		t.Fatalf("superstep 0 assignment %v (%s)", msg, why)
	}
	apply(t, st, coordinator.TaskSucceeded{AttemptID: as[0].AttemptID, Worker: "w1", Report: iter(as[0].AttemptID)})
	runAll(t, st, iter)

	as = coordinator.Schedule(st, st.FreeSlots())
	apply(t, st, as[1].Command())
	msg, _ = assignment(st, as[1])
	in := msg.GetInputs()
	if msg.GetSuperstep() != 1 || msg.GetRestore() || msg.GetFinal() || len(msg.GetAggregates()) != 2 ||
		msg.GetAggregates()[1][0] != 1 || len(in) != 1 || in[0].GetNode() != 10 || in[0].GetSide() != -1 ||
		len(in[0].GetOutputs()) != 2 || in[0].GetOutputs()[1].GetPath() != "/msg/0-1" || in[0].GetOutputs()[1].GetAttempt().GetTask() != 1 {
		t.Fatalf("superstep 1 assignment %v", msg)
	}
	// The partition is lost: superstep 1 restores from the checkpoint of 0.
	apply(t, st, coordinator.TaskFailed{AttemptID: as[1].AttemptID, Worker: "w1", Lost: true, StateLost: true})
	if msg, why := assignment(st, as[1]); msg != nil || why != "" {
		t.Fatalf("assignment of a rolled-back attempt: %v %q", msg, why)
	}
	as = coordinator.Schedule(st, st.FreeSlots())
	apply(t, st, as[0].Command())
	msg, _ = assignment(st, as[0])
	if msg.GetSuperstep() != 1 || !msg.GetRestore() || len(msg.GetInputs()) != 0 || len(msg.GetAggregates()) != 2 {
		t.Fatalf("restoring assignment %v", msg)
	}
}
