package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// The S3 filesystem: names are s3://bucket/key URLs. A "directory" is a key
// prefix ending in "/": s3://b/out holds the objects out/... of bucket b.
// Writes stream through a bounded buffer (one multipart part at a time);
// every request has a timeout and a bounded number of attempts, so a bad
// URL, bad credentials or an unreachable endpoint fail in seconds, with an
// error that names the URL.

// ErrNoBucket is matched by errors about an s3:// URL whose bucket does not
// exist.
var ErrNoBucket = errors.New("storage: no such bucket")

// EnvS3Endpoint is the environment variable that sets the endpoint of the
// default S3 filesystem (see S3Config.Endpoint), as --s3-endpoint does.
const EnvS3Endpoint = "SUPERSTEP_S3_ENDPOINT"

// Defaults of S3Config.
const (
	DefaultS3Timeout     = 60 * time.Second
	DefaultS3MaxAttempts = 3
	DefaultS3PartSize    = 8 << 20
	minS3PartSize        = 5 << 20 // S3's smallest part but the last
	maxS3CopySize        = 5 << 30 // CopyObject's limit
	maxS3Parts           = 10000
)

// S3Config configures an S3 filesystem. The zero value uses AWS itself with
// the usual environment and credential chain (AWS_REGION, AWS_ACCESS_KEY_ID,
// AWS_PROFILE, shared config files, instance roles).
type S3Config struct {
	// Endpoint is the URL of an S3-compatible store (MinIO, Ceph, a test
	// server), e.g. http://127.0.0.1:9000; requests then use path-style
	// addressing (http://host/bucket/key). Empty: SUPERSTEP_S3_ENDPOINT,
	// and when that is empty too, AWS.
	Endpoint string
	// Region of the buckets; empty: the environment's, else us-east-1.
	Region string
	// Credentials; nil: the default chain.
	Credentials aws.CredentialsProvider
	// Timeout bounds each request: connecting, waiting for the response,
	// and any pause while a body streams. 0: DefaultS3Timeout.
	Timeout time.Duration
	// MaxAttempts of each request (retries of throttling and transient
	// errors included). 0: DefaultS3MaxAttempts.
	MaxAttempts int
	// PartSize is the buffer of a file being written: files up to it are
	// one PutObject, larger ones a multipart upload of parts this size.
	// 0: DefaultS3PartSize; at least 5 MiB.
	PartSize int64
}

// S3 is the FS of s3:// URLs over the AWS SDK (service/s3).
type S3 struct {
	client   *s3.Client
	timeout  time.Duration
	partSize int64
	listPage int32 // keys per List page; 0: the store's default (1000 on S3)
}

var _ FS = (*S3)(nil)

// NewS3 makes an S3 filesystem. It does not contact the store:
// credentials and buckets are checked by the first request.
func NewS3(ctx context.Context, c S3Config) (*S3, error) {
	if c.Endpoint == "" {
		c.Endpoint = os.Getenv(EnvS3Endpoint)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultS3Timeout
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultS3MaxAttempts
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultS3PartSize
	}
	if c.PartSize < minS3PartSize {
		return nil, fmt.Errorf("s3: part size %d is below S3's minimum of %d", c.PartSize, minS3PartSize)
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3: endpoint %q is not an http(s)://HOST[:PORT] URL", c.Endpoint)
		}
	}
	// A buildable client, so that AWS_CA_BUNDLE can add its roots.
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = min(c.Timeout, 10*time.Second) }).
		WithTransportOptions(func(t *http.Transport) {
			t.TLSHandshakeTimeout = min(c.Timeout, 10*time.Second)
			t.ResponseHeaderTimeout = c.Timeout
			t.MaxIdleConnsPerHost = 64
		})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = c.MaxAttempts
				o.MaxBackoff = 2 * time.Second
			})
		}),
		// Checksums only where S3 requires them: S3-compatible stores do
		// not all understand the SDK's trailing checksums.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(c.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
			o.UsePathStyle = true
		}
	})
	return &S3{client: client, timeout: c.Timeout, partSize: c.PartSize}, nil
}

