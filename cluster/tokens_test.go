package cluster_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/coordinator/server"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/internal/security"
	"github.com/superstep/superstep/worker"
)

// TestSubmitTokensSeeTheirOwnJobs: over TLS, a submit token sees, watches
// and cancels only the jobs it submitted, and cannot take another's job
// ID; the admin token sees all.
func TestSubmitTokensSeeTheirOwnJobs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	tok := principals(t, dir, "alice", "bob")
	co, _ := security.LoadTLS(dir, security.RoleCoordinator)
	tokens, err := security.NewTokenStore(security.Files{Dir: dir}.Tokens())
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.TLS, cfg.Tokens = co, tokens
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := server.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ca, cb, cadm := dialAs(t, s.Addr(), dir, tok["alice"]), dialAs(t, s.Addr(), dir, tok["bob"]), dialAs(t, s.Addr(), dir, tok["admin"])
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("a\n"), 0o644)
	prog := compile(t, wordcount.Job, []string{"--input", in, "--out", filepath.Join(t.TempDir(), "out")}, 1)
	id, err := ca.Submit(ctx, prog) // no worker: it fails at once, but it exists
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.CC.GetJob(ctx, &pb.GetJobRequest{JobId: id}); status.Code(err) != codes.NotFound {
		t.Fatalf("bob reads alice's job: %v", err)
	}
	if _, err := cb.CC.CancelJob(ctx, &pb.CancelJobRequest{JobId: id}); status.Code(err) != codes.NotFound {
		t.Fatalf("bob cancels alice's job: %v", err)
	}
	for name, watch := range map[string]func() error{
		"status": func() error {
			s, err := cb.CC.WatchJob(ctx, &pb.GetJobRequest{JobId: id})
			if err == nil {
				_, err = s.Recv()
			}
			return err
		},
		"events": func() error {
			s, err := cb.CC.WatchJobEvents(ctx, &pb.WatchJobRequest{JobId: id})
			if err == nil {
				_, err = s.Recv()
			}
			return err
		},
	} {
		if err := watch(); status.Code(err) != codes.NotFound {
			t.Fatalf("bob watches alice's job's %s: %v", name, err)
		}
	}
	if l, err := cb.CC.ListJobs(ctx, &pb.ListJobsRequest{}); err != nil || len(l.GetJobs()) != 0 {
		t.Fatalf("bob lists %v (%v)", l.GetJobs(), err)
	}
	// Bob cannot take the ID over either.
	if _, err := cb.Submit(ctx, prog); err == nil {
		t.Fatalf("bob resubmits alice's job id: %v", err)
	}
	for name, c := range map[string]*cluster.Client{"alice": ca, "admin": cadm} {
		if _, err := c.CC.GetJob(ctx, &pb.GetJobRequest{JobId: id}); err != nil {
			t.Fatalf("%s reads alice's job: %v", name, err)
		}
		if l, err := c.CC.ListJobs(ctx, &pb.ListJobsRequest{}); err != nil || len(l.GetJobs()) != 1 {
			t.Fatalf("%s lists %v (%v)", name, l.GetJobs(), err)
		}
	}
}

// TestDeferredSubmitKeepsOwner: a submit whose inputs a worker lists (the
// CLI's kind) that names a job ID alice's job holds is refused to bob with
// AlreadyExists, as a submit with listed inputs is, whether it repeats
// alice's job or differs from it, and alice's resubmit is taken as a retry.
func TestDeferredSubmitKeepsOwner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	tok := principals(t, dir, "alice", "bob")
	wc := worker.DefaultConfig()
	wc.Slots, wc.Memory = 2, 8<<20
	wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := cluster.StartEmbedded(ctx, cluster.EmbeddedConfig{Workers: 1, Worker: wc, WorkDir: t.TempDir(), TLSDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ca, cb := dialAs(t, e.Coordinator.Addr(), dir, tok["alice"]), dialAs(t, e.Coordinator.Addr(), dir, tok["bob"])
	in := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(in, []byte("a b a\n"), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	prog := compileWith(t, wordcount.Job, []string{"--input", in, "--out", out}, 1, bsp.CompileOptions{DeferInputs: true})
	id, err := ca.Submit(ctx, prog)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Wait(ctx, id, nil); err != nil {
		t.Fatal(err)
	}
	other := compileWith(t, wordcount.Job, []string{"--input", in, "--out", out + "-bob"}, 1, bsp.CompileOptions{DeferInputs: true})
	other.Spec.JobID = prog.Spec.JobID
	for name, p := range map[string]*bsp.Program{"alice's job": prog, "another job": other} {
		if _, err := cb.Submit(ctx, p); status.Code(err) != codes.AlreadyExists {
			t.Errorf("bob submits %s under alice's job id: %v, want AlreadyExists", name, err)
		}
	}
	if again, err := ca.Submit(ctx, prog); err != nil || again != id {
		t.Errorf("alice resubmits her job: %q, %v", again, err)
	}
	if _, err := cb.CC.GetJob(ctx, &pb.GetJobRequest{JobId: id}); status.Code(err) != codes.NotFound {
		t.Errorf("bob reads alice's job: %v", err)
	}
}

// principals makes the cluster certificates in dir (security.Init) and a
// submit token for each name; it returns every name's token, and the admin
// token under "admin".
func principals(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	if err := security.Init(dir, security.CertOptions{}); err != nil {
		t.Fatal(err)
	}
	f := security.Files{Dir: dir}
	admin, err := security.ReadToken(f.Token())
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{"admin": admin}
	for _, name := range names {
		tok, err := security.NewToken()
		if err == nil {
			err = security.AddToken(f.Tokens(), tok, security.TokenSubmit, name)
		}
		if err != nil {
			t.Fatal(err)
		}
		tokens[name] = tok
	}
	return tokens
}

// dialAs connects to the coordinators at addrs with the client certificate
// in dir and token, closed when the test ends.
func dialAs(t *testing.T, addrs, dir, token string) *cluster.Client {
	t.Helper()
	tl, err := security.LoadTLS(dir, security.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.Dial(context.Background(), addrs, cluster.WithTLS(tl), cluster.WithToken(token))
	if err != nil {
		t.Fatalf("dialing %s: %v", addrs, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
