// Package faults is the test-only fault hook: it makes chosen task attempts
// slow, so that tests and the chaos harness (bench/chaos) can produce a
// straggler on a real worker process.
//
// The hook is compiled in only under the build tag "faults"
// (go build -tags faults). Without the tag, BeforeTask is an empty function
// that the compiler inlines away and Enabled is false: a production binary
// carries no fault code and reads no fault configuration.
//
// With the tag, a process reads its rules from the file named by the
// environment variable SUPERSTEP_FAULTS_FILE at every task start (a missing
// file means no rules), so a harness can switch faults on and off while a
// worker runs. Tests in the same process can install rules with Set.
//
// A rules file holds one rule a line (see ParseRules); for example
//
//	slow stage=1 task=2 attempt=0 delay=10s
//
// makes the first attempt of task 2 of stage 1 wait 10 s (or until its
// context ends) before it starts.
package faults

// EnvFile names the environment variable that holds the rules file's path.
const EnvFile = "SUPERSTEP_FAULTS_FILE"

// LogPrefix starts the line the hook writes to stderr each time it delays
// an attempt.
const LogPrefix = "faults: delaying"

// Task identifies a task attempt about to start.
type Task struct {
	Worker  string // the worker's ID
	Job     string
	Stage   int
	Task    int // the partition
	Attempt int
}
