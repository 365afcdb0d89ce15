// Package storage is the filesystem every input, output, checkpoint and
// cached dataset of a job goes through, and the output-commit contract on
// top of it.
//
// An FS names files by strings: plain paths for the local (or shared POSIX)
// filesystem, s3://bucket/key URLs for object storage. For picks the FS that
// serves a name. Three implementations exist: Local, S3 (see s3.go) and
// Injector, which wraps another FS and fails chosen operations, for tests.
//
// The commit contract (commit.go) is the one place that decides when a
// job's output is whole: every part is verified at its destination
// (existence and size) before _SUCCESS, which holds the manifest of the
// parts, is written last. Readers trust a directory only when its _SUCCESS
// is present.
package storage
