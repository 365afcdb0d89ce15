package faults

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrBadRule is matched by every error about a malformed rule.
var ErrBadRule = errors.New("faults: bad rule")

// Rule delays the task attempts it matches. A negative field (or an empty
// Worker or Job) matches anything.
type Rule struct {
	Worker  string
	Job     string
	Stage   int
	Task    int
	Attempt int
	Delay   time.Duration
}

// AnyRule returns a rule that matches every attempt, with no delay; set the
// fields to narrow it.
func AnyRule() Rule { return Rule{Stage: -1, Task: -1, Attempt: -1} }

// Matches reports whether r applies to t.
func (r Rule) Matches(t Task) bool {
	return (r.Worker == "" || r.Worker == t.Worker) && (r.Job == "" || r.Job == t.Job) &&
		(r.Stage < 0 || r.Stage == t.Stage) && (r.Task < 0 || r.Task == t.Task) &&
		(r.Attempt < 0 || r.Attempt == t.Attempt)
}

// String is the rule's line in a rules file; ParseRules reads it back.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString("slow")
	if r.Worker != "" {
		fmt.Fprintf(&b, " worker=%s", r.Worker)
	}
	if r.Job != "" {
		fmt.Fprintf(&b, " job=%s", r.Job)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"stage", r.Stage}, {"task", r.Task}, {"attempt", r.Attempt}} {
		if f.v >= 0 {
			fmt.Fprintf(&b, " %s=%d", f.name, f.v)
		}
	}
	fmt.Fprintf(&b, " delay=%s", r.Delay)
	return b.String()
}

// FormatRules is the text of a rules file holding rules.
func FormatRules(rules []Rule) string {
	var b strings.Builder
	for _, r := range rules {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ParseRules reads a rules file: one rule a line, "slow" followed by
// key=value fields (worker, job, stage, task, attempt, delay); blank lines
// and lines starting with '#' are skipped. A field left out matches
// anything; delay is required. An error names the line and matches
// ErrBadRule.
func ParseRules(text string) ([]Rule, error) {
	var rules []Rule
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r, err := parseRule(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadRule, i+1, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseRule(line string) (Rule, error) {
	f := strings.Fields(line)
	if f[0] != "slow" {
		return Rule{}, fmt.Errorf("unknown fault %q (want slow)", f[0])
	}
	r, delay := AnyRule(), false
	for _, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return Rule{}, fmt.Errorf("field %q is not key=value", kv)
		}
		var err error
		switch k {
		case "worker":
			r.Worker = v
		case "job":
			r.Job = v
		case "stage":
			r.Stage, err = nonNegative(v)
		case "task":
			r.Task, err = nonNegative(v)
		case "attempt":
			r.Attempt, err = nonNegative(v)
		case "delay":
			r.Delay, err = time.ParseDuration(v)
			if err == nil && r.Delay < 0 {
				err = errors.New("negative")
			}
			delay = true
		default:
			return Rule{}, fmt.Errorf("unknown field %q", k)
		}
		if err != nil {
			return Rule{}, fmt.Errorf("%s: %v", k, err)
		}
	}
	if !delay {
		return Rule{}, errors.New("delay is required")
	}
	return r, nil
}

func nonNegative(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err == nil && n < 0 {
		err = errors.New("negative")
	}
	return n, err
}

// delayFor is the longest delay of the rules that match t.
func delayFor(rules []Rule, t Task) time.Duration {
	var d time.Duration
	for _, r := range rules {
		if r.Matches(t) && r.Delay > d {
			d = r.Delay
		}
	}
	return d
}
