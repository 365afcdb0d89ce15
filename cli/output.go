package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/internal/display"
)

// printProtoJSON prints messages as a JSON array in the protocol's JSON
// mapping (field names as in the .proto, enums by name).
func printProtoJSON[M proto.Message](w io.Writer, msgs []M) error {
	opts := protojson.MarshalOptions{UseProtoNames: true, Indent: "  "}
	var b strings.Builder
	b.WriteString("[")
	for i, m := range msgs {
		if i > 0 {
			b.WriteString(",")
		}
		j, err := opts.Marshal(m)
		if err != nil {
			return err
		}
		b.WriteString("\n")
		b.Write(j)
	}
	b.WriteString("\n]\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// durationSuffix is " in D" for a job whose times are known, "" otherwise.
func durationSuffix(st *pb.JobStatus) string {
	if d, ok := cluster.JobDuration(st); ok {
		return " in " + d.Round(time.Millisecond).String()
	}
	return ""
}

// coordinatorArg is the --coordinator argument to repeat in a hint, empty
// for the default address.
func coordinatorArg(addr string) string {
	if addr == "127.0.0.1:7070" {
		return ""
	}
	return " --coordinator " + addr
}

func formatTime(ms int64, now time.Time) string {
	if ms <= 0 {
		return "-"
	}
	t := time.UnixMilli(ms).Local()
	if now.Sub(t) < 20*time.Hour {
		return t.Format("15:04:05")
	}
	return t.Format("2006-01-02 15:04")
}

func printJobs(w io.Writer, jobs []*pb.JobStatus, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tNAME\tSTATE\tSUPERSTEP\tSTARTED\tDURATION")
	for _, j := range jobs {
		start := j.GetStartedUnixMs()
		if start == 0 {
			start = j.GetSubmittedUnixMs()
		}
		dur := "-"
		if d, ok := cluster.JobDuration(j); ok {
			dur = d.Round(time.Second / 10).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.GetJobId(), j.GetName(), stateName(j.GetState()), display.Superstep(j),
			formatTime(start, now), dur)
	}
	return tw.Flush()
}

func printStatus(w io.Writer, st *pb.JobStatus, now time.Time) {
	line := fmt.Sprintf("job %s (%s): %s", st.GetJobId(), st.GetName(), stateName(st.GetState()))
	if d, ok := cluster.JobDuration(st); ok {
		line += ", " + d.Round(time.Millisecond).String()
	}
	fmt.Fprintln(w, line)
	if st.GetState() == pb.JobState_JOB_STATE_FAILED || st.GetState() == pb.JobState_JOB_STATE_CANCELLED {
		fmt.Fprintln(w, (&cluster.JobError{Status: st}).Error())
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SUPERSTEP\tTASKS\tDONE\tRUNNING\tVERTEX STEPS\tRETRIES\tSPECULATIVE\tRECORDS IN\tRECORDS OUT\tSHUFFLE\tSPILL\tTIME\tOPS")
	for _, s := range st.GetStages() {
		steps := "-"
		if s.GetSupersteps() > 0 {
			steps = strconv.Itoa(int(s.GetSupersteps()))
			if s.GetRollbacks() > 0 {
				steps += fmt.Sprintf(" (%d rollbacks)", s.GetRollbacks())
			}
		}
		elapsed := "-"
		if s.GetStartedUnixMs() > 0 {
			elapsed = (time.Duration(s.GetElapsedMs()) * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", s.GetStage()+1, s.GetTasks(), s.GetDone(), s.GetRunning(),
			steps, s.GetRetries(), s.GetSpeculative(), s.GetRecordsIn(), s.GetRecordsOut(), formatBytes(s.GetShuffleBytes()),
			formatBytes(s.GetSpillBytes()), elapsed, strings.Join(s.GetOps(), "→"))
	}
	tw.Flush()
	for _, s := range st.GetStages() {
		for _, sp := range s.GetSpeculated() {
			fmt.Fprintln(w, speculationLine(s.GetStage(), sp))
		}
	}
}

// speculationLine says which attempt of a speculated task won, counting
// supersteps and attempts from 1 as the tables do.
func speculationLine(stage int32, sp *pb.SpeculatedTask) string {
	line := fmt.Sprintf("superstep %d partition %d: speculative attempt %d (copy of attempt %d) on %s: ", stage+1, sp.GetTask(),
		sp.GetCopy()+1, sp.GetOriginal()+1, sp.GetCopyWorkerId())
	switch {
	case sp.GetWinner() < 0:
		return line + "racing"
	case sp.GetCopyWon():
		return line + "the copy won"
	case sp.GetWinner() == sp.GetOriginal():
		return line + fmt.Sprintf("the original (attempt %d) won", sp.GetOriginal()+1)
	}
	return line + fmt.Sprintf("attempt %d won", sp.GetWinner()+1)
}

func printWorkers(w io.Writer, ws []*pb.WorkerStatus, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tADDRESS\tSLOTS\tRUNNING\tMEMORY\tSERVED\tLOAD\tSTATE\tLAST HEARD")
	for _, x := range ws {
		state, heard := "alive", "-"
		if !x.GetAlive() {
			state = "lost"
			if x.GetLostUnixMs() > 0 {
				heard = "lost at " + formatTime(x.GetLostUnixMs(), now)
			}
		} else if x.GetState() == pb.WorkerState_WORKER_STATE_ALIVE || x.GetState() == pb.WorkerState_WORKER_STATE_EXCLUDED {
			heard = (time.Duration(x.GetHeartbeatAgeMs()) * time.Millisecond).String() + " ago"
		}
		if x.GetState() == pb.WorkerState_WORKER_STATE_EXCLUDED {
			state = "excluded until " + formatTime(x.GetExcludedUntilUnixMs(), now)
		}
		running, load := "-", "-"
		if x.GetAlive() {
			running = strconv.Itoa(int(max(0, x.GetSlots()-x.GetFreeSlots())))
			load = strconv.FormatFloat(x.GetLoad(), 'f', 2, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", x.GetWorkerId(), x.GetAddress(), x.GetSlots(),
			running, formatBytes(x.GetMemoryBytes()), formatBytes(x.GetBytesServed()), load, state, heard)
	}
	return tw.Flush()
}
