package cluster_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/superstep/superstep/bsp"
	"github.com/superstep/superstep/cluster"
	"github.com/superstep/superstep/examples/terasort"
	"github.com/superstep/superstep/examples/wordcount"
	"github.com/superstep/superstep/internal/security"
	"github.com/superstep/superstep/worker"
)

// BenchmarkTLS runs wordcount and a shuffle-bound sort on a three-worker
// embedded cluster with TLS off and on, in one run, so that the cost of
// mutual TLS is a ratio on the same machine: compare the plain and tls
// sub-benchmarks' MB/s (go test -bench TLS -count 5, then benchstat).
func BenchmarkTLS(b *testing.B) {
	base := b.TempDir()
	certs := filepath.Join(base, "tls")
	if err := security.Init(certs, security.CertOptions{}); err != nil {
		b.Fatal(err)
	}
	in := filepath.Join(base, "words.txt")
	var sb strings.Builder
	for i := 0; sb.Len() < 8<<20; i++ {
		fmt.Fprintf(&sb, "w%d x%d the quick brown fox %d\n", i%5003, i%71, i%997)
	}
	os.WriteFile(in, []byte(sb.String()), 0o644)
	const records = 300_000 // terasort rows of 100 bytes: 30 MB through the shuffle
	gen := filepath.Join(base, "gen")
	for _, mode := range []string{"plain", "tls"} {
		wc := worker.DefaultConfig()
		wc.Slots, wc.Memory = 2, 64<<20
		wc.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
		cfg := cluster.EmbeddedConfig{Workers: 3, Worker: wc, WorkDir: filepath.Join(base, mode)}
		if mode == "tls" {
			cfg.TLSDir = certs
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		e, err := cluster.StartEmbedded(ctx, cfg)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := os.Stat(gen); err != nil {
			if _, err := e.Executor().Execute(context.Background(), compile(b, terasort.Job, []string{"--generate", fmt.Sprint(records), "--out", gen}, 6)); err != nil {
				b.Fatal(err)
			}
		}
		run := func(b *testing.B, name string, job *bsp.Job, bytes int64, flags []string) {
			b.Run(name+"/"+mode, func(b *testing.B) {
				b.SetBytes(bytes)
				for i := range b.N {
					out := filepath.Join(base, fmt.Sprintf("%s-%s-%d", name, mode, i))
					if _, err := e.Executor().Execute(context.Background(), compile(b, job, append(flags, "--out", out), 6)); err != nil {
						b.Fatal(err)
					}
					os.RemoveAll(out)
				}
			})
		}
		run(b, "wordcount", wordcount.Job, int64(sb.Len()), []string{"--input", in})
		run(b, "shuffle", terasort.Job, records*100, []string{"--input", gen})
		e.Close()
	}
}
