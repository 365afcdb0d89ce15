// Package webload is the load the web-index benchmarks put on an index:
// the corpus figures (compressed and HTML bytes, pages), the queries
// (drawn from the documents' titles with a fixed seed) and the per-query
// latency of a search function. The bench harness, its BenchmarkSearch and
// the Bleve comparison (bench/bleve) share it, so that all three ask the
// same questions of the same corpus.
package webload
