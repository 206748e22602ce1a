package invoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/outrigger/outrigger/internal/api/apierr"
	"github.com/outrigger/outrigger/internal/appchannel"
	"github.com/outrigger/outrigger/internal/h1client"
	"github.com/outrigger/outrigger/internal/rawsock"
)

// Whether a peer speaks the peer protocol, as far as this sidecar knows.
const (
	peerUnknown int32 = iota
	peerProbing
	peerYes
	peerNo
)

// peerSupport is what the hello call found out about one peer address:
// whether it speaks the peer protocol, and the URL to call it by (its
// address, or its local socket), set before state turns peerYes.
type peerSupport struct {
	state atomic.Int32
	url   atomic.Pointer[string]
}

// speaks records that the peer speaks the protocol at host (host:port or
// a local socket's URL host).
func (p *peerSupport) speaks(host string) {
	url := "http://" + host + peerPath
	p.url.Store(&url)
	p.state.Store(peerYes)
}

// Timings of the hello call: how long one may take, and how long to wait
// before asking again after a failure other than a refusal (peerLacksMethod).
const (
	peerHelloTimeout = 5 * time.Second
	peerHelloRetry   = 5 * time.Second
)

// speaksPeer reports whether calls to c may use the peer protocol. The
// first time it asks the peer in the background; calls go over gRPC
// until the answer is in.
func (i *Invoker) speaksPeer(c *pooledConn) bool {
	if i.peerClient == nil {
		return false
	}
	switch c.peer.state.Load() {
	case peerYes:
		return true
	case peerUnknown:
		if c.peer.state.CompareAndSwap(peerUnknown, peerProbing) && i.trackGoroutine() {
			go i.askPeer(c)
		}
	}
	return false
}

// grpcConn is the connection for gRPC calls to c's peer: over its local
// socket once the hello found one (and the first time, the hello is asked).
func (i *Invoker) grpcConn(c *pooledConn) *grpc.ClientConn {
	i.speaksPeer(c)
	return c.grpcConn()
}

// askPeer makes the hello call and records the answer.
func (i *Invoker) askPeer(c *pooledConn) {
	defer i.background.Done()
	ctx, cancel := context.WithTimeout(context.Background(), peerHelloTimeout)
	defer cancel()
	answer := &wrapperspb.StringValue{}
	err := c.conn.Invoke(ctx, peerHelloMethod, &emptypb.Empty{}, answer, grpc.WaitForReady(true))
	switch {
	case err == nil:
		name := answer.GetValue()
		host, local := reachableLocal(ctx, name)
		if !local {
			host, name = c.addr, ""
		}
		i.conns.useLocal(c, name, host)
		c.peer.speaks(host)
		i.log.Debug("service invocation: the peer speaks Outrigger's peer protocol", "address", c.addr, "localSocket", local)
	case peerLacksMethod(err):
		i.conns.useLocal(c, "", "")
		c.peer.state.Store(peerNo)
	default:
		time.AfterFunc(peerHelloRetry, func() { c.peer.state.CompareAndSwap(peerProbing, peerUnknown) })
	}
}

// newPeerClient sends peer-protocol calls (through h1client.Do): sized
// calls up to a chunk of body on the calling goroutine (h1client),
// streamed ones through net/http. Redirects are not followed: a peer
// never sends one, and the caller would see it as a protocol error.
func newPeerClient(conns *connPool) http.RoundTripper {
	fallback := &http.Transport{
		DialContext:         rawsock.Dialer(conns.dialPeer),
		MaxIdleConnsPerHost: peerMaxIdle,
		IdleConnTimeout:     peerIdleTimeout,
		DisableCompression:  true,
		Protocols:           new(http.Protocols),
	}
	fallback.Protocols.SetHTTP1(true)
	return &h1client.Transport{
		Fallback:       fallback,
		Dial:           fallback.DialContext,
		MaxInlineBody:  smallBody + peerHeadLimit,
		MaxIdlePerHost: peerMaxIdle,
		IdleTimeout:    peerIdleTimeout,
	}
}

// Keep-alive connections kept to each peer, and for how long. The callee
// keeps idle connections longer (PeerServerIdleTimeout), so it is the
// caller that closes them.
const (
	peerMaxIdle     = 256
	peerIdleTimeout = 90 * time.Second
	// PeerServerIdleTimeout is how long the callee keeps an idle
	// peer-protocol connection.
	PeerServerIdleTimeout = 3 * time.Minute
)

// errPeerUnreachable: the peer's port refused the connection, so nothing
// was sent and the call may go the gRPC way, with its retries.
var errPeerUnreachable = errors.New("peer unreachable")

