package servertest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// TCPProxy forwards TCP connections to a target, standing in for a database
// server that goes away and comes back. Down is a stopped server: connections
// in place are closed and new ones refused. Stall is a network partition:
// connections stay open and new ones are accepted, but nothing gets through,
// so only timeouts end a wait.
type TCPProxy struct {
	addr, target string

	mu      sync.Mutex
	ln      net.Listener
	conns   map[net.Conn]struct{}
	stalled bool
}

// StartTCPProxy listens on a free local port and forwards to target
// (host:port). It is shut down when the test ends.
func StartTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &TCPProxy{addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	go p.accept(ln)
	t.Cleanup(p.Down)
	return p
}

// ProxyDatabaseURL starts a TCPProxy to the host of the PostgreSQL URL dbURL
// and returns the URL rewritten to go through it.
func ProxyDatabaseURL(t testing.TB, dbURL string) (string, *TCPProxy) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	p := StartTCPProxy(t, u.Host)
	u.Host = p.addr
	return u.String(), p
}

// Addr is the proxy's host:port.
func (p *TCPProxy) Addr() string { return p.addr }

func (p *TCPProxy) accept(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if p.isStalled() {
			p.track(ln, c, nil)
			go p.pipe(io.Discard, c)
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		if !p.track(ln, c, up) {
			return
		}
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// track registers a connection pair (up is nil while stalled) so Down and
// Up can close it. Down may have run since Accept returned on ln; a
// connection it did not see must not outlive it, so then both are closed
// and track reports false.
func (p *TCPProxy) track(ln net.Listener, c, up net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != ln {
		_ = c.Close()
		if up != nil {
			_ = up.Close()
		}
		return false
	}
	p.conns[c] = struct{}{}
	if up != nil {
		p.conns[up] = struct{}{}
	}
	return true
}

func (p *TCPProxy) isStalled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalled
}

// pipe copies src to dst until either fails, dropping what arrives while
// the proxy is stalled, then closes both.
func (p *TCPProxy) pipe(dst io.Writer, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.isStalled() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, src)
	if c, ok := dst.(net.Conn); ok {
		_ = c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
}

// Down stops accepting and closes every forwarded connection. Calling it
// while down does nothing.
func (p *TCPProxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.closeAll()
	p.stalled = false
}

// Stall stops anything from getting through, in either direction, without
// closing a connection.
func (p *TCPProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
}

// Up forwards again: after Down it listens again on the same address; after
// Stall it closes every connection, whose byte streams have gaps now, as
// the peers' TCP timeouts eventually would after a partition.
func (p *TCPProxy) Up(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		p.stalled = false
		p.closeAll()
	}
	if p.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.ln = ln
	go p.accept(ln)
}

// closeAll closes every connection; p.mu must be held.
func (p *TCPProxy) closeAll() {
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}
