// Package apierr is the one place that turns failures into Dapr's error
// contract: an error code, an HTTP status and JSON body, and a gRPC status
// with google.rpc details. Handlers never invent codes inline; they call the
// constructors in catalog.go.
package apierr

import (
	"encoding/json"
	"errors"
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// Domain is the ErrorInfo domain Dapr uses.
const Domain = "dapr.io"

// Error is a Dapr API error.
type Error struct {
	Code       string // errorCode in the HTTP body
	HTTPStatus int
	GRPCCode   codes.Code
	Message    string

	// Reason, when set, adds an ErrorInfo detail (a "rich" error).
	Reason string
	// Metadata is the ErrorInfo metadata. NullMetadata renders it as null.
	Metadata     map[string]string
	NullMetadata bool
	// GRPCOnlyDetails keeps the HTTP body in the legacy two-field form while
	// gRPC still carries the ErrorInfo (as Dapr does for ERR_STATE_SAVE etc.).
	GRPCOnlyDetails bool

	Resource        *Resource
	FieldViolations []FieldViolation
	HelpLinks       []HelpLink
}

// Resource is a google.rpc.ResourceInfo.
type Resource struct {
	Type, Name, Owner, Description string
}

// FieldViolation is one google.rpc.BadRequest violation.
type FieldViolation struct{ Field, Description string }

// HelpLink is one google.rpc.Help link.
type HelpLink struct{ Description, URL string }

func (e *Error) Error() string { return e.Message }

// rich reports whether the error carries google.rpc details.
func (e *Error) rich() bool { return e.Reason != "" }

// GRPCStatus implements the interface grpc-go uses to build a status.
func (e *Error) GRPCStatus() *status.Status {
	st := status.New(e.GRPCCode, e.Message)
	if !e.rich() {
		return st
	}
	var details []protoadapt.MessageV1
	if len(e.FieldViolations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range e.FieldViolations {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
		}
		details = append(details, br)
	}
	if len(e.HelpLinks) > 0 {
		h := &errdetails.Help{}
		for _, l := range e.HelpLinks {
			h.Links = append(h.Links, &errdetails.Help_Link{Description: l.Description, Url: l.URL})
		}
		details = append(details, h)
	}
	if e.Resource != nil {
		details = append(details, &errdetails.ResourceInfo{ResourceType: e.Resource.Type, ResourceName: e.Resource.Name, Owner: e.Resource.Owner, Description: e.Resource.Description})
	}
	details = append(details, &errdetails.ErrorInfo{Reason: e.Reason, Domain: Domain, Metadata: e.Metadata})
	withDetails, err := st.WithDetails(details...)
	if err != nil {
		return st
	}
	return withDetails
}

// httpBody is the JSON error body. Field order matches Dapr's output.
type httpBody struct {
	ErrorCode string            `json:"errorCode"`
	Message   string            `json:"message"`
	Details   []json.RawMessage `json:"details,omitempty"`
}

// HTTPBody renders the JSON body for the HTTP API.
func (e *Error) HTTPBody() []byte {
	b := httpBody{ErrorCode: e.Code, Message: e.Message}
	if b.ErrorCode == "" {
		b.ErrorCode = e.Reason
	}
	if b.ErrorCode == "" {
		b.ErrorCode = http.StatusText(e.HTTPStatus)
	}
	if e.rich() && !e.GRPCOnlyDetails {
		b.Details = e.httpDetails()
	}
	out, _ := json.Marshal(b)
	return out
}

func (e *Error) httpDetails() []json.RawMessage {
	const prefix = "type.googleapis.com/google.rpc."
	var out []json.RawMessage
	add := func(v any) {
		raw, _ := json.Marshal(v)
		out = append(out, raw)
	}
	if len(e.FieldViolations) > 0 {
		type fv struct {
			Field       string `json:"field"`
			Description string `json:"description"`
		}
		vs := make([]fv, 0, len(e.FieldViolations))
		for _, v := range e.FieldViolations {
			vs = append(vs, fv(v))
		}
		add(struct {
			Type string `json:"@type"`
			FV   []fv   `json:"field_violations"`
		}{prefix + "BadRequest", vs})
	}
	if len(e.HelpLinks) > 0 {
		type link struct {
			Description string `json:"description"`
			URL         string `json:"url"`
		}
		ls := make([]link, 0, len(e.HelpLinks))
		for _, l := range e.HelpLinks {
			ls = append(ls, link(l))
		}
		add(struct {
			Type  string `json:"@type"`
			Links []link `json:"links"`
		}{prefix + "Help", ls})
	}
	if r := e.Resource; r != nil {
		add(struct {
			Type        string `json:"@type"`
			RType       string `json:"resource_type"`
			RName       string `json:"resource_name"`
			Owner       string `json:"owner"`
			Description string `json:"description"`
		}{prefix + "ResourceInfo", r.Type, r.Name, r.Owner, r.Description})
	}
	md := e.Metadata
	if md == nil && !e.NullMetadata {
		md = map[string]string{}
	}
	add(struct {
		Type     string            `json:"@type"`
		Reason   string            `json:"reason"`
		Domain   string            `json:"domain"`
		Metadata map[string]string `json:"metadata"`
	}{prefix + "ErrorInfo", e.Reason, Domain, md})
	return out
}

// From returns err as an *Error, wrapping unknown errors in Dapr's generic
// "ERROR" code (500 / Unknown).
func From(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: "ERROR", HTTPStatus: http.StatusInternalServerError, GRPCCode: codes.Unknown, Message: err.Error()}
}
