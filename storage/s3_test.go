package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/superstep/superstep/internal/s3fake"
	"github.com/superstep/superstep/storage"
)

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func readAll(t *testing.T, fsys storage.FS, name string, off, n int64) []byte {
	t.Helper()
	r, err := fsys.OpenRange(context.Background(), name, off, n)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// multipartFS is a client of srv that writes in 5 MiB parts (the least S3
// allows), so that a write of a few MiB is a multipart upload.
func multipartFS(t *testing.T, srv *s3fake.Server) *storage.S3 {
	t.Helper()
	cfg := srv.Config()
	cfg.PartSize = 5 << 20
	fsys, err := storage.NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

// TestS3Files writes a small file (one PutObject) and one larger than the
// part size (a multipart upload, in 5 MiB parts), and reads them back
// whole and by ranges; the ranges are what the bytes say they are.
func TestS3Files(t *testing.T) {
	srv := s3fake.Start(t, "bkt")
	fsys := multipartFS(t, srv)
	ctx := context.Background()
	big := randomBytes(12<<20+12345, 1)
	for _, tc := range []struct {
		name  string
		data  []byte
		parts int64 // PUT requests the write takes (one per part)
	}{{"s3://bkt/dir/small.txt", []byte("hello\nworld\n"), 1}, {"s3://bkt/dir/sub/big.bin", big, 3}} {
		before := srv.Puts()
		w, err := fsys.Create(ctx, tc.name)
		if err != nil {
			t.Fatal(err)
		}
		for b := tc.data; len(b) > 0; { // odd-sized writes
			k := min(len(b), 1<<20+7)
			if _, err := w.Write(b[:k]); err != nil {
				t.Fatal(err)
			}
			b = b[k:]
		}
		if _, err := fsys.Stat(ctx, tc.name); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s visible before Close: %v", tc.name, err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := srv.Puts() - before; got != tc.parts {
			t.Errorf("%s: %d PUTs, want %d", tc.name, got, tc.parts)
		}
		info, err := fsys.Stat(ctx, tc.name)
		if err != nil || info.Size != int64(len(tc.data)) || info.IsDir {
			t.Fatalf("stat %s = %+v, %v; want %d bytes", tc.name, info, err, len(tc.data))
		}
		if got := readAll(t, fsys, tc.name, 0, -1); !bytes.Equal(got, tc.data) {
			t.Fatalf("%s: read back %d bytes that differ", tc.name, len(got))
		}
		n := int64(len(tc.data))
		for _, r := range [][2]int64{{0, 1}, {3, 4}, {n - 2, -1}, {n - 2, 100}, {n, -1}, {n + 10, 5}, {1, 0}} {
			lo, hi := min(r[0], n), n
			if r[1] >= 0 {
				hi = min(r[0]+r[1], n)
			}
			if got := readAll(t, fsys, tc.name, r[0], r[1]); !bytes.Equal(got, tc.data[lo:max(lo, hi)]) {
				t.Errorf("%s range %v: %q", tc.name, r, got)
			}
		}
	}
	before := srv.RangedGets()
	readAll(t, fsys, "s3://bkt/dir/sub/big.bin", 5, 10)
	if srv.RangedGets() != before+1 {
		t.Errorf("a ranged read took %d ranged GETs, want 1", srv.RangedGets()-before)
	}
	if info, err := fsys.Stat(ctx, "s3://bkt/dir"); err != nil || !info.IsDir {
		t.Fatalf("stat of a prefix = %+v, %v; want a directory", info, err)
	}
	if _, err := fsys.Stat(ctx, "s3://bkt/di"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat of a partial prefix: %v, want not-exist", err)
	}
	if _, err := fsys.OpenRange(ctx, "s3://bkt/dir/none", 0, -1); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open of a missing key: %v, want not-exist", err)
	}
}

