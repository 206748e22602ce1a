package grpc

import (
	"encoding/json"

	"context"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/types/known/emptypb"
)

func (s *Server) InvokeActor(ctx context.Context, req *runtimev1.InvokeActorRequest) (*runtimev1.InvokeActorResponse, error) {
	return s.core.InvokeActor(ctx, req)
}

func (s *Server) GetActorState(ctx context.Context, req *runtimev1.GetActorStateRequest) (*runtimev1.GetActorStateResponse, error) {
	return s.core.GetActorState(ctx, req)
}

func (s *Server) ExecuteActorStateTransaction(ctx context.Context, req *runtimev1.ExecuteActorStateTransactionRequest) (*emptypb.Empty, error) {
	return empty, s.core.ExecuteActorStateTransaction(ctx, req)
}

// RegisterActorTimer and RegisterActorReminder take data as bytes; as in
// Dapr, they reach the app's callback as a JSON string (base64), which is
// what the SDKs decode. HTTP callers send JSON, passed on as it is.
func (s *Server) RegisterActorTimer(ctx context.Context, req *runtimev1.RegisterActorTimerRequest) (*emptypb.Empty, error) {
	req.Data = bytesAsJSON(req.GetData())
	return empty, s.core.RegisterActorTimer(ctx, req)
}

func (s *Server) UnregisterActorTimer(ctx context.Context, req *runtimev1.UnregisterActorTimerRequest) (*emptypb.Empty, error) {
	return empty, s.core.UnregisterActorTimer(ctx, req)
}

func (s *Server) RegisterActorReminder(ctx context.Context, req *runtimev1.RegisterActorReminderRequest) (*emptypb.Empty, error) {
	req.Data = bytesAsJSON(req.GetData())
	return empty, s.core.RegisterActorReminder(ctx, req)
}

// GetActorReminder gives back the bytes a gRPC caller registered: data
// stored as a JSON string of base64 is decoded.
func (s *Server) GetActorReminder(ctx context.Context, req *runtimev1.GetActorReminderRequest) (*runtimev1.GetActorReminderResponse, error) {
	resp, err := s.core.GetActorReminder(ctx, req)
	if err != nil {
		return nil, err
	}
	if d := resp.GetData(); d != nil {
		d.Value = jsonAsBytes(d.GetValue())
	}
	return resp, nil
}

// bytesAsJSON encodes gRPC data as a JSON string (base64); nil stays nil.
func bytesAsJSON(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	out, _ := json.Marshal(b)
	return out
}

// jsonAsBytes undoes bytesAsJSON; other JSON is returned unchanged.
func jsonAsBytes(b []byte) []byte {
	var raw []byte
	if len(b) > 0 && b[0] == '"' && json.Unmarshal(b, &raw) == nil {
		return raw
	}
	return b
}

func (s *Server) UnregisterActorReminder(ctx context.Context, req *runtimev1.UnregisterActorReminderRequest) (*emptypb.Empty, error) {
	return empty, s.core.UnregisterActorReminder(ctx, req)
}

func (s *Server) ListActorReminders(ctx context.Context, req *runtimev1.ListActorRemindersRequest) (*runtimev1.ListActorRemindersResponse, error) {
	resp, err := s.core.ListActorReminders(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, r := range resp.GetReminders() {
		if d := r.GetReminder().GetData(); d != nil {
			d.Value = jsonAsBytes(d.GetValue())
		}
	}
	return resp, nil
}

func (s *Server) UnregisterActorRemindersByType(ctx context.Context, req *runtimev1.UnregisterActorRemindersByTypeRequest) (*runtimev1.UnregisterActorRemindersByTypeResponse, error) {
	if err := s.core.UnregisterActorRemindersByType(ctx, req); err != nil {
		return nil, err
	}
	return &runtimev1.UnregisterActorRemindersByTypeResponse{}, nil
}