// ConfigureS3 makes For serve s3:// URLs with c (replacing the default
// configuration, which takes the endpoint from SUPERSTEP_S3_ENDPOINT). A
// process calls it once, from its flags, before any job runs. A bad
// endpoint URL is an error here, not at first use.
func ConfigureS3(c S3Config) error {
	if _, err := NewS3(context.Background(), c); err != nil {
		return err
	}
	Register("s3", func() (FS, error) { return NewS3(context.Background(), c) })
	return nil
}

// ResetS3 makes For serve s3:// URLs with the default configuration again:
// AWS's environment and credential chain, and the endpoint in
// SUPERSTEP_S3_ENDPOINT, read when the FS is first used.
func ResetS3() {
	Register("s3", func() (FS, error) {
		return NewS3(context.Background(), S3Config{})
	})
}

func init() { ResetS3() }

var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$`)

// parse splits an s3:// URL into bucket and key (without leading or
// trailing "/", cleaned).
func (*S3) parse(name string) (bucket, key string, err error) {
	if Scheme(name) != "s3" {
		return "", "", fmt.Errorf("%w: %s is not an s3:// URL", ErrBadName, name)
	}
	prefix, rest := splitURL(Clean(name))
	bucket = prefix[len("s3://"):]
	if !bucketName.MatchString(bucket) {
		return "", "", fmt.Errorf("%w: %s: bad bucket name %q", ErrBadName, name, bucket)
	}
	key = strings.TrimPrefix(rest, "/")
	if len(key) > 1024 {
		return "", "", fmt.Errorf("%w: %s: key longer than 1024 bytes", ErrBadName, name)
	}
	return bucket, key, nil
}

func s3Name(bucket, key string) string { return "s3://" + bucket + "/" + key }

// call gives a request its timeout.
func (s *S3) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// s3Error describes a failed request on name: what went wrong in words,
// wrapped so that errors.Is finds fs.ErrNotExist (a missing key) and
// ErrNoBucket.
func s3Error(op, name string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return &fs.PathError{Op: "s3 " + op, Path: name, Err: fs.ErrNotExist}
		case "NoSuchBucket":
			return fmt.Errorf("s3 %s %s: %w (%s)", op, name, ErrNoBucket, ae.ErrorMessage())
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "Forbidden", "ExpiredToken", "InvalidToken":
			return fmt.Errorf("s3 %s %s: access denied (%s: %s): check the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE)",
				op, name, ae.ErrorCode(), ae.ErrorMessage())
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("s3 %s %s: no answer within the timeout: %w", op, name, err)
	}
	return fmt.Errorf("s3 %s %s: %w", op, name, err)
}

// Create implements FS: the data goes to S3 in parts of the configured
// size, so memory stays bounded; the object appears on Close.
func (s *S3) Create(ctx context.Context, name string) (Writer, error) {
	bucket, key, err := s.parse(name)
	if err != nil {
		return nil, err
	}
	if key == "" {
		return nil, fmt.Errorf("%w: %s names a bucket, not a file", ErrBadName, name)
	}
	return &s3Writer{s: s, ctx: ctx, bucket: bucket, key: key, name: name, size: s.partSize}, nil
}

type s3Writer struct {
	s           *S3
	ctx         context.Context
	bucket, key string
	name        string
	size        int64  // the size of the next part
	buf         []byte // the part being filled
	upload      *string
	parts       []types.CompletedPart
	err         error
	done        bool
}

func (w *s3Writer) Write(b []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.done {
		return 0, fmt.Errorf("s3 write %s: file closed", w.name)
	}
	n := 0
	for len(b) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, w.size)
		}
		k := min(len(b), cap(w.buf)-len(w.buf))
		w.buf = append(w.buf, b[:k]...)
		b, n = b[k:], n+k
		if len(w.buf) == cap(w.buf) {
			if err := w.flushPart(); err != nil {
				w.err = err
				w.abortUpload()
				return n, err
			}
		}
	}
	return n, nil
}

// flushPart uploads the full buffer as the next part.
func (w *s3Writer) flushPart() error {
	if w.upload == nil {
		ctx, cancel := w.s.call(w.ctx)
		out, err := w.s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &w.bucket, Key: &w.key})
		cancel()
		if err != nil {
			return s3Error("create", w.name, err)
		}
		w.upload = out.UploadId
	}
	num := int32(len(w.parts) + 1)
	if num > maxS3Parts {
		return fmt.Errorf("s3 write %s: more than %d parts", w.name, maxS3Parts)
	}
	ctx, cancel := w.s.call(w.ctx)
	out, err := w.s.client.UploadPart(ctx, &s3.UploadPartInput{Bucket: &w.bucket, Key: &w.key, UploadId: w.upload,
		PartNumber: &num, Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf)))})
	cancel()
	if err != nil {
		return s3Error("write", w.name, err)
	}
	w.parts = append(w.parts, types.CompletedPart{ETag: out.ETag, PartNumber: &num})
	// Parts grow after every thousand, so that 10000 parts reach far
	// beyond any single part file (8 MiB parts: about 400 GB).
	if len(w.parts)%1000 == 0 {
		w.size *= 2
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	return nil
}

func (w *s3Writer) Close() error {
	if w.done {
		return w.err
	}
	w.done = true
	if w.err != nil {
		return w.err
	}
	if w.upload == nil {
		ctx, cancel := w.s.call(w.ctx)
		_, err := w.s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &w.bucket, Key: &w.key,
			Body: bytes.NewReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf)))})
		cancel()
		w.buf = nil
		if err != nil {
			w.err = s3Error("write", w.name, err)
		}
		return w.err
	}
	if len(w.buf) > 0 {
		if err := w.flushPart(); err != nil {
			w.err = err
			w.abortUpload()
			return err
		}
	}
	w.buf = nil
	ctx, cancel := w.s.call(w.ctx)
	_, err := w.s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &w.bucket, Key: &w.key,
		UploadId: w.upload, MultipartUpload: &types.CompletedMultipartUpload{Parts: w.parts}})
	cancel()
	if err != nil {
		w.err = s3Error("write", w.name, err)
		w.abortUpload()
	}
	return w.err
}

func (w *s3Writer) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.buf = nil
	return w.abortUpload()
}

func (w *s3Writer) abortUpload() error {
	if w.upload == nil {
		return nil
	}
	// The caller's context may be what ended the write: aborting must
	// still reach the store.
	ctx, cancel := w.s.call(context.WithoutCancel(w.ctx))
	defer cancel()
	_, err := w.s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &w.bucket, Key: &w.key, UploadId: w.upload})
	w.upload = nil
	if err != nil {
		return s3Error("abort", w.name, err)
	}
	return nil
}

// OpenRange implements FS with a ranged GetObject. The body must not stall
// for longer than the timeout.
func (s *S3) OpenRange(ctx context.Context, name string, off, n int64) (io.ReadCloser, error) {
	bucket, key, err := s.parse(name)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("s3 read %s: negative offset %d", name, off)
	}
	in := &s3.GetObjectInput{Bucket: &bucket, Key: &key}
	switch {
	case n == 0:
		// An empty range is no HTTP range; the object must still exist.
		if _, err := s.head(ctx, name, bucket, key); err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	case n > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	case off > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &idleReader{cancel: cancel, idle: s.timeout}
	r.timer = time.AfterFunc(s.timeout, r.expire)
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		r.timer.Stop()
		cancel()
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRange" {
			// Past the end: nothing to read, as for a local file.
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		if r.expired.Load() {
			return nil, fmt.Errorf("s3 read %s: no answer within %v", name, s.timeout)
		}
		return nil, s3Error("read", name, err)
	}
	r.timer.Reset(s.timeout)
	r.body, r.name = out.Body, name
	return r, nil
}

// idleReader is a response body that is cancelled when no byte arrives for
// idle.
type idleReader struct {
	body    io.ReadCloser
	name    string
	cancel  context.CancelFunc
	idle    time.Duration
	timer   *time.Timer
	expired atomic.Bool
}

func (r *idleReader) expire() {
	r.expired.Store(true)
	r.cancel()
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.body.Read(p)
	r.timer.Reset(r.idle)
	if err != nil && err != io.EOF {
		if r.expired.Load() {
			return n, fmt.Errorf("s3 read %s: no data for %v", r.name, r.idle)
		}
		return n, fmt.Errorf("s3 read %s: %w", r.name, err)
	}
	return n, err
}

func (r *idleReader) Close() error {
	r.timer.Stop()
	err := r.body.Close()
	r.cancel()
	return err
}

func (s *S3) head(ctx context.Context, name, bucket, key string) (*s3.HeadObjectOutput, error) {
	ctx, cancel := s.call(ctx)
	defer cancel()
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, s3Error("stat", name, err)
	}
	return out, nil
}

// Stat implements FS: an object is a file; a prefix with objects below it
// is a directory.
func (s *S3) Stat(ctx context.Context, name string) (FileInfo, error) {
	bucket, key, err := s.parse(name)
	if err != nil {
		return FileInfo{}, err
	}
	if key != "" {
		out, err := s.head(ctx, name, bucket, key)
		if err == nil {
			return FileInfo{Name: name, Size: aws.ToInt64(out.ContentLength)}, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return FileInfo{}, err
		}
	}
	// Not an object (HEAD cannot tell a missing bucket from a missing key):
	// a directory if anything is below it.
	prefix := dirPrefix(key)
	cctx, cancel := s.call(ctx)
	defer cancel()
	out, err := s.client.ListObjectsV2(cctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix, MaxKeys: aws.Int32(1)})
	if err != nil {
		return FileInfo{}, s3Error("stat", name, err)
	}
	if len(out.Contents) == 0 {
		return FileInfo{}, &fs.PathError{Op: "s3 stat", Path: name, Err: fs.ErrNotExist}
	}
	return FileInfo{Name: name, IsDir: true}, nil
}

func dirPrefix(key string) string {
	if key == "" {
		return ""
	}
	return key + "/"
}

// listKeys calls fn with every object below prefix, page by page.
func (s *S3) listKeys(ctx context.Context, name, bucket, prefix string, fn func(types.Object) error) error {
	in := &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix}
	if s.listPage > 0 {
		in.MaxKeys = &s.listPage
	}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		cctx, cancel := s.call(ctx)
		page, err := p.NextPage(cctx)
		cancel()
		if err != nil {
			return s3Error("list", name, err)
		}
		for _, o := range page.Contents {
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

// List implements FS. Keys ending in "/" (directory markers other tools
// make) are not files.
func (s *S3) List(ctx context.Context, dir string) ([]FileInfo, error) {
	bucket, key, err := s.parse(dir)
	if err != nil {
		return nil, err
	}
	var out []FileInfo
	err = s.listKeys(ctx, dir, bucket, dirPrefix(key), func(o types.Object) error {
		k := aws.ToString(o.Key)
		if strings.HasSuffix(k, "/") || strings.Contains(k, "//") {
			return nil
		}
		out = append(out, FileInfo{Name: s3Name(bucket, k), Size: aws.ToInt64(o.Size)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b FileInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Rename implements FS: a copy, then the source is deleted.
func (s *S3) Rename(ctx context.Context, oldname, newname string) error {
	if err := s.Copy(ctx, oldname, newname); err != nil {
		return err
	}
	return s.Remove(ctx, oldname)
}

// copySource is CopyObject's "bucket/key", URL-encoded.
func copySource(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, sg := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(sg), "+", "%2B")
	}
	return bucket + "/" + strings.Join(segs, "/")
}

// Copy implements FS: CopyObject inside the store, or, beyond its 5 GiB
// limit, a streamed multipart copy.
func (s *S3) Copy(ctx context.Context, src, dst string) error {
	sb, sk, err := s.parse(src)
	if err != nil {
		return err
	}
	db, dk, err := s.parse(dst)
	if err != nil {
		return err
	}
	if sk == "" || dk == "" {
		return fmt.Errorf("%w: copy %s to %s: a bucket is not a file", ErrBadName, src, dst)
	}
	info, err := s.head(ctx, src, sb, sk)
	if err != nil {
		return err
	}
	if aws.ToInt64(info.ContentLength) > maxS3CopySize {
		return streamCopy(ctx, s, src, dst)
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	_, err = s.client.CopyObject(cctx, &s3.CopyObjectInput{Bucket: &db, Key: &dk, CopySource: aws.String(copySource(sb, sk))})
	if err != nil {
		return s3Error("copy "+src+" to", dst, err)
	}
	return nil
}

// Remove implements FS.
func (s *S3) Remove(ctx context.Context, name string) error {
	bucket, key, err := s.parse(name)
	if err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("%w: %s names a bucket, not a file", ErrBadName, name)
	}
	cctx, cancel := s.call(ctx)
	defer cancel()
	if _, err := s.client.DeleteObject(cctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		if err := s3Error("remove", name, err); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// RemoveAll implements FS: every object below dir (and one named dir), in
// batches of DeleteObjects, and any multipart upload left below it by a
// writer that died.
func (s *S3) RemoveAll(ctx context.Context, dir string) error {
	bucket, key, err := s.parse(dir)
	if err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("%w: %s: refusing to empty a whole bucket", ErrBadName, dir)
	}
	batch := []types.ObjectIdentifier{{Key: aws.String(key)}}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		cctx, cancel := s.call(ctx)
		out, err := s.client.DeleteObjects(cctx, &s3.DeleteObjectsInput{Bucket: &bucket,
			Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)}})
		cancel()
		batch = batch[:0]
		if err != nil {
			return s3Error("remove", dir, err)
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) != "NoSuchKey" {
				return fmt.Errorf("s3 remove %s: %s: %s", s3Name(bucket, aws.ToString(e.Key)), aws.ToString(e.Code), aws.ToString(e.Message))
			}
		}
		return nil
	}
	err = s.listKeys(ctx, dir, bucket, dirPrefix(key), func(o types.Object) error {
		batch = append(batch, types.ObjectIdentifier{Key: o.Key})
		if len(batch) == 1000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return s.abortUploads(ctx, dir, bucket, dirPrefix(key))
}

func (s *S3) abortUploads(ctx context.Context, dir, bucket, prefix string) error {
	cctx, cancel := s.call(ctx)
	out, err := s.client.ListMultipartUploads(cctx, &s3.ListMultipartUploadsInput{Bucket: &bucket, Prefix: &prefix})
	cancel()
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload" {
		return nil // how some S3-compatible stores say "none"
	}
	if err != nil {
		return s3Error("remove", dir, err)
	}
	for _, u := range out.Uploads {
		cctx, cancel := s.call(ctx)
		_, err := s.client.AbortMultipartUpload(cctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
		cancel()
		if err != nil {
			if err := s3Error("remove", s3Name(bucket, aws.ToString(u.Key)), err); !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// MkdirAll implements FS: object stores have no directories. The bucket
// must exist; it is not created.
func (s *S3) MkdirAll(_ context.Context, dir string) error {
	_, _, err := s.parse(dir)
	return err
}
