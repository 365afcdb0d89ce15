//go:build containers

package containertest

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/superstep/superstep/internal/parts"
	"github.com/superstep/superstep/internal/testwait"
)

const (
	namePfx   = "sstest"
	imageUser = 65532
)

var (
	repoRoot, _ = filepath.Abs("../..")
	composeFile = filepath.Join(repoRoot, "deploy", "compose.yaml")

	setupOnce sync.Once
	setupErr  error
	hostBin   string // the superstep binary of this checkout, for the embedded runs
	imageTag  string // superstep:TAG and superstep-s3test:TAG, built from this checkout
	subnetN   int    // the next test's subnet: 172.28.(100+n).0/24
	subnetMu  sync.Mutex
)

// setup skips the test where docker does not run, and builds the image
// (make image) and a host binary once. The clusters run the image by this
// checkout's version tag (SUPERSTEP_VERSION), not :dev, which another
// checkout's make image may retag meanwhile. make test-containers builds the
// image first and passes its tag in SUPERSTEP_IMAGE_BUILT.
func setup(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("docker info fails, no container tests: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Skipf("no docker-compose: %v", err)
	}
	setupOnce.Do(func() {
		imageTag = os.Getenv("SUPERSTEP_IMAGE_BUILT")
		if imageTag == "" {
			cmd := exec.Command("git", "describe", "--tags", "--always", "--dirty")
			cmd.Dir = repoRoot
			out, err := cmd.Output()
			if err != nil {
				setupErr = fmt.Errorf("git describe: %v", err)
				return
			}
			imageTag = strings.TrimSpace(string(out))
			cmd = exec.Command("make", "image", "VERSION="+imageTag)
			cmd.Dir = repoRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				setupErr = fmt.Errorf("make image: %v\n%s", err, out)
				return
			}
		}
		dir, err := os.MkdirTemp("", "sstest-bin-")
		if err != nil {
			setupErr = err
			return
		}
		hostBin = filepath.Join(dir, "superstep")
		cmd := exec.Command("go", "build", "-o", hostBin, "./cmd/superstep")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			setupErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

// Cluster is one compose project: 3 coordinators, 3 workers, s3.
type Cluster struct {
	t       *testing.T
	Project string
	Data    string // the host directory mounted at /data
	env     []string

	// lookup finds a service's container (compose ps; for a stack, the
	// running task's container).
	lookup func(service string) (string, error)
	logs   func(service string) string // its last log lines, for a failure's message
	cache  bool                        // the container of a service stays the same (compose restarts it in place)

	mu  sync.Mutex
	ids map[string]string // service → container ID (kept across kill and start)
}

// run runs a command with a deadline and returns its combined output.
func run(ctx context.Context, timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: timed out after %s: %w", name, strings.Join(args, " "), timeout, ctx.Err())
	}
	return out.String(), err
}

// newCluster prepares a compose project on its own subnet with an empty
// data directory owned by the image's user. It does not start it.
func newCluster(t *testing.T) *Cluster {
	t.Helper()
	setup(t)
	var b [4]byte
	_, _ = crand.Read(b[:])
	subnetMu.Lock()
	n := subnetN
	subnetN++
	subnetMu.Unlock()
	c := &Cluster{t: t, Project: namePfx + hex.EncodeToString(b[:]), Data: t.TempDir(), ids: map[string]string{}}
	if err := os.Chown(c.Data, imageUser, imageUser); err != nil {
		t.Fatalf("the data directory must belong to uid %d: %v", imageUser, err)
	}
	c.env = []string{"SUPERSTEP_DATA=" + c.Data, fmt.Sprintf("SUPERSTEP_SUBNET=172.28.%d.0/24", 100+n),
		"SUPERSTEP_VERSION=" + imageTag}
	c.lookup, c.cache = c.composeContainer, true
	c.logs = func(service string) string {
		out, _ := c.compose(time.Minute, "logs", "--tail", "30", service)
		return out
	}
	t.Cleanup(c.down)
	return c
}

func (c *Cluster) compose(timeout time.Duration, args ...string) (string, error) {
	return run(context.Background(), timeout, c.env, "docker-compose", append([]string{"-p", c.Project, "-f", composeFile}, args...)...)
}

// down removes the project's containers, network and volumes, and then
// anything left with its name (a failed up, a killed compose).
func (c *Cluster) down() {
	if out, err := c.compose(2*time.Minute, "down", "-v", "--remove-orphans", "-t", "2"); err != nil {
		c.t.Logf("compose down: %v\n%s", err, out)
	}
	ids, _ := run(context.Background(), time.Minute, nil, "docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+c.Project)
	if f := strings.Fields(ids); len(f) > 0 {
		_, _ = run(context.Background(), time.Minute, nil, "docker", append([]string{"rm", "-f", "-v"}, f...)...)
	}
	_, _ = run(context.Background(), time.Minute, nil, "docker", "network", "rm", c.Project+"_superstep")
	vols, _ := run(context.Background(), time.Minute, nil, "docker", "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+c.Project)
	if f := strings.Fields(vols); len(f) > 0 {
		_, _ = run(context.Background(), time.Minute, nil, "docker", append([]string{"volume", "rm", "-f"}, f...)...)
	}
	// The workers wrote as uid 65532 into the test's directory; make it
	// removable by the test's own cleanup.
	_ = filepath.Walk(c.Data, func(p string, _ os.FileInfo, _ error) error { _ = os.Chmod(p, 0o777); return nil })
}

var services = []string{"coordinator-1", "coordinator-2", "coordinator-3", "worker-1", "worker-2", "worker-3"}

// Up starts the cluster and waits until every coordinator and worker is
// healthy (superstep health).
func (c *Cluster) Up() {
	c.t.Helper()
	if out, err := c.compose(3*time.Minute, "up", "-d"); err != nil {
		c.t.Fatalf("compose up: %v\n%s", err, out)
	}
	c.waitHealthy(services...)
}

// Container is the container ID of a service.
func (c *Cluster) Container(service string) string {
	c.t.Helper()
	id, err := c.lookup(service)
	if err != nil {
		c.t.Fatal(err)
	}
	return id
}

func (c *Cluster) composeContainer(service string) (string, error) {
	out, err := c.compose(time.Minute, "ps", "-q", service)
	if err != nil || strings.TrimSpace(out) == "" {
		return "", fmt.Errorf("no container for %s: %v\n%s", service, err, out)
	}
	return strings.TrimSpace(out), nil
}

// health is the health status of a service's container, "" where it has
// none (a stack's task between a kill and its restart).
func (c *Cluster) health(service string) string {
	id, err := c.lookup(service)
	if err != nil {
		return ""
	}
	out, _ := run(context.Background(), 30*time.Second, nil, "docker", "inspect", "--format", "{{.State.Health.Status}}", id)
	return strings.TrimSpace(out)
}

func (c *Cluster) waitHealthy(svcs ...string) {
	c.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for _, s := range svcs {
		if !testwait.Until(time.Until(deadline), func() bool { return c.health(s) == "healthy" }) {
			logs := c.logs(s)
			c.t.Fatalf("%s is not healthy after 3 minutes (%s):\n%s", s, c.health(s), logs)
		}
	}
}

// Exec runs superstep in a service's container (docker exec: quicker than
// compose exec) and returns its output.
func (c *Cluster) Exec(timeout time.Duration, service string, args ...string) (string, error) {
	c.mu.Lock()
	id, ok := c.ids[service]
	c.mu.Unlock()
	if !ok || !c.cache {
		var err error
		if id, err = c.lookup(service); err != nil {
			return "", err
		}
		c.mu.Lock()
		c.ids[service] = id
		c.mu.Unlock()
	}
	return run(context.Background(), timeout, nil, "docker", append([]string{"exec", id, "/superstep"}, args...)...)
}

// Docker runs a docker command, failing the test on an error.
func (c *Cluster) Docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(context.Background(), 2*time.Minute, nil, "docker", args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// embedded runs a job with the host binary on an embedded cluster, the
// independent run the cluster's output must equal byte for byte.
func embedded(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(context.Background(), 10*time.Minute, nil, hostBin, append([]string{"run"}, append(args, "--progress", "none")...)...)
	if err != nil {
		t.Fatalf("superstep run %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// sameOutput compares two committed output directories: the same files,
// byte for byte, _SUCCESS (the manifest) included.
func sameOutput(t *testing.T, got, want string) {
	t.Helper()
	names := func(dir string) []string {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var ns []string
		for _, e := range ents {
			ns = append(ns, e.Name())
		}
		return ns
	}
	g, w := names(got), names(want)
	if strings.Join(g, " ") != strings.Join(w, " ") {
		t.Fatalf("cluster output holds %v, embedded %v", g, w)
	}
	for _, n := range w {
		a, err := os.ReadFile(filepath.Join(got, n))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(want, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs from the embedded run (%d vs %d bytes)", n, len(a), len(b))
		}
	}
	if all, err := parts.Concat(got); err != nil || len(all) == 0 {
		t.Fatalf("empty output: %v", err)
	}
}

// writeText writes n MB of seeded pseudo-random words into dir/in.
func writeText(t *testing.T, dir string, mb int, seed uint64) string {
	t.Helper()
	in := filepath.Join(dir, "in")
	if err := os.MkdirAll(in, 0o755); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 1))
	words := make([]string, 5000)
	for i := range words {
		words[i] = fmt.Sprintf("w%x", r.Uint32()%100000)
	}
	for f := range max(1, mb) {
		var b strings.Builder
		for b.Len() < 1<<20 {
			b.WriteString(words[r.IntN(len(words))])
			if r.IntN(12) == 0 {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("part-%03d.txt", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

func t0() context.Context { return context.Background() }