// TestS3ListCopyRemove: List is recursive, sorted, paginated (pages of 7
// keys here); Copy, Rename and RemoveAll do what the FS says, and
// RemoveAll also aborts a multipart upload a dead writer left behind.
func TestS3ListCopyRemove(t *testing.T) {
	srv := s3fake.Start(t, "bkt")
	fsys := srv.FS(t)
	fsys.SetListPage(7)
	ctx := context.Background()
	var want []string
	for i := range 53 {
		name := fmt.Sprintf("s3://bkt/in/d%d/f%04d", i%3, i)
		if err := storage.WriteFile(ctx, fsys, name, []byte(name)); err != nil {
			t.Fatal(err)
		}
		want = append(want, name)
	}
	if err := storage.WriteFile(ctx, fsys, "s3://bkt/inx", []byte("not below in/")); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	got, err := fsys.List(ctx, "s3://bkt/in")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range got {
		names = append(names, f.Name)
		if f.Size != int64(len(f.Name)) {
			t.Fatalf("%s: size %d", f.Name, f.Size)
		}
	}
	if !slices.Equal(names, want) {
		t.Fatalf("listed %d names, want %d (first %v)", len(names), len(want), names[:min(3, len(names))])
	}
	if l, err := fsys.List(ctx, "s3://bkt/missing"); err != nil || len(l) != 0 {
		t.Fatalf("list of a missing dir = %v, %v; want empty", l, err)
	}

	if err := fsys.Copy(ctx, "s3://bkt/in/d0/f0000", "s3://bkt/out/a+b c"); err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, fsys, "s3://bkt/out/a+b c", 0, -1); string(b) != "s3://bkt/in/d0/f0000" {
		t.Fatalf("copy holds %q", b)
	}
	if err := fsys.Rename(ctx, "s3://bkt/out/a+b c", "s3://bkt/out/moved"); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat(ctx, "s3://bkt/out/a+b c"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("renamed source still there: %v", err)
	}

	// A writer that died mid-upload.
	client := srv.Client()
	if _, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("bkt"), Key: aws.String("in/d1/dead")}); err != nil {
		t.Fatal(err)
	}
	if err := fsys.RemoveAll(ctx, "s3://bkt/in"); err != nil {
		t.Fatal(err)
	}
	if l, err := fsys.List(ctx, "s3://bkt/in"); err != nil || len(l) != 0 {
		t.Fatalf("after RemoveAll: %d files, %v", len(l), err)
	}
	if n := srv.Uploads(t, "bkt"); n != 0 {
		t.Fatalf("%d uploads left after RemoveAll", n)
	}
	if _, err := fsys.Stat(ctx, "s3://bkt/inx"); err != nil {
		t.Fatalf("RemoveAll(in) removed inx: %v", err)
	}
	if err := fsys.RemoveAll(ctx, "s3://bkt/in"); err != nil {
		t.Fatalf("RemoveAll of nothing: %v", err)
	}
	if err := fsys.RemoveAll(ctx, "s3://bkt"); !errors.Is(err, storage.ErrBadName) {
		t.Fatalf("RemoveAll of a whole bucket: %v, want refused", err)
	}
}

// TestS3Abort: an aborted write, small or multipart, leaves no object and no
// upload.
func TestS3Abort(t *testing.T) {
	srv := s3fake.Start(t, "bkt")
	fsys := multipartFS(t, srv)
	ctx := context.Background()
	for _, n := range []int{10, 11 << 20} {
		w, err := fsys.Create(ctx, "s3://bkt/x")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(randomBytes(n, 2)); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatal(err)
		}
		if _, err := fsys.Stat(ctx, "s3://bkt/x"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%d bytes: aborted write visible: %v", n, err)
		}
		if u := srv.Uploads(t, "bkt"); u != 0 {
			t.Fatalf("%d bytes: %d uploads left after Abort", n, u)
		}
	}
}