// invokePeer makes a call over the peer protocol. On errPeerUnreachable
// it returns the body to send instead of src.
func (i *Invoker) invokePeer(ctx context.Context, id string, pc *pooledConn, msg *internalsv1.InternalInvokeRequest, src io.Reader) (*appchannel.Response, io.Reader, error) {
	head := (&requestStreamOut{m: &internalsv1.InternalInvokeRequestStream{Request: msg}}).parts()
	body, rest, err := peerRequest(head, src)
	if err != nil {
		return nil, nil, apierr.DirectInvoke(id, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, *pc.peer.url.Load(), body)
	if err != nil {
		return nil, nil, apierr.DirectInvoke(id, err)
	}
	hreq.Header = http.Header{"Content-Type": peerInvokeTypeValue, "User-Agent": noUserAgent}
	if dl, ok := ctx.Deadline(); ok {
		hreq.Header[peerTimeout] = []string{strconv.FormatInt(max(int64(time.Until(dl)), 1), 10)}
	}
	if inject := i.cfg.PeerTracing.Inject; inject != nil {
		inject(ctx, hreq.Header)
	}
	hresp, err := h1client.Do(i.peerClient, hreq)
	if err != nil {
		if ctx.Err() == nil {
			// The peer may have gone, or come back as a sidecar that does not
			// speak the protocol: ask again before the next call uses it.
			pc.peer.state.CompareAndSwap(peerYes, peerUnknown)
		}
		if rest != nil && isDialError(err) {
			return nil, rest(), errPeerUnreachable
		}
		return nil, nil, apierr.DirectInvoke(id, err)
	}
	resp, err := peerResponse(hresp)
	if err != nil {
		return nil, nil, invokeErr(id, err)
	}
	return resp, nil, nil
}

// peerRequest is the request body: head and body in one buffer when the
// body is small, else the head before the streamed body. rest gives the
// body back unread, for a call that never went out (nil once it may have).
func peerRequest(head streamParts, src io.Reader) (body io.Reader, rest func() io.Reader, err error) {
	var data []byte
	streamed := false
	if src != nil {
		bp := getChunk()
		defer putChunk(bp)
		n, err := io.ReadFull(src, *bp)
		switch {
		case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		case err != nil:
			return nil, nil, fmt.Errorf("read request body: %w", err)
		default:
			// A large or unsized body streams; it is not kept for a second try.
			streamed = true
		}
		data = (*bp)[:n]
	}
	whole, err := framedHead(head, len(data))
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the request: %w", err)
	}
	n := len(whole)
	whole = append(whole, data...)
	if streamed {
		return io.MultiReader(bytes.NewReader(whole), src), nil, nil
	}
	return bytes.NewReader(whole), func() io.Reader {
		if len(whole) == n {
			return nil
		}
		return bytes.NewReader(whole[n:])
	}, nil
}

// isDialError reports whether err is a failure to connect.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// peerResponse reads the answer's head; the body follows from hresp.
func peerResponse(hresp *http.Response) (*appchannel.Response, error) {
	switch ct := hresp.Header.Get("Content-Type"); {
	case hresp.StatusCode == http.StatusOK && ct == peerInvokeType:
		head, err := readHead(hresp.Body)
		var r *internalsv1.InternalInvokeResponse
		if err == nil {
			r, err = decodeResponseHead(head)
		}
		if err == nil && r.GetStatus() == nil {
			err = errors.New("the response head carries no status")
		}
		if err != nil {
			hresp.Body.Close()
			return nil, status.Errorf(codes.Internal, "reading the peer's answer: %v", err)
		}
		return &appchannel.Response{Message: r, Body: &peerBody{hresp.Body}}, nil
	case hresp.StatusCode == http.StatusOK && ct == peerStatusType:
		defer hresp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(hresp.Body, peerHeadLimit))
		st := &spb.Status{}
		if err == nil {
			err = proto.Unmarshal(b, st)
		}
		if err != nil {
			return nil, status.Errorf(codes.Internal, "reading the peer's error: %v", err)
		}
		return nil, status.ErrorProto(st)
	default:
		hresp.Body.Close()
		return nil, status.Errorf(codes.Internal, "the peer answered %s (%s) to a peer-protocol call", hresp.Status, ct)
	}
}

// peerBody is the app's response body from the peer; an answer cut short
// reads as io.ErrUnexpectedEOF, never as a clean end.
type peerBody struct{ io.ReadCloser }

func (b *peerBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("reading the peer's answer: %w", noEOF(err))
	}
	return n, err
}
