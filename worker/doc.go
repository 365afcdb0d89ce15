// Package worker is a Superstep worker process: it registers with the
// coordinator, heartbeats, runs the tasks it is assigned through
// bsp.Program.RunTask (the same task code as the in-process executor),
// serves the shuffle files it wrote to other workers over FetchPartition,
// keeps the vertex partitions of Pregel stages in memory between supersteps
// (bsp.ResidentStore), and deletes a job's files and partitions when told.
package worker
