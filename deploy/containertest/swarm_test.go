//go:build containers

package containertest

import (
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/superstep/superstep/internal/testwait"
)

var stackFile = filepath.Join(repoRoot, "deploy", "stack.yaml")

// swarmServices are the services of deploy/stack.yaml that must be healthy.
var swarmServices = services

// useSwarm makes this node a swarm manager for the test: it initialises a
// one-node swarm on 127.0.0.1 (and leaves it at cleanup) unless the node is
// already a manager, which it then leaves alone.
func useSwarm(t *testing.T) {
	t.Helper()
	state, err := run(t0(), time.Minute, nil, "docker", "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}")
	if err != nil {
		t.Fatalf("docker info: %v\n%s", err, state)
	}
	switch strings.TrimSpace(state) {
	case "active true":
		t.Log("using the swarm this node already manages")
		return
	case "inactive false":
	default:
		t.Fatalf("this node is in a swarm it does not manage (%s): not deploying on it", strings.TrimSpace(state))
	}
	// Swarm's own networks come from fixed private subnets too: the
	// docker_gwbridge bridge it would otherwise make on a free /16 (made
	// here as Docker documents, and removed after the swarm is left), and
	// the ingress overlay from the address pool. The stack's network is
	// internal, so no task is attached to docker_gwbridge.
	if _, err := run(t0(), time.Minute, nil, "docker", "network", "inspect", "docker_gwbridge"); err != nil {
		if out, err := run(t0(), time.Minute, nil, "docker", "network", "create", "--subnet", "10.232.0.0/24",
			"--opt", "com.docker.network.bridge.name=docker_gwbridge",
			"--opt", "com.docker.network.bridge.enable_icc=false",
			"--opt", "com.docker.network.bridge.enable_ip_masquerade=true", "docker_gwbridge"); err != nil {
			t.Fatalf("docker network create docker_gwbridge: %v\n%s", err, out)
		}
		t.Cleanup(func() {
			if out, err := run(t0(), time.Minute, nil, "docker", "network", "rm", "docker_gwbridge"); err != nil {
				t.Logf("docker network rm docker_gwbridge: %v\n%s", err, out)
			}
		})
	}
	if out, err := run(t0(), 2*time.Minute, nil, "docker", "swarm", "init", "--advertise-addr", "127.0.0.1",
		"--default-addr-pool", "10.231.0.0/16", "--default-addr-pool-mask-length", "24"); err != nil {
		t.Fatalf("docker swarm init: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := run(t0(), 2*time.Minute, nil, "docker", "swarm", "leave", "--force"); err != nil {
			t.Logf("docker swarm leave: %v\n%s", err, out)
		}
	})
}

// newStack deploys deploy/stack.yaml as a stack of its own: TLS files from
// `superstep certs init` made before the deploy (Swarm has no one-shot
// service that runs first; the stack hands them to the services as
// secrets), an empty data directory owned by the image's user, and its own
// subnet. Cleanup removes the stack, waits for its containers and network
// to go, and removes its volumes.
func newStack(t *testing.T) *Cluster {
	t.Helper()
	setup(t)
	useSwarm(t)
	var b [4]byte
	_, _ = crand.Read(b[:])
	c := &Cluster{t: t, Project: namePfx + "sw" + hex.EncodeToString(b[:]), Data: t.TempDir(), ids: map[string]string{}}
	if err := os.Chown(c.Data, imageUser, imageUser); err != nil {
		t.Fatalf("the data directory must belong to uid %d: %v", imageUser, err)
	}
	tlsDir := filepath.Join(t.TempDir(), "tls")
	if out, err := run(t0(), time.Minute, nil, hostBin, "certs", "init", "--dir", tlsDir,
		"--hosts", strings.Join(services, ",")); err != nil {
		t.Fatalf("certs init: %v\n%s", err, out)
	}
	c.env = []string{"SUPERSTEP_DATA=" + c.Data, "SUPERSTEP_TLS=" + tlsDir,
		"SUPERSTEP_SUBNET=172.29.100.0/24", "SUPERSTEP_VERSION=" + imageTag}
	c.lookup = func(service string) (string, error) {
		out, err := run(t0(), time.Minute, nil, "docker", "ps", "-q", "--filter", "status=running",
			"--filter", "label=com.docker.swarm.service.name="+c.Project+"_"+service)
		if f := strings.Fields(out); err == nil && len(f) == 1 {
			return f[0], nil
		}
		return "", fmt.Errorf("no single running container for %s: %v\n%s", service, err, out)
	}
	c.logs = func(service string) string {
		out, _ := run(t0(), time.Minute, nil, "docker", "service", "logs", "--tail", "30", c.Project+"_"+service)
		ps, _ := run(t0(), time.Minute, nil, "docker", "service", "ps", "--no-trunc", c.Project+"_"+service)
		return out + ps
	}
	t.Cleanup(c.removeStack)
	if out, err := run(t0(), 3*time.Minute, c.env, "docker", "stack", "deploy", "--resolve-image", "never",
		"-c", stackFile, c.Project); err != nil {
		t.Fatalf("docker stack deploy: %v\n%s", err, out)
	}
	return c
}

