//go:build containers

package containertest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/superstep/superstep/storage"
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
// byte to the same job run embedded on the host: first with /data (the
// bind mount), then with s3:// on the cluster's S3 test server.
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

	// The same jobs with s3:// inputs, outputs and checkpoints on the
	// cluster's S3 server (deploy/s3test): the workers read and write it,
	// the coordinators list and commit it, all over the compose network.
	s3 := c.s3(t)
	t.Run("wordcount-s3", func(t *testing.T) {
		upload(t, s3, filepath.Join(c.Data, "in"), "in")
		c.submit(t, 5*time.Minute, "wordcount", "--input", "s3://superstep/in", "--out", "s3://superstep/wc", "--partitions", "4")
		sameOutput(t, download(t, s3, "wc"), filepath.Join(want, "wc"))
	})
	t.Run("terasort-s3", func(t *testing.T) {
		c.submit(t, 5*time.Minute, "terasort", "--generate", "200000", "--out", "s3://superstep/records", "--partitions", "4")
		sameOutput(t, download(t, s3, "records"), filepath.Join(want, "records"))
		c.submit(t, 5*time.Minute, "terasort", "--input", "s3://superstep/records", "--out", "s3://superstep/sorted", "--partitions", "4")
		sameOutput(t, download(t, s3, "sorted"), filepath.Join(want, "sorted"))
	})
	t.Run("pagerank-s3", func(t *testing.T) {
		upload(t, s3, filepath.Join(c.Data, "graph"), "graph")
		c.submit(t, 5*time.Minute, "pagerank", "--edges", "s3://superstep/graph", "--int-ids", "--out", "s3://superstep/pr",
			"--partitions", "4", "--max-iter", "20", "--checkpoint-dir", "s3://superstep/checkpoints")
		sameOutput(t, download(t, s3, "pr"), filepath.Join(want, "pr"))
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

// s3 is the compose cluster's S3 test server (deploy/s3test, bucket
// superstep) as the host reaches it: at its address on the project's
// bridge network, with the credentials compose.yaml gives the services.
func (c *Cluster) s3(t *testing.T) *storage.S3 {
	t.Helper()
	ip := strings.TrimSpace(c.Docker(t, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", c.Container("s3")))
	t.Setenv("AWS_ACCESS_KEY_ID", "superstep")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "superstep-test-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	s3, err := storage.NewS3(context.Background(), storage.S3Config{Endpoint: "http://" + ip + ":9000"})
	if err != nil {
		t.Fatal(err)
	}
	return s3
}

// upload copies the files below a local directory to s3://superstep/key/.
func upload(t *testing.T, s3 *storage.S3, dir, key string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.WriteFile(context.Background(), s3, "s3://superstep/"+key+"/"+e.Name(), b); err != nil {
			t.Fatalf("upload: %v", err)
		}
	}
}

// download copies the objects below s3://superstep/key/ into a new local
// directory and returns it.
func download(t *testing.T, s3 *storage.S3, key string) string {
	t.Helper()
	dir := t.TempDir()
	prefix := "s3://superstep/" + key + "/"
	files, err := s3.List(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("nothing below %s", prefix)
	}
	for _, f := range files {
		rel := strings.TrimPrefix(f.Name, prefix)
		if strings.Contains(rel, "/") {
			t.Fatalf("%s: an object below the output's top level", f.Name)
		}
		b, err := storage.ReadFile(context.Background(), s3, f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
