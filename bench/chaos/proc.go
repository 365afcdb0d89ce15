package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// errNotRunning is returned by signals to a process that has exited.
var errNotRunning = errors.New("process is not running")

// process is one superstep coordinator or worker. It can be killed and
// started again with the same arguments (the same ports and data dir).
type process struct {
	name   string // "coordinator", "worker-1"
	bin    string
	args   []string
	env    []string
	prefix string // the stdout line that announces readiness
	log    string // stderr of every incarnation is appended here

	mu      sync.Mutex // guards the fields below
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has been waited for
	stopped bool          // SIGSTOPped and not yet continued
	held    bool          // killed by a fault that restarts it itself
	starts  int
	line    string // the readiness line of the current incarnation
}

// id is the second field of the readiness line ("worker ID serving on
// ADDR"): a worker's ID, fresh for each incarnation.
func (p *process) id() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f := strings.Fields(p.line); len(f) > 1 {
		return f[1]
	}
	return ""
}

// start runs the process and waits up to a minute for its readiness line.
func (p *process) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			return nil // running
		}
	}
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "--- %s start %d at %s\n", p.name, p.starts+1, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	done := make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if !found && strings.HasPrefix(sc.Text(), p.prefix) {
				found = true
				ready <- sc.Text()
			}
		}
		io.Copy(io.Discard, out)
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	p.cmd, p.done, p.stopped, p.held = cmd, done, false, false
	p.starts++
	select {
	case p.line = <-ready:
		return nil
	case <-done:
		return fmt.Errorf("%s exited before printing %q (log: %s)", p.name, p.prefix, p.log)
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s did not print %q within a minute (log: %s)", p.name, p.prefix, p.log)
	}
}

// running returns the live command, or nil.
func (p *process) runningLocked() *exec.Cmd {
	if p.cmd == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil
	default:
		return p.cmd
	}
}

// kill sends SIGKILL and waits for the exit; the supervisor leaves the
// process down until start.
func (p *process) kill() error {
	p.mu.Lock()
	cmd, done := p.runningLocked(), p.done
	p.stopped, p.held = false, true
	p.mu.Unlock()
	if cmd == nil {
		return errNotRunning
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-done
	return nil
}

// pause sends SIGSTOP; resume sends SIGCONT.
func (p *process) pause() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := p.runningLocked()
	if cmd == nil {
		return errNotRunning
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	p.stopped = true
	return nil
}

func (p *process) resume() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := p.runningLocked()
	if cmd == nil {
		return errNotRunning
	}
	p.stopped = false
	return cmd.Process.Signal(syscall.SIGCONT)
}

// heal continues a stopped process and starts one that is not running.
func (p *process) heal() error {
	p.mu.Lock()
	stopped := p.stopped
	p.mu.Unlock()
	if stopped {
		p.resume()
	}
	return p.start()
}

// stop sends SIGTERM and waits up to grace for the exit, then SIGKILLs. It
// reports whether the process exited by itself.
func (p *process) stop(grace time.Duration) bool {
	p.mu.Lock()
	cmd, done := p.runningLocked(), p.done
	p.mu.Unlock()
	if cmd == nil {
		return true
	}
	cmd.Process.Signal(syscall.SIGCONT)
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return true
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
		return false
	}
}

// exited reports whether the process ended by itself (not held down by a
// fault) and should be started again.
func (p *process) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !p.held && p.runningLocked() == nil
}