func (c *Cluster) removeStack() {
	if out, err := run(t0(), 2*time.Minute, nil, "docker", "stack", "rm", c.Project); err != nil {
		c.t.Logf("docker stack rm: %v\n%s", err, out)
	}
	label := "label=com.docker.stack.namespace=" + c.Project
	gone := testwait.Until(2*time.Minute, func() bool {
		ctrs, err1 := run(t0(), time.Minute, nil, "docker", "ps", "-aq", "--filter", label)
		nets, err2 := run(t0(), time.Minute, nil, "docker", "network", "ls", "-q", "--filter", label)
		return err1 == nil && err2 == nil && strings.TrimSpace(ctrs+nets) == ""
	})
	if !gone {
		c.t.Logf("stack %s: containers or its network still there 2 minutes after docker stack rm", c.Project)
		ctrs, _ := run(t0(), time.Minute, nil, "docker", "ps", "-aq", "--filter", label)
		if f := strings.Fields(ctrs); len(f) > 0 {
			_, _ = run(t0(), time.Minute, nil, "docker", append([]string{"rm", "-f"}, f...)...)
		}
	}
	vols, _ := run(t0(), time.Minute, nil, "docker", "volume", "ls", "-q", "--filter", label)
	if f := strings.Fields(vols); len(f) > 0 {
		if out, err := run(t0(), time.Minute, nil, "docker", append([]string{"volume", "rm", "-f"}, f...)...); err != nil {
			c.t.Logf("docker volume rm: %v\n%s", err, out)
		}
	}
	_ = filepath.Walk(c.Data, func(p string, _ os.FileInfo, _ error) error { _ = os.Chmod(p, 0o777); return nil })
}

// tasks are the IDs of a stack service's tasks, the current one and the
// history of those Swarm replaced.
func (c *Cluster) tasks(t *testing.T, service string) []string {
	t.Helper()
	return strings.Fields(c.Docker(t, "service", "ps", "-q", c.Project+"_"+service))
}

// The stack of deploy/stack.yaml on a one-node swarm: a job runs, a worker
// task's container is killed while it runs, Swarm starts a new task for it
// (a new task and container, counted), and the job completes with the
// embedded run's bytes.
func TestSwarm(t *testing.T) {
	c := newStack(t)
	writeText(t, c.Data, 48, 13)
	start := time.Now()
	c.waitHealthy(swarmServices...)
	t.Logf("stack healthy in %s", time.Since(start).Round(time.Millisecond))
	want := filepath.Join(t.TempDir(), "want")
	embedded(t, "wordcount", "--input", filepath.Join(c.Data, "in"), "--out", want, "--partitions", "4")

	t.Run("wordcount", func(t *testing.T) {
		c.submit(t, 5*time.Minute, "wordcount", "--input", "/data/in", "--out", "/data/wc", "--partitions", "4")
		sameOutput(t, filepath.Join(c.Data, "wc"), want)
	})
	t.Run("kill-worker-task", func(t *testing.T) {
		before := c.tasks(t, "worker-2")
		killed := c.Container("worker-2")
		took := c.faultJob(t, "kill-worker-task", "coordinator-1", want, func() { c.Docker(t, "kill", killed) }, nil)
		// Swarm replaced the task: a new task ID and a new container.
		var now []string
		var ctr string
		if !testwait.Until(3*time.Minute, func() bool {
			now = c.tasks(t, "worker-2")
			var err error
			ctr, err = c.lookup("worker-2")
			return err == nil && ctr != killed && len(now) > len(before) && c.health("worker-2") == "healthy"
		}) {
			t.Fatalf("Swarm did not restart worker-2: tasks %v before the kill, %v now; container %q (killed %s)\n%s",
				before, now, ctr, killed, c.logs("worker-2"))
		}
		fresh := slices.DeleteFunc(slices.Clone(now), func(id string) bool { return slices.Contains(before, id) })
		state := strings.TrimSpace(c.Docker(t, "inspect", "--format", "{{.State.Status}} exit {{.State.ExitCode}}", killed))
		t.Logf("job %s; killed container %.12s (%s), Swarm started %d new task(s) %v, container %.12s",
			took.Round(time.Millisecond), killed, state, len(fresh), fresh, ctr)
		if !strings.HasPrefix(state, "exited exit 137") {
			t.Fatalf("the killed container is %q, not exited by SIGKILL", state)
		}
	})
}
