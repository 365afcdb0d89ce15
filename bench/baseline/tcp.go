package baseline

import (
	"io"
	"net"
)

// TCPCopy sends payload over one loopback TCP connection (a goroutine
// writes, the caller reads into io.Discard) and returns the number of bytes
// received: the raw transport a shuffle is measured against.
func TCPCopy(payload []byte) (int64, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer lis.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := lis.Accept()
		if err != nil {
			errc <- err
			return
		}
		_, err = c.Write(payload)
		c.Close()
		errc <- err
	}()
	c, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, c)
	c.Close()
	if werr := <-errc; err == nil {
		err = werr
	}
	return n, err
}
