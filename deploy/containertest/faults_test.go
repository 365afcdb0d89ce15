//go:build containers

package containertest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/superstep/superstep/internal/testwait"
)

// jobState is the state `superstep status` prints for a job ("running",
// "succeeded", ...), asked through a coordinator that is up.
func (c *Cluster) jobState(t *testing.T, client, id string) (string, string) {
	t.Helper()
	var last string
	for _, svc := range []string{client, "coordinator-1", "coordinator-2", "coordinator-3"} {
		out, err := c.Exec(time.Minute, svc, "status", id)
		if err != nil {
			last = out
			continue
		}
		// "job ID (NAME): STATE[, more]"
		first, _, _ := strings.Cut(out, "\n")
		_, rest, ok := strings.Cut(first, "): ")
		f := strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' })
		if !ok || len(f) == 0 {
			continue
		}
		return f[0], out
	}
	return "", last
}

// leader is the service name of the leading coordinator.
func (c *Cluster) leader(t *testing.T) string {
	t.Helper()
	out, err := c.Exec(time.Minute, "worker-2", "members", "--json")
	if err != nil {
		t.Fatalf("members: %v\n%s", err, out)
	}
	var ms []struct{ ID, Role string }
	if err := json.Unmarshal([]byte(out[strings.Index(out, "["):]), &ms); err != nil {
		t.Fatalf("members --json: %v\n%s", err, out)
	}
	for _, m := range ms {
		if m.Role == "leader" {
			return m.ID
		}
	}
	t.Fatalf("no leader in %s", out)
	return ""
}

// faultJob submits wordcount over /data/in, injects the fault once the job
// runs, and requires the job to succeed within a bound with the embedded
// run's output, byte for byte. It returns how long the job took.
// client is the container the CLI runs in, one the fault leaves alone.
func (c *Cluster) faultJob(t *testing.T, name, client, want string, inject func(), restore func()) time.Duration {
	t.Helper()
	out := "/data/out-" + name
	start := time.Now()
	res, err := c.Exec(time.Minute, client, "submit", "wordcount", "--input", "/data/in", "--out", out,
		"--partitions", "4", "--detach")
	if err != nil {
		t.Fatalf("submit: %v\n%s", err, res)
	}
	lines := strings.Fields(res)
	id := lines[len(lines)-1]
	if st, msg := c.jobState(t, client, id); st != "running" && st != "pending" {
		t.Fatalf("job %s was %q before the fault: the fault would hit no running job\n%s", id, st, msg)
	}
	inject()
	if restore != nil {
		restore()
	}
	var st, msg string
	if !testwait.Until(6*time.Minute, func() bool {
		st, msg = c.jobState(t, client, id)
		if st == "failed" || st == "cancelled" {
			t.Fatalf("job %s %s after the fault:\n%s", id, st, msg)
		}
		return st == "succeeded"
	}) {
		t.Fatalf("job %s still %q 6 minutes after the fault: it hangs\n%s", id, st, msg)
	}
	took := time.Since(start)
	sameOutput(t, filepath.Join(c.Data, strings.TrimPrefix(out, "/data/")), want)
	return took
}

func (c *Cluster) state(id string) (status string, restarts int) {
	out, _ := run(t0(), 30*time.Second, nil, "docker", "inspect", "--format", "{{.State.Status}} {{.RestartCount}}", id)
	_, _ = fmt.Sscan(out, &status, &restarts)
	return status, restarts
}