// TestS3Commit runs the output-commit contract over S3 (the copy path: S3
// has no directory rename): the parts and then _SUCCESS with the manifest
// appear in the output, the staging prefix is gone.
func TestS3Commit(t *testing.T) {
	srv := s3fake.Start(t, "bkt")
	fsys := srv.FS(t)
	ctx := context.Background()
	o := storage.Output{Dir: "s3://bkt/job/out", Temp: "s3://bkt/job/.out.superstep-j1"}
	parts := map[string]string{"part-00000.txt": "a\nb\n", "part-00001.txt": "", "part-00002.txt": "c\n"}
	var ps []storage.Part
	for name, data := range parts {
		src := storage.Join(o.Temp, storage.AttemptsDir, name+"-a0", name)
		if err := storage.WriteFile(ctx, fsys, src, []byte(data)); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, storage.Part{Src: src, Name: name, Size: int64(len(data))})
	}
	for _, p := range ps {
		if err := storage.CommitPart(ctx, fsys, o, p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := storage.ReadManifest(ctx, fsys, o.Dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("manifest before Commit: %v", err)
	}
	if err := storage.Commit(ctx, fsys, o, ps); err != nil {
		t.Fatal(err)
	}
	m, err := storage.ReadManifest(ctx, fsys, o.Dir)
	if err != nil || len(m.Parts) != 3 || m.Parts[0].Name != "part-00000.txt" || m.Parts[0].Size != 4 {
		t.Fatalf("manifest %+v, %v", m, err)
	}
	files, err := fsys.List(ctx, "s3://bkt/job")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	want := []string{"s3://bkt/job/out/_SUCCESS", "s3://bkt/job/out/part-00000.txt", "s3://bkt/job/out/part-00001.txt", "s3://bkt/job/out/part-00002.txt"}
	if !slices.Equal(names, want) {
		t.Fatalf("bucket holds %v, want %v", names, want)
	}
	for name, data := range parts {
		if got := readAll(t, fsys, "s3://bkt/job/out/"+name, 0, -1); string(got) != data {
			t.Fatalf("%s holds %q, want %q", name, got, data)
		}
	}
}

// TestS3CommitInjectedFault: a copy into the output that fails (injected
// over the real S3 FS) fails the commit; no _SUCCESS is written, and a
// repeated commit, the fault gone, publishes the output.
func TestS3CommitInjectedFault(t *testing.T) {
	srv := s3fake.Start(t, "bkt")
	in := storage.NewInjector(srv.FS(t), storage.Rule{Op: storage.OpCopy, Match: func(n string) bool {
		return strings.HasSuffix(n, "part-00001.txt")
	}, Times: 1})
	ctx := context.Background()
	o := storage.Output{Dir: "s3://bkt/out", Temp: "s3://bkt/.out.superstep-j1"}
	var ps []storage.Part
	for i, data := range []string{"x\n", "yy\n"} {
		name := fmt.Sprintf("part-%05d.txt", i)
		src := storage.Join(o.Temp, storage.AttemptsDir, name+"-a0", name)
		if err := storage.WriteFile(ctx, in, src, []byte(data)); err != nil {
			t.Fatal(err)
		}
		p := storage.Part{Src: src, Name: name, Size: int64(len(data))}
		if err := storage.CommitPart(ctx, in, o, p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	err := storage.Commit(ctx, in, o, ps)
	if !errors.Is(err, storage.ErrInjected) || in.Injected() != 1 {
		t.Fatalf("commit: %v (%d injected), want the injected error", err, in.Injected())
	}
	if _, err := storage.ReadManifest(ctx, in, o.Dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("_SUCCESS after a failed commit: %v", err)
	}
	if err := storage.Commit(ctx, in, o, ps); err != nil {
		t.Fatalf("repeated commit: %v", err)
	}
	if m, err := storage.ReadManifest(ctx, in, o.Dir); err != nil || len(m.Parts) != 2 {
		t.Fatalf("manifest %+v, %v", m, err)
	}
}

// TestS3BadURLs: a missing bucket, bad credentials and an unreachable
// endpoint each give an error naming the URL and the cause, in bounded
// time, and a write that fails leaves nothing.
func TestS3BadURLs(t *testing.T) {
	srv := s3fake.Start(t, "bkt")
	ctx := context.Background()

	fsys := srv.FS(t)
	for _, op := range []func() error{
		func() error { _, err := fsys.Stat(ctx, "s3://nobucket/in"); return err },
		func() error { _, err := fsys.List(ctx, "s3://nobucket/in"); return err },
		func() error { _, err := fsys.OpenRange(ctx, "s3://nobucket/in/f", 0, -1); return err },
		func() error { return storage.WriteFile(ctx, fsys, "s3://nobucket/out/f", []byte("x")) },
	} {
		err := op()
		if !errors.Is(err, storage.ErrNoBucket) || !strings.Contains(err.Error(), "s3://nobucket/") {
			t.Errorf("missing bucket: %v; want ErrNoBucket naming the URL", err)
		}
	}

	bad := srv.Config()
	bad.Credentials = credentials.NewStaticCredentialsProvider("wrong", "key", "")
	badFS, err := storage.NewS3(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []func() error{
		func() error { _, err := badFS.Stat(ctx, "s3://bkt/in"); return err },
		func() error { _, err := badFS.List(ctx, "s3://bkt/in"); return err },
		func() error { return storage.WriteFile(ctx, badFS, "s3://bkt/out/f", []byte("x")) },
	} {
		if err := op(); err == nil || !strings.Contains(err.Error(), "access denied") || !strings.Contains(err.Error(), "s3://bkt/") {
			t.Errorf("bad credentials: %v; want access denied naming the URL", err)
		}
	}
	if _, err := fsys.Stat(ctx, "s3://bkt/out/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused write left an object: %v", err)
	}

	// A loopback port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	down := srv.Config()
	down.Endpoint = closed
	downFS, err := storage.NewS3(ctx, down)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = downFS.List(ctx, "s3://bkt/in")
	if err == nil || !strings.Contains(err.Error(), "s3://bkt/in") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("unreachable endpoint: %v; want connection refused naming the URL", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("unreachable endpoint took %v to fail", d)
	}

	for _, name := range []string{"s3://UPPER/x", "s3://a/x", "s3:///x"} {
		if _, err := fsys.Stat(ctx, name); !errors.Is(err, storage.ErrBadName) {
			t.Errorf("%s: %v, want ErrBadName", name, err)
		}
	}
	if _, err := storage.NewS3(ctx, storage.S3Config{Endpoint: "127.0.0.1:9000"}); err == nil {
		t.Error("an endpoint without a scheme was accepted")
	}
}
