package raftnode

import (
	"io"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// netAddr is an advertised address given as a string.
type netAddr struct{ addr string }

func (a *netAddr) Network() string { return "tcp" }
func (a *netAddr) String() string  { return a.addr }

// newTCPTransport listens for raft peers on bind.
func newTCPTransport(bind string, advertise *netAddr, logOut io.Writer) (*raft.NetworkTransport, error) {
	var adv net.Addr
	if advertise != nil {
		tcp, err := net.ResolveTCPAddr("tcp", advertise.addr)
		if err != nil {
			return nil, err
		}
		adv = tcp
	}
	return raft.NewTCPTransport(bind, adv, 3, 10*time.Second, logOut)
}