// Each fault on its own job, one after the other on one cluster (restored
// between faults): the job completes, byte-identical to the embedded run.
func TestFaults(t *testing.T) {
	c := newCluster(t)
	writeText(t, c.Data, 96, 7)
	c.Up()
	want := filepath.Join(t.TempDir(), "want")
	embedded(t, "wordcount", "--input", filepath.Join(c.Data, "in"), "--out", want, "--partitions", "4")
	network := c.Project + "_superstep"

	t.Run("kill-worker", func(t *testing.T) {
		w := c.Container("worker-2")
		took := c.faultJob(t, "kill-worker", "coordinator-1", want, func() { c.Docker(t, "kill", w) }, nil)
		status, restarts := c.state(w)
		t.Logf("job %s; killed worker now %s after %d restarts", took.Round(time.Millisecond), status, restarts)
		if status != "running" {
			c.Docker(t, "start", w)
		}
		c.waitHealthy("worker-2")
	})
	t.Run("kill-leader", func(t *testing.T) {
		leader := c.leader(t)
		id := c.Container(leader)
		client := "coordinator-1"
		if leader == client {
			client = "coordinator-2"
		}
		took := c.faultJob(t, "kill-leader", client, want, func() { c.Docker(t, "kill", id) }, nil)
		if next := c.leader(t); next == leader {
			t.Fatalf("%s still leads after it was killed", leader)
		}
		t.Logf("job %s; %s killed", took.Round(time.Millisecond), leader)
		if status, _ := c.state(id); status != "running" {
			c.Docker(t, "start", id)
		}
		c.waitHealthy(leader)
	})
	t.Run("disconnect-worker", func(t *testing.T) {
		w := c.Container("worker-3")
		took := c.faultJob(t, "disconnect-worker", "coordinator-1", want, func() {
			c.Docker(t, "network", "disconnect", network, w)
			testwait.Hold(t, 15*time.Second, "worker-3's disconnection", func() error {
				nets, err := run(t0(), time.Minute, nil, "docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", w)
				if err != nil {
					return err
				}
				if strings.Contains(nets, `"`+network+`"`) {
					return fmt.Errorf("worker-3 is on %s again: %s", network, strings.TrimSpace(nets))
				}
				return nil
			})
		}, func() { c.Docker(t, "network", "connect", "--alias", "worker-3", network, w) })
		t.Logf("job %s with worker-3 disconnected for 15 s", took.Round(time.Millisecond))
		c.waitRunning(t, w, "worker-3")
	})
	t.Run("pause-worker", func(t *testing.T) {
		w := c.Container("worker-1")
		// docker pause freezes the container's cgroup (freezer, cgroup v1
		// here). The kernel cannot freeze a task blocked in a FUSE request,
		// and this Docker's root filesystems are fuse-overlayfs: with the
		// shuffle files there, pausing a busy worker failed with "unable to
		// freeze". compose.yaml keeps /work on a volume, so it freezes.
		// runc gives up on a freeze that does not settle at once, so a
		// failed pause is tried again a few times (the container is thawed
		// after each failure) before it fails the test.
		took := c.faultJob(t, "pause-worker", "coordinator-1", want, func() {
			var out string
			var err error
			for try := 1; try <= 3; try++ {
				if out, err = run(t0(), time.Minute, nil, "docker", "pause", w); err == nil {
					break
				}
				t.Logf("docker pause, try %d: %v: %s", try, err, strings.TrimSpace(out))
			}
			if err != nil {
				t.Fatalf("docker pause %s failed: %v\n%s", w, err, out)
			}
			if st := strings.TrimSpace(c.Docker(t, "inspect", "--format", "{{.State.Status}} {{.State.Paused}}", w)); st != "paused true" {
				t.Fatalf("after docker pause, worker-1 is %q", st)
			}
			testwait.Hold(t, 15*time.Second, "worker-1's pause", func() error {
				st, err := run(t0(), time.Minute, nil, "docker", "inspect", "--format", "{{.State.Paused}}", w)
				if err != nil {
					return err
				}
				if strings.TrimSpace(st) != "true" {
					return fmt.Errorf("worker-1 is no longer paused (%s)", strings.TrimSpace(st))
				}
				return nil
			})
		}, func() { c.Docker(t, "unpause", w) })
		t.Logf("job %s with worker-1 paused for 15 s", took.Round(time.Millisecond))
		c.waitRunning(t, w, "worker-1")
	})
	t.Run("iptables-drop", func(t *testing.T) {
		w := c.Container("worker-2")
		pid := strings.TrimSpace(c.Docker(t, "inspect", "--format", "{{.State.Pid}}", w))
		rule := []string{"-t", pid, "-n", "iptables", "-I", "INPUT", "-i", "eth0", "-j", "DROP"}
		took := c.faultJob(t, "iptables-drop", "coordinator-1", want, func() {
			if out, err := run(t0(), time.Minute, nil, "nsenter", rule...); err != nil {
				t.Skipf("nsenter iptables: %v\n%s", err, out)
			}
		}, nil)
		del := append(append([]string{}, rule[:4]...), "-D", "INPUT", "-i", "eth0", "-j", "DROP")
		if out, err := run(t0(), time.Minute, nil, "nsenter", del...); err != nil {
			t.Logf("removing the rule: %v\n%s", err, out)
		}
		t.Logf("job %s with worker-2's input dropped", took.Round(time.Millisecond))
	})
}

// waitRunning waits until a worker that lost the cluster for a while is
// healthy again: it re-registered, or it exited (the coordinator forgot
// it) and its restart policy started it again.
func (c *Cluster) waitRunning(t *testing.T, id, service string) {
	t.Helper()
	var (
		status   string
		restarts int
	)
	if !testwait.Until(3*time.Minute, func() bool {
		status, restarts = c.state(id)
		return status == "running" && c.health(service) == "healthy"
	}) {
		t.Fatalf("%s did not come back: %s, %d restarts", service, status, restarts)
	}
	t.Logf("%s is back (%d restarts)", service, restarts)
}
