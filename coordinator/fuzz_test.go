package coordinator

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range []Command{
		SubmitJob{Job: "j", Name: "job", Spec: twoStageSpec(2, 1), Fingerprint: fp},
		AssignTask{AttemptID: attempt("j", 0, 1, 2), Worker: "w1", Term: 3},
		TaskFailed{AttemptID: attempt("j", 0, 0, 0), Worker: "w1", ErrorKind: KindPermanent, At: Location{Path: "x", Line: 2}},
		JobFilesDeleted{Job: "j", Worker: "w"},
		TaskFailed{AttemptID: attempt("j", 0, 0, 0), Worker: "w1", ErrorKind: KindLost, Timeout: true},
		ExcludeWorker{Stamp: Stamp{Time: 5}, Worker: "w1", UntilMs: 10, Reason: "3 attempts in a row failed on it"},
	} {
		b, err := EncodeCommand(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("error %v does not match ErrBadCommand", err)
			}
			return
		}
		if _, err := EncodeCommand(c); err != nil {
			t.Fatalf("a decoded command does not encode: %v", err)
		}
		// Applying any decoded command to any state never panics.
		h := newHarness(t)
		h.worker("w1", 2)
		h.submit("j", twoStageSpec(2, 1))
		h.s.Apply(c)
	})
}

func FuzzRestoreState(f *testing.F) {
	h := newHarness(f)
	h.worker("w1", 2)
	h.submit("j", twoStageSpec(2, 1))
	h.runStage("j")
	b, _ := h.s.Snapshot()
	f.Add(b)
	f.Add([]byte(`{"v":1,"state":{"jobs":[null],"workers":[]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := RestoreState(b)
		if err != nil {
			return
		}
		// A restored state can be used: scheduled, stepped, snapshotted.
		Schedule(s, s.FreeSlots())
		if _, err := s.Snapshot(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRandomCommandsRoundTrip applies seeded random command sequences to a
// state, and checks after every command that a snapshot restores to a
// state with the identical snapshot, and that replaying the same commands
// on a fresh state gives the same state (determinism).
func TestRandomCommandsRoundTrip(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	for run := range 20 {
		h := newHarness(t)
		var log []Command
		apply := func(c Command) {
			h.s.Apply(c)
			log = append(log, c)
		}
		workers := []WorkerID{"w1", "w2", "w3"}
		for _, w := range workers {
			apply(RegisterWorker{Worker: w, Addr: "a-" + string(w), Fingerprint: fp, Slots: 1 + r.IntN(3)})
		}
		jobs := []JobID{"j1", "j2"}
		apply(SubmitJob{Stamp: Stamp{Time: 1}, Job: jobs[0], Name: "job", Spec: twoStageSpec(1+r.IntN(3), 1+r.IntN(2)), Fingerprint: fp})
		apply(SubmitJob{Stamp: Stamp{Time: 2}, Job: jobs[1], Name: "job", Spec: threeStageSpec(1 + r.IntN(2)), Fingerprint: fp})
		for i := range 200 {
			now := Stamp{Time: int64(10 + i)}
			var c Command
			switch k := r.IntN(10); {
			case k < 4:
				as := Schedule(h.s, h.s.FreeSlots())
				if len(as) == 0 {
					continue
				}
				a := as[r.IntN(len(as))].Command()
				a.Stamp, a.Term = now, uint64(1+i/50)
				c = a
			case k < 8:
				var running []AttemptID
				var on []WorkerID
				h.s.eachRunning(func(a AttemptID, w WorkerID) { running = append(running, a); on = append(on, w) })
				if len(running) == 0 {
					continue
				}
				n := r.IntN(len(running))
				a, w := running[n], on[n]
				switch r.IntN(4) {
				case 0, 1:
					c = TaskSucceeded{Stamp: now, AttemptID: a, Worker: w, Report: report(h.s.Job(a.Job), a)}
				case 2:
					c = TaskFailed{Stamp: now, AttemptID: a, Worker: w, Error: "boom", ErrorKind: []ErrorKind{KindUser, KindLost, KindCancelled}[r.IntN(3)]}
				default:
					c = MapOutputLost{Stamp: now, AttemptID: AttemptID{TaskID: TaskID{a.Job, max(a.Stage-1, 0), 0}}}
				}
			case k == 8:
				c = WorkerDead{Stamp: now, Worker: workers[r.IntN(len(workers))]}
			default:
				j := jobs[r.IntN(len(jobs))]
				switch r.IntN(4) {
				case 0:
					c = FinishJob{Stamp: now, Job: j}
				case 1:
					c = JobFilesDeleted{Stamp: now, Job: j, Worker: workers[r.IntN(len(workers))]}
				case 2:
					c = JobCleaned{Stamp: now, Job: j}
				default:
					c = CancelJob{Stamp: now, Job: j}
				}
			}
			// Every command goes through its encoding, as through the log.
			b, err := EncodeCommand(c)
			if err != nil {
				t.Fatalf("run %d: encode %T: %v", run, c, err)
			}
			dc, err := DecodeCommand(b)
			if err != nil {
				t.Fatalf("run %d: decode %s: %v", run, b, err)
			}
			apply(dc)
			snap := h.snap()
			restored, err := RestoreState([]byte(snap))
			if err != nil {
				t.Fatalf("run %d step %d: restore: %v", run, i, err)
			}
			if b2, _ := restored.Snapshot(); string(b2) != snap {
				t.Fatalf("run %d step %d: the restored state differs:\n%s\n%s", run, i, snap, b2)
			}
			checkInvariants(t, h.s)
		}
		replay := NewState()
		for _, c := range log {
			replay.Apply(c)
		}
		if b, _ := replay.Snapshot(); string(b) != h.snap() {
			t.Fatalf("run %d: replaying the log gives another state", run)
		}
	}
}
