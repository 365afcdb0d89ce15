package redirect

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/superstep/superstep/api/superstep/v1"
	"github.com/superstep/superstep/internal/testwait"
)

func TestErrorRoundTrip(t *testing.T) {
	err := Error("c2", "127.0.0.1:7071")
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("code %v", status.Code(err))
	}
	if addr, ok := Leader(err); !ok || addr != "127.0.0.1:7071" {
		t.Fatalf("Leader: %q %v", addr, ok)
	}
	if addr, ok := Leader(Error("", "")); !ok || addr != "" {
		t.Fatalf("no leader: %q %v", addr, ok)
	}
	// A plain Unavailable (a dead server) is not a redirect, nor is any
	// other error, nor a redirect naming something that is not host:port.
	for _, e := range []error{status.Error(codes.Unavailable, "connection refused"), errors.New("x"),
		status.Error(codes.NotFound, "no job")} {
		if _, ok := Leader(e); ok {
			t.Fatalf("%v read as a redirect", e)
		}
	}
	if addr, ok := Leader(Error("c2", "not an address")); !ok || addr != "" {
		t.Fatalf("bad address accepted: %q", addr)
	}
}

func TestParseAddrs(t *testing.T) {
	got, err := ParseAddrs(" 127.0.0.1:1,127.0.0.1:2 ,127.0.0.1:1")
	if err != nil || len(got) != 2 || got[0] != "127.0.0.1:1" || got[1] != "127.0.0.1:2" {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"", "127.0.0.1", "a,,b", ":7070", "127.0.0.1:1,"} {
		if _, err := ParseAddrs(bad); !errors.Is(err, ErrBadAddrs) {
			t.Errorf("ParseAddrs(%q): %v", bad, err)
		}
	}
}

// fakeCoord answers ListWorkers as a leader (one worker, named by it) or
// as a follower (a redirect to leader).
type fakeCoord struct {
	pb.UnimplementedCoordinatorServer
	name   string
	leader atomic.Pointer[string] // nil: leads; "": no leader known
	calls  atomic.Int32
}

func (f *fakeCoord) ListWorkers(context.Context, *pb.ListWorkersRequest) (*pb.ListWorkersResponse, error) {
	f.calls.Add(1)
	if l := f.leader.Load(); l != nil {
		return nil, Error("other", *l)
	}
	return &pb.ListWorkersResponse{Workers: []*pb.WorkerStatus{{WorkerId: f.name}}}, nil
}

func serve(t *testing.T, f *fakeCoord) (addr string, stop func()) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	pb.RegisterCoordinatorServer(s, f)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String(), s.Stop
}

func TestConnFollowsTheLeader(t *testing.T) {
	a, b := &fakeCoord{name: "a"}, &fakeCoord{name: "b"}
	addrA, stopA := serve(t, a)
	addrB, _ := serve(t, b)
	// a leads; b redirects to a.
	b.leader.Store(&addrA)
	c, err := Dial([]string{addrB, addrA}, Options{RetryFor: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc := pb.NewCoordinatorClient(c)
	ctx := context.Background()
	who := func() string {
		t.Helper()
		resp, err := cc.ListWorkers(ctx, &pb.ListWorkersRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetWorkers()[0].GetWorkerId()
	}
	if got := who(); got != "a" || b.calls.Load() != 1 {
		t.Fatalf("answered by %s after %d calls to b", got, b.calls.Load())
	}
	// Later calls go straight to the leader.
	who()
	if b.calls.Load() != 1 || a.calls.Load() != 2 {
		t.Fatalf("calls: a %d, b %d", a.calls.Load(), b.calls.Load())
	}
	// a dies; b has no leader for a while, then leads: the call rides it
	// out.
	stopA()
	empty := ""
	b.leader.Store(&empty)
	changed := c.LeaderChanged()
	// b leads once the call has been told "no leader" twice, so that it
	// must have retried.
	before := b.calls.Load()
	ready := make(chan struct{})
	go func() {
		defer close(ready)
		testwait.Until(10*time.Second, func() bool { return b.calls.Load() >= before+2 })
		b.leader.Store(nil)
	}()
	defer func() { <-ready }()
	if got := who(); got != "b" {
		t.Fatalf("answered by %s", got)
	}
	select {
	case <-changed:
	default:
		t.Fatal("LeaderChanged not closed")
	}
	// Nothing answers: the call gives up after RetryFor with Unavailable.
	c2, _ := Dial([]string{addrA}, Options{RetryFor: 300 * time.Millisecond})
	defer c2.Close()
	start := time.Now()
	_, err = pb.NewCoordinatorClient(c2).ListWorkers(ctx, &pb.ListWorkersRequest{})
	if status.Code(err) != codes.Unavailable || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("dead coordinator: %v after %v", err, time.Since(start))
	}
}
