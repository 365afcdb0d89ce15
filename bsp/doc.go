// Package bsp is Superstep's user API: typed datasets over Arrow, the
// operators that transform them, the sources and sinks that read and write
// them, job registration, and the compiler that cuts a plan into supersteps.
//
// A job is Go code registered at init time:
//
//	var WordCount = bsp.Register("wordcount", build, bsp.WithFlags(flags))
//
// build receives a *Plan and the job's parsed flags and constructs datasets
// with the typed operators (Map, FlatMap, ReduceByKey, SortBy, ...). Plans are
// deterministic functions of their arguments, so every process of a cluster can
// rebuild the identical plan from the job name and its encoded arguments; what
// travels between processes is the compiled Spec, which is plain data.
//
// Narrow operators (Map, FlatMap, Filter, MapBatches) are fused into one pass
// over each partition. Wide operators (ReduceByKey, CombineByKey, GroupByKey,
// FlatMapGroups, Join, LeftJoin, SortBy, Sort, Distinct, Repartition, Union,
// Count) end a superstep: their input is written to shuffle files and read back,
// partitioned by key, by the next superstep.
//
// Execution is done by an Executor (see package bsp/local for the in-process
// one); every executor runs tasks through Program.RunTask, so the task code is
// the same whether it runs in a test, in `superstep run` or on a cluster.
package bsp
