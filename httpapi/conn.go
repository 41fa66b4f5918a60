package httpapi

import (
	"io"
	"net"
	"strconv"
	"time"
)

// crlfListener makes a request whose header lines end in a bare LF get a 400 at once.
// fasthttp only ends a header block at CRLFCRLF, so such a request would wait for more
// bytes until the read timeout (30 s) and then be answered 408.
type crlfListener struct{ net.Listener }

func (l crlfListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &crlfConn{Conn: c, inHeader: true}, nil
}

// crlfConn watches the bytes of each request's header block as fasthttp reads them: from
// the start of the connection, and again after each response (nextRequest). The body is
// never looked at. A request pipelined behind another may be read before nextRequest and
// is not checked; it then gets fasthttp's own handling.
type crlfConn struct {
	net.Conn
	inHeader bool
	window   uint32 // the last four header bytes read
	rejected bool
}

const crlfcrlf = '\r'<<24 | '\n'<<16 | '\r'<<8 | '\n'

func (c *crlfConn) Read(p []byte) (int, error) {
	if c.rejected {
		return 0, io.EOF
	}
	n, err := c.Conn.Read(p)
	if c.inHeader && c.bareLF(p[:n]) {
		c.reject()
		return 0, io.EOF
	}
	return n, err
}

// bareLF scans header bytes until the end of the block, and reports a LF not after a CR.
func (c *crlfConn) bareLF(b []byte) bool {
	for _, ch := range b {
		if ch == '\n' && byte(c.window) != '\r' {
			return true
		}
		c.window = c.window<<8 | uint32(ch)
		if c.window == crlfcrlf {
			c.inHeader = false
			return false
		}
	}
	return false
}

// nextRequest starts watching the next request's header block.
func (c *crlfConn) nextRequest() { c.inHeader, c.window = true, 0 }

var bareLFResponse = func() []byte {
	body := `{"error":"INVALID_REQUEST","message":"header lines must end with CRLF"}`
	return []byte("HTTP/1.1 400 Bad Request\r\nServer: fulcrum\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\nConnection: close\r\n\r\n" + body)
}()

// reject answers 400 and ends the connection: fasthttp then sees the end of its input, and
// whatever it would write is dropped.
func (c *crlfConn) reject() {
	c.rejected = true
	_ = c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Conn.Write(bareLFResponse)
}

func (c *crlfConn) Write(p []byte) (int, error) {
	if c.rejected {
		return len(p), nil
	}
	return c.Conn.Write(p)
}
