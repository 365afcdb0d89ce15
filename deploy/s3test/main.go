// Command s3test serves an in-memory S3 API (github.com/johannesboyne/gofakes3
// with its s3mem backend) for Superstep's container tests and the compose
// cluster. It is a test server: no authentication is checked, nothing
// survives a restart.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	listen := flag.String("listen", ":9000", "address to serve the S3 API on")
	buckets := flag.String("buckets", "", "buckets to create at start, comma separated")
	flag.Parse()
	if err := run(*listen, *buckets); err != nil {
		fmt.Fprintln(os.Stderr, "s3test:", err)
		os.Exit(1)
	}
}

func run(listen, buckets string) error {
	backend := s3mem.New()
	for _, b := range strings.Split(buckets, ",") {
		if b = strings.TrimSpace(b); b != "" {
			if err := backend.CreateBucket(b); err != nil {
				return fmt.Errorf("bucket %s: %w", b, err)
			}
		}
	}
	srv := &http.Server{Addr: listen, Handler: gofakes3.New(backend).Server(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("s3test serving on %s", listen)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
