package pgstore_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// proxy forwards connections to the test database message by message, so
// that a test can watch the protocol and break connections at exact points
// of it: after a statement was sent, before or after COMMIT reached the
// server. It serves until the test ends.
type proxy struct {
	ln      net.Listener
	network string // of the database
	addr    string
	url     string // a connection string through the proxy
	wg      sync.WaitGroup
	mu      sync.Mutex // guards hook, refuse and conns
	hook    func(m *message) action
	refuse  bool
	conns   map[*proxyConn]struct{}
}

// message is one protocol message crossing the proxy.
type message struct {
	conn       *proxyConn
	fromClient bool
	typ        byte // 0 for the client's startup message
	body       []byte
}

// action is what the proxy does with a message.
type action int

const (
	forward action = iota
	cut            // close both sides without forwarding the message
)

// proxyConn is one client connection and its connection to the database.
type proxyConn struct {
	client, server net.Conn
	mu             sync.Mutex // guards pid
	pid            uint32     // the server process, from BackendKeyData
	closeOnce      sync.Once
}

func (c *proxyConn) close() {
	c.closeOnce.Do(func() {
		c.client.Close()
		c.server.Close()
	})
}

// PID returns the server process of the connection, once the server named
// it.
func (c *proxyConn) PID() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pid
}

// newProxy starts a proxy to the test database, closed when t ends.
func newProxy(t *testing.T) *proxy {
	t.Helper()
	cfg, err := pgconn.ParseConfig(pgURL(t))
	if err != nil {
		t.Fatalf("pgconn.ParseConfig = %v", err)
	}
	p := &proxy{conns: map[*proxyConn]struct{}{}}
	p.network, p.addr = "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if filepath.IsAbs(cfg.Host) {
		p.network, p.addr = "unix", filepath.Join(cfg.Host, fmt.Sprintf(".s.PGSQL.%d", cfg.Port))
	}
	p.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	host, port, _ := net.SplitHostPort(p.ln.Addr().String())
	p.url = fmt.Sprintf("host=%s port=%s user=%s dbname=%s password='%s' sslmode=disable",
		host, port, cfg.User, cfg.Database, cfg.Password)
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// setHook makes the proxy ask h what to do with every message; nil
// forwards everything. h runs on the goroutine that copies the message's
// direction of its connection: while it blocks, so does that direction.
func (p *proxy) setHook(h func(m *message) action) {
	p.mu.Lock()
	p.hook = h
	p.mu.Unlock()
}

// setRefuse makes the proxy close new connections at once (the database is
// unreachable) or serve them again; refusing also breaks every open one.
func (p *proxy) setRefuse(refuse bool) {
	p.mu.Lock()
	p.refuse = refuse
	var open []*proxyConn
	if refuse {
		for c := range p.conns {
			open = append(open, c)
		}
	}
	p.mu.Unlock()
	for _, c := range open {
		c.close()
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.mu.Unlock()
		if refuse {
			client.Close()
			continue
		}
		server, err := net.Dial(p.network, p.addr)
		if err != nil {
			client.Close()
			continue
		}
		c := &proxyConn{client: client, server: server}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(c, true)
		go p.pump(c, false)
	}
}

// pump copies one direction of c a message at a time until either side
// closes, then closes both.
func (p *proxy) pump(c *proxyConn, fromClient bool) {
	defer p.wg.Done()
	defer func() {
		c.close()
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	src, dst := c.server, c.client
	if fromClient {
		src, dst = c.client, c.server
	}
	startup := fromClient // the client's first message has no type byte
	for {
		m, raw, err := readMessage(src, startup)
		if err != nil {
			return
		}
		startup = false
		m.conn, m.fromClient = c, fromClient
		if !fromClient && m.typ == 'K' && len(m.body) >= 4 {
			c.mu.Lock()
			c.pid = binary.BigEndian.Uint32(m.body)
			c.mu.Unlock()
		}
		p.mu.Lock()
		hook := p.hook
		p.mu.Unlock()
		if hook != nil && hook(m) == cut {
			return
		}
		if _, err := dst.Write(raw); err != nil {
			return
		}
	}
}

// readMessage reads one protocol message and returns it with its bytes.
func readMessage(r io.Reader, startup bool) (*message, []byte, error) {
	head := 5
	if startup {
		head = 4
	}
	raw := make([]byte, head, 256)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, nil, err
	}
	m := &message{}
	n := binary.BigEndian.Uint32(raw[head-4:])
	if !startup {
		m.typ = raw[0]
	}
	if n < 4 || n > 1<<30 {
		return nil, nil, fmt.Errorf("message length %d", n)
	}
	raw = append(raw, make([]byte, n-4)...)
	if _, err := io.ReadFull(r, raw[head:]); err != nil {
		return nil, nil, err
	}
	m.body = raw[head:]
	return m, raw, nil
}
