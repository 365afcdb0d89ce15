// Package s3fake runs an in-memory S3 API (github.com/johannesboyne/gofakes3
// with its s3mem backend) on a loopback port chosen at run time, for tests
// of s3:// inputs, outputs and checkpoints. Unlike gofakes3 alone, it
// checks the access key of every request, so that tests of bad credentials
// see what S3 answers them.
package s3fake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/superstep/superstep/storage"
)

// AccessKey and SecretKey are the only credentials the server accepts.
const (
	AccessKey = "superstep-test"
	SecretKey = "superstep-test-secret"
)

// Server is a running fake S3.
type Server struct {
	URL     string // the endpoint, http://127.0.0.1:PORT
	Backend *s3mem.Backend

	rangedGets atomic.Int64
	puts       atomic.Int64
	srv        *httptest.Server

	mu sync.Mutex
	// guarded by mu: the paths (/bucket/key) of every PUT
	putPaths []string
}

// Start serves a fake S3 holding the given (empty) buckets until tb ends.
func Start(tb testing.TB, buckets ...string) *Server {
	tb.Helper()
	s := &Server{Backend: s3mem.New()}
	for _, b := range buckets {
		if err := s.Backend.CreateBucket(b); err != nil {
			tb.Fatalf("s3fake: bucket %s: %v", b, err)
		}
	}
	fake := gofakes3.New(s.Backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("s3fake: %v", err)
	}
	s.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: s.handler(fake), ReadHeaderTimeout: 10 * time.Second}}
	s.srv.Start()
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// handler checks the request's access key (signature version 4: the
// Authorization header names it after "Credential=") before gofakes3 sees
// the request, and counts requests.
func (s *Server) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if !strings.Contains(auth, "Credential="+AccessKey+"/") {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			if r.Method != http.MethodHead {
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code>`+
					`<Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>`)
			}
			return
		}
		switch {
		case r.Method == http.MethodGet && r.Header.Get("Range") != "":
			s.rangedGets.Add(1)
		case r.Method == http.MethodPut:
			s.puts.Add(1)
			s.mu.Lock()
			s.putPaths = append(s.putPaths, r.URL.Path)
			s.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// RangedGets is how many GETs with a Range header the server answered.
func (s *Server) RangedGets() int64 { return s.rangedGets.Load() }

// Puts is how many PUTs (objects, parts, copies) the server answered.
func (s *Server) Puts() int64 { return s.puts.Load() }

// PutsUnder is how many PUTs wrote below the s3:// URL prefix.
func (s *Server) PutsUnder(prefix string) int {
	p := "/" + strings.TrimPrefix(prefix, "s3://")
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, path := range s.putPaths {
		if strings.HasPrefix(path, p) {
			n++
		}
	}
	return n
}

// Config is the S3Config of a client of the server, with the accepted
// credentials and short timeouts.
func (s *Server) Config() storage.S3Config {
	return storage.S3Config{
		Endpoint:    s.URL,
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		Timeout:     20 * time.Second,
		MaxAttempts: 2,
	}
}

// FS is a client of the server.
func (s *Server) FS(tb testing.TB) *storage.S3 {
	tb.Helper()
	fsys, err := storage.NewS3(context.Background(), s.Config())
	if err != nil {
		tb.Fatal(err)
	}
	return fsys
}

// Use makes storage.For serve s3:// URLs from this server for the rest of
// tb (the default configuration is restored after it), and sets the
// environment a child process needs to reach it (SUPERSTEP_S3_ENDPOINT
// and the AWS credentials), so tests using it must not run in parallel.
func (s *Server) Use(tb testing.TB) {
	tb.Helper()
	if err := storage.ConfigureS3(s.Config()); err != nil {
		tb.Fatal(err)
	}
	tb.Setenv(storage.EnvS3Endpoint, s.URL)
	tb.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	tb.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	tb.Setenv("AWS_REGION", "us-east-1")
	tb.Cleanup(storage.ResetS3)
}

// Client is a plain SDK client of the server, for a test to look behind the
// FS (uploads in progress, objects written by others).
func (s *Server) Client() *s3.Client {
	return s3.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")},
		func(o *s3.Options) { o.BaseEndpoint, o.UsePathStyle = aws.String(s.URL), true })
}

// Uploads is how many multipart uploads are in progress in bucket.
func (s *Server) Uploads(tb testing.TB, bucket string) int {
	tb.Helper()
	out, err := s.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload" {
		return 0 // gofakes3's answer when there are none
	}
	if err != nil {
		tb.Fatalf("s3fake: list uploads: %v", err)
	}
	return len(out.Uploads)
}
