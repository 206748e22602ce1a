// Package bindings is the bindings building block: the contracts of input
// and output binding components, and the implementations in subpackages.
package bindings

import (
	"context"

	"github.com/outrigger/outrigger/internal/registry"
)

// Registries of the binding constructors linked into the binary. A type
// that works both ways registers in both.
var (
	Outputs = registry.New[Output]("bindings")
	Inputs  = registry.New[Input]("bindings")
)

// Metadata initialises a binding: component name and its metadata.
type Metadata struct {
	Name       string
	Properties map[string]string
}

// InvokeRequest is one output binding call.
type InvokeRequest struct {
	Operation string
	Data      []byte
	Metadata  map[string]string
}

// InvokeResponse is the component's answer; nil means "no response"
// (HTTP 204).
type InvokeResponse struct {
	Data        []byte
	Metadata    map[string]string
	ContentType string
}

// Output calls an outside system.
type Output interface {
	Init(ctx context.Context, md Metadata) error
	// Operations lists the supported operations ("create", "get", ...).
	Operations() []string
	Invoke(ctx context.Context, req *InvokeRequest) (*InvokeResponse, error)
	Close() error
}

// Event is one input binding event for the app.
type Event struct {
	Data        []byte
	Metadata    map[string]string
	ContentType string
}

// EventHandler delivers an event to the app; an error means the app did
// not accept it and the binding should retry or redeliver where it can.
type EventHandler func(ctx context.Context, ev *Event) ([]byte, error)

// Input receives events from an outside system.
type Input interface {
	Init(ctx context.Context, md Metadata) error
	// Read delivers events to handler until ctx is cancelled; it returns
	// once reading has started.
	Read(ctx context.Context, handler EventHandler) error
	Close() error
}
