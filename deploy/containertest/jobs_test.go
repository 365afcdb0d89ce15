//go:build containers

package containertest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// submit runs a job on the cluster from coordinator-1's container and
// fails the test unless it succeeds within timeout.
func (c *Cluster) submit(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	out, err := c.Exec(timeout, "coordinator-1", append([]string{"submit"}, append(args, "--progress", "plain")...)...)
	if err != nil {
		t.Fatalf("submit %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// The three jobs of the issue on the compose cluster, each equal byte for
// byte to the same job run embedded on the host.
func TestJobs(t *testing.T) {
	c := newCluster(t)
	writeText(t, c.Data, 4, 1)
	start := time.Now()
	c.Up()
	t.Logf("cluster healthy in %s", time.Since(start).Round(time.Millisecond))
	want := t.TempDir()

	t.Run("wordcount", func(t *testing.T) {
		c.submit(t, 5*time.Minute, "wordcount", "--input", "/data/in", "--out", "/data/wc", "--partitions", "4")
		embedded(t, "wordcount", "--input", filepath.Join(c.Data, "in"), "--out", filepath.Join(want, "wc"), "--partitions", "4")
		sameOutput(t, filepath.Join(c.Data, "wc"), filepath.Join(want, "wc"))
	})
	t.Run("terasort", func(t *testing.T) {
		c.submit(t, 5*time.Minute, "terasort", "--generate", "200000", "--out", "/data/records", "--partitions", "4")
		c.submit(t, 5*time.Minute, "terasort", "--input", "/data/records", "--out", "/data/sorted", "--partitions", "4")
		embedded(t, "terasort", "--validate", filepath.Join(c.Data, "sorted"))
		embedded(t, "terasort", "--generate", "200000", "--out", filepath.Join(want, "records"), "--partitions", "4")
		sameOutput(t, filepath.Join(c.Data, "records"), filepath.Join(want, "records"))
		embedded(t, "terasort", "--input", filepath.Join(c.Data, "records"), "--out", filepath.Join(want, "sorted"), "--partitions", "4")
		sameOutput(t, filepath.Join(c.Data, "sorted"), filepath.Join(want, "sorted"))
	})
	t.Run("pagerank", func(t *testing.T) {
		embedded(t, "rmat", "--scale", "12", "--edge-factor", "8", "--out", filepath.Join(c.Data, "graph"))
		c.submit(t, 5*time.Minute, "pagerank", "--edges", "/data/graph", "--int-ids", "--out", "/data/pr", "--partitions", "4",
			"--max-iter", "20", "--checkpoint-dir", "/data/checkpoints")
		embedded(t, "pagerank", "--edges", filepath.Join(c.Data, "graph"), "--int-ids", "--out", filepath.Join(want, "pr"),
			"--partitions", "4", "--max-iter", "20")
		sameOutput(t, filepath.Join(c.Data, "pr"), filepath.Join(want, "pr"))
	})
}

// A cluster started without its data directory fails at `up`, naming the
// directory and every coordinator and worker, creates none of their
// containers, and writes nothing: Docker does not create the directory.
func TestMissingDataDir(t *testing.T) {
	c := newCluster(t)
	missing := filepath.Join(c.Data, "no-such-dir")
	c.env[0] = "SUPERSTEP_DATA=" + missing
	out, err := c.compose(3*time.Minute, "up", "-d")
	if err == nil {
		t.Fatalf("compose up without the data directory succeeded:\n%s", out)
	}
	if !strings.Contains(out, missing) {
		t.Fatalf("the error does not name the missing directory %s:\n%s", missing, out)
	}
	// No coordinator or worker container was even created (the s3 server
	// and the one-shot certs service, which do not mount /data, may run).
	for _, svc := range services {
		ids, err := run(context.Background(), time.Minute, nil, "docker", "ps", "-aq", "--filter",
			"label=com.docker.compose.project="+c.Project, "--filter", "label=com.docker.compose.service="+svc)
		if err != nil || strings.TrimSpace(ids) != "" {
			t.Fatalf("%s has a container without its data directory (%v): %s", svc, err, ids)
		}
		if !strings.Contains(out, "for "+svc) {
			t.Errorf("the error does not name %s:\n%s", svc, out)
		}
	}
	if ents, err := os.ReadDir(c.Data); err != nil || len(ents) != 0 {
		t.Fatalf("something was written next to the missing directory: %v %v", ents, err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatalf("docker created %s", missing)
	}
}
