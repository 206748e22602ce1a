package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// messageVersion is the format of internal messages; a sidecar drops
// messages of a format it does not know rather than guessing.
const messageVersion = 1

// message is what goes to the internal topic before a transaction commits:
// everything needed to publish the transaction's events later, from any
// sidecar of the app, without the original request.
type message struct {
	Version int    `json:"v"`
	TxID    string `json:"txid"`
	Store   string `json:"store"`
	// Marker is the state key upserted in the transaction; it exists once
	// (and only if) the transaction committed.
	Marker string `json:"marker"`
	// MarkerMetadata is the request metadata the marker was written with
	// (e.g. a partitionKey), needed to read and delete it.
	MarkerMetadata map[string]string `json:"markerMetadata,omitempty"`
	Created        time.Time         `json:"created"`
	// Events are the CloudEvents to publish, built before the commit so a
	// redelivered message publishes identical events (same ids).
	Events []json.RawMessage `json:"events"`
}

func (m *message) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode outbox message: %w", err)
	}
	return b, nil
}

func decodeMessage(data []byte) (*message, error) {
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode outbox message: %w", err)
	}
	if m.Version != messageVersion {
		return nil, fmt.Errorf("decode outbox message: unknown format version %d", m.Version)
	}
	if m.TxID == "" || m.Store == "" || m.Marker == "" {
		return nil, errors.New("decode outbox message: txid, store or marker missing")
	}
	return &m, nil
}
