package invoke

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"

	"github.com/outrigger/outrigger/internal/rawsock"
)

// localSockets: Linux has the abstract namespace (see peerlocal.go).
const localSockets = true

// ListenLocal opens the sidecar's local socket for the peer protocol and
// returns it with the name to advertise in the hello answer.
func ListenLocal() (net.Listener, string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	name := localSocketPrefix + hex.EncodeToString(b[:])
	ln, err := net.Listen("unix", localSocketAddress(name))
	if err != nil {
		return nil, "", fmt.Errorf("peer protocol: listening on a local socket: %w", err)
	}
	return rawsock.Listener{Listener: ln}, name, nil
}
