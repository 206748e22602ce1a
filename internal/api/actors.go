package api

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"unicode"

	commonv1 "github.com/dapr/dapr/pkg/proto/common/v1"
	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/outrigger/outrigger/internal/actors"
	"github.com/outrigger/outrigger/internal/api/apierr"
)

// reservedActorPrefix marks the workflow engine's actor types, which the
// actor API must not reach directly.
const reservedActorPrefix = "dapr.internal."

// headerAPICall marks actor calls that came through the Dapr API.
const headerAPICall = "dapr-api-call"

// actorRuntime returns the actor runtime, or ERR_ACTOR_NO_PLACEMENT when
// actors are disabled.
func (c *Core) actorRuntime() (*actors.Runtime, error) {
	if c.actors == nil {
		return nil, apierr.ActorNoPlacement()
	}
	return c.actors, nil
}

// validActorName applies Dapr's name rules to an actor type or id.
func validActorName(kind, v string) error {
	if v == "" {
		return apierr.BadRequest(kind + " is empty")
	}
	if v == "." || v == ".." {
		return apierr.BadRequest(kind + " '" + v + "' is not allowed")
	}
	for _, r := range v {
		if strings.ContainsRune(`/\#?`, r) || r == 0 || unicode.IsControl(r) {
			return apierr.BadRequest(kind + " '" + v + "' contains a character that is not allowed")
		}
	}
	return nil
}

// checkActor validates the actor's type and id; reserved also rejects the
// workflow engine's types.
func checkActor(actorType, actorID string, reserved bool) error {
	if err := validActorName("actor type", actorType); err != nil {
		return err
	}
	if err := validActorName("actor id", actorID); err != nil {
		return err
	}
	if reserved && strings.HasPrefix(actorType, reservedActorPrefix) {
		return apierr.ActorTypeReserved(actorType)
	}
	return nil
}

// actorErr maps the runtime's errors to Dapr's codes; other errors get the
// operation's own code from fallback.
func actorErr(err error, actorType, actorID string, fallback func(error) *apierr.Error) error {
	var e *apierr.Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, actors.ErrClosed):
		return apierr.ActorRuntimeClosed()
	case errors.Is(err, actors.ErrNoHost):
		return apierr.ActorNoAddress(actorType + "||" + actorID)
	case errors.Is(err, actors.ErrStackDepth):
		return apierr.ActorStackDepth()
	case errors.Is(err, actors.ErrNoApp):
		return apierr.ActorNoAppChannel()
	case errors.Is(err, actors.ErrNoStateStore):
		return apierr.ActorRuntimeNotFound()
	case errors.Is(err, actors.ErrNotHosted):
		return apierr.ActorReminderNonHosted()
	}
	return fallback(err)
}

// CallActor invokes an actor method with a request built by a transport
// (headers as metadata, body in Message.Data). An error reported by the app
// itself comes back as *actors.ActorError for the transport to relay.
func (c *Core) CallActor(ctx context.Context, actorType, actorID string, req *internalsv1.InternalInvokeRequest) (*internalsv1.InternalInvokeResponse, error) {
	rt, err := c.actorRuntime()
	if err != nil {
		return nil, err
	}
	if err := checkActor(actorType, actorID, false); err != nil {
		return nil, err
	}
	req.Actor = &internalsv1.Actor{ActorType: actorType, ActorId: actorID}
	if req.Metadata == nil {
		req.Metadata = map[string]*internalsv1.ListStringValue{}
	}
	req.Metadata[headerAPICall] = &internalsv1.ListStringValue{Values: []string{"true"}}
	resp, err := rt.Invoke(ctx, req)
	if err != nil {
		if _, ok := actors.IsActorError(err); ok {
			return nil, err
		}
		return nil, actorErr(err, actorType, actorID, apierr.ActorInvokeMethod)
	}
	return resp, nil
}

// InvokeActor serves the gRPC InvokeActor: the request metadata become the
// call's headers. An app-reported actor error still returns its body, as
// daprd does.
func (c *Core) InvokeActor(ctx context.Context, in *runtimev1.InvokeActorRequest) (*runtimev1.InvokeActorResponse, error) {
	md := make(map[string]*internalsv1.ListStringValue, len(in.GetMetadata())+1)
	for k, v := range in.GetMetadata() {
		md[strings.ToLower(k)] = &internalsv1.ListStringValue{Values: []string{v}}
	}
	req := &internalsv1.InternalInvokeRequest{
		Ver:      internalsv1.APIVersion_V1,
		Metadata: md,
		Message: &commonv1.InvokeRequest{
			Method:        in.GetMethod(),
			Data:          &anypb.Any{Value: in.GetData()},
			HttpExtension: &commonv1.HTTPExtension{Verb: commonv1.HTTPExtension_PUT},
		},
	}
	resp, err := c.CallActor(ctx, in.GetActorType(), in.GetActorId(), req)
	if ae, ok := actors.IsActorError(err); ok {
		resp, err = ae.Response, nil
	}
	if err != nil {
		return nil, err
	}
	return &runtimev1.InvokeActorResponse{Data: resp.GetMessage().GetData().GetValue()}, nil
}

// GetActorState reads one key of an actor's state; a missing key is an
// empty response.
func (c *Core) GetActorState(ctx context.Context, in *runtimev1.GetActorStateRequest) (*runtimev1.GetActorStateResponse, error) {
	rt, err := c.actorRuntime()
	if err != nil {
		return nil, err
	}
	if err := checkActor(in.GetActorType(), in.GetActorId(), true); err != nil {
		return nil, err
	}
	res, err := rt.GetState(ctx, in.GetActorType(), in.GetActorId(), in.GetKey())
	if err != nil {
		return nil, actorErr(err, in.GetActorType(), in.GetActorId(), apierr.ActorStateGet)
	}
	if !res.Found {
		return &runtimev1.GetActorStateResponse{}, nil
	}
	return &runtimev1.GetActorStateResponse{Data: res.Data, Metadata: res.Metadata}, nil
}

// ExecuteActorStateTransaction applies upserts and deletes atomically. Only
// the Any's value bytes are stored (HTTP puts the raw JSON there).
func (c *Core) ExecuteActorStateTransaction(ctx context.Context, in *runtimev1.ExecuteActorStateTransactionRequest) error {
	rt, err := c.actorRuntime()
	if err != nil {
		return err
	}
	if err := checkActor(in.GetActorType(), in.GetActorId(), true); err != nil {
		return err
	}
	ops := make([]actors.StateOperation, 0, len(in.GetOperations()))
	for _, op := range in.GetOperations() {
		ops = append(ops, actors.StateOperation{Type: op.GetOperationType(), Key: op.GetKey(), Value: op.GetValue().GetValue(), Metadata: op.GetMetadata()})
	}
	err = rt.ExecuteStateTransaction(ctx, in.GetActorType(), in.GetActorId(), ops)
	var unsupported *actors.ErrUnsupportedOperation
	switch {
	case err == nil:
		return nil
	case errors.Is(err, actors.ErrNotLocal):
		return apierr.ActorInstanceMissing()
	case errors.As(err, &unsupported):
		return apierr.ActorOperationUnsupported(unsupported.Error())
	}
	return actorErr(err, in.GetActorType(), in.GetActorId(), apierr.ActorStateTransactionSave)
}

// jsonData keeps data that is JSON as it is and turns anything else into a
// JSON string (base64), so the app always receives valid JSON.
func jsonData(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if json.Valid(b) {
		return b
	}
	out, _ := json.Marshal(b)
	return out
}

// RegisterActorTimer creates (or replaces) an actor timer.
func (c *Core) RegisterActorTimer(ctx context.Context, in *runtimev1.RegisterActorTimerRequest) error {
	rt, err := c.actorRuntime()
	if err != nil {
		return err
	}
	if err := checkActor(in.GetActorType(), in.GetActorId(), true); err != nil {
		return err
	}
	if in.GetName() == "" {
		return apierr.BadRequest("timer name is empty")
	}
	err = rt.CreateTimer(ctx, actors.TimerRequest{
		ActorType: in.GetActorType(), ActorID: in.GetActorId(), Name: in.GetName(),
		DueTime: in.GetDueTime(), Period: in.GetPeriod(), TTL: in.GetTtl(), Callback: in.GetCallback(),
		Data: jsonData(in.GetData()),
	})
	if err != nil {
		return actorErr(err, in.GetActorType(), in.GetActorId(), apierr.ActorTimerCreate)
	}
	return nil
}

// UnregisterActorTimer deletes an actor timer.
func (c *Core) UnregisterActorTimer(ctx context.Context, in *runtimev1.UnregisterActorTimerRequest) error {
	rt, err := c.actorRuntime()
	if err != nil {
		return err
	}
	if err := checkActor(in.GetActorType(), in.GetActorId(), true); err != nil {
		return err
	}
	if err := rt.DeleteTimer(ctx, in.GetActorType(), in.GetActorId(), in.GetName()); err != nil {
		return actorErr(err, in.GetActorType(), in.GetActorId(), apierr.ActorTimerCreate)
	}
	return nil
}

// reminderErr maps reminder service errors.
func reminderErr(err error, in interface{ GetActorType() string }, actorID, name string, fallback func(error) *apierr.Error) error {
	switch {
	case errors.Is(err, actors.ErrReminderNotFound):
		return apierr.ActorReminderNotFound(name)
	case errors.Is(err, actors.ErrReminderExists):
		return apierr.ActorReminderExists(name)
	}
	return actorErr(err, in.GetActorType(), actorID, fallback)
}

func checkReminder(actorType, actorID, name string) error {
	if err := checkActor(actorType, actorID, true); err != nil {
		return err
	}
	if name == "" {
		return apierr.BadRequest("reminder name is empty")
	}
	return nil
}

// RegisterActorReminder creates a reminder; with overwrite false an
// existing one is an error.
func (c *Core) RegisterActorReminder(ctx context.Context, in *runtimev1.RegisterActorReminderRequest) error {
	rt, err := c.actorRuntime()
	if err != nil {
		return err
	}
	if err := checkReminder(in.GetActorType(), in.GetActorId(), in.GetName()); err != nil {
		return err
	}
	err = rt.CreateReminder(ctx, actors.ReminderRequest{
		ActorType: in.GetActorType(), ActorID: in.GetActorId(), Name: in.GetName(),
		DueTime: in.GetDueTime(), Period: in.GetPeriod(), TTL: in.GetTtl(),
		Data: jsonData(in.GetData()), Overwrite: in.Overwrite,
	})
	if err != nil {
		return reminderErr(err, in, in.GetActorId(), in.GetName(), apierr.ActorReminderCreate)
	}
	return nil
}

// GetActorReminder returns one reminder.
func (c *Core) GetActorReminder(ctx context.Context, in *runtimev1.GetActorReminderRequest) (*runtimev1.GetActorReminderResponse, error) {
	rt, err := c.actorRuntime()
	if err != nil {
		return nil, err
	}
	if err := checkReminder(in.GetActorType(), in.GetActorId(), in.GetName()); err != nil {
		return nil, err
	}
	r, err := rt.GetReminder(ctx, in.GetActorType(), in.GetActorId(), in.GetName())
	if err != nil {
		return nil, reminderErr(err, in, in.GetActorId(), in.GetName(), apierr.ActorReminderGet)
	}
	pr := reminderProto(r)
	return &runtimev1.GetActorReminderResponse{ActorType: pr.ActorType, ActorId: pr.ActorId, DueTime: pr.DueTime, Period: pr.Period, Ttl: pr.Ttl, Data: pr.Data}, nil
}

func reminderProto(r actors.Reminder) *runtimev1.ActorReminder {
	out := &runtimev1.ActorReminder{ActorType: r.ActorType, ActorId: r.ActorID}
	if r.DueTime != "" {
		out.DueTime = &r.DueTime
	}
	if r.Period != "" {
		out.Period = &r.Period
	}
	if r.TTL != "" {
		out.Ttl = &r.TTL
	}
	if r.Data != nil {
		out.Data = &anypb.Any{Value: r.Data}
	}
	return out
}

// UnregisterActorReminder deletes a reminder.
func (c *Core) UnregisterActorReminder(ctx context.Context, in *runtimev1.UnregisterActorReminderRequest) error {
	rt, err := c.actorRuntime()
	if err != nil {
		return err
	}
	if err := checkReminder(in.GetActorType(), in.GetActorId(), in.GetName()); err != nil {
		return err
	}
	if err := rt.DeleteReminder(ctx, in.GetActorType(), in.GetActorId(), in.GetName()); err != nil {
		return reminderErr(err, in, in.GetActorId(), in.GetName(), apierr.ActorReminderDelete)
	}
	return nil
}

// ListActorReminders lists the reminders of a type, or of one actor.
func (c *Core) ListActorReminders(ctx context.Context, in *runtimev1.ListActorRemindersRequest) (*runtimev1.ListActorRemindersResponse, error) {
	rt, err := c.actorRuntime()
	if err != nil {
		return nil, err
	}
	if err := checkActorType(in.GetActorType(), in.ActorId); err != nil {
		return nil, err
	}
	list, err := rt.ListReminders(ctx, in.GetActorType(), in.GetActorId())
	if err != nil {
		return nil, actorErr(err, in.GetActorType(), in.GetActorId(), apierr.ActorReminderGet)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].ActorID != list[j].ActorID {
			return list[i].ActorID < list[j].ActorID
		}
		return list[i].Name < list[j].Name
	})
	out := &runtimev1.ListActorRemindersResponse{Reminders: make([]*runtimev1.NamedActorReminder, 0, len(list))}
	for _, r := range list {
		out.Reminders = append(out.Reminders, &runtimev1.NamedActorReminder{Name: r.Name, Reminder: reminderProto(r)})
	}
	return out, nil
}

// UnregisterActorRemindersByType deletes the reminders of a type, or of
// one actor.
func (c *Core) UnregisterActorRemindersByType(ctx context.Context, in *runtimev1.UnregisterActorRemindersByTypeRequest) error {
	rt, err := c.actorRuntime()
	if err != nil {
		return err
	}
	if err := checkActorType(in.GetActorType(), in.ActorId); err != nil {
		return err
	}
	if err := rt.DeleteRemindersByType(ctx, in.GetActorType(), in.GetActorId()); err != nil {
		return actorErr(err, in.GetActorType(), in.GetActorId(), apierr.ActorReminderDelete)
	}
	return nil
}

// checkActorType validates a type and an optional id.
func checkActorType(actorType string, actorID *string) error {
	if err := validActorName("actor type", actorType); err != nil {
		return err
	}
	if actorID != nil {
		if err := validActorName("actor id", *actorID); err != nil {
			return err
		}
	}
	if strings.HasPrefix(actorType, reservedActorPrefix) {
		return apierr.ActorTypeReserved(actorType)
	}
	return nil
}

// actorRuntimeMetadata is the metadata API's actorRuntime section.
func (c *Core) actorRuntimeMetadata() (*runtimev1.ActorRuntime, []*runtimev1.ActiveActorsCount) {
	if c.actors == nil {
		return nil, nil
	}
	st := c.actors.Status()
	out := &runtimev1.ActorRuntime{RuntimeStatus: runtimev1.ActorRuntime_INITIALIZING, HostReady: st.HostReady, Placement: "placement: disconnected"}
	if st.Running {
		out.RuntimeStatus = runtimev1.ActorRuntime_RUNNING
	}
	if st.Connected != nil && *st.Connected {
		out.Placement = "placement: connected"
	}
	types := make([]string, 0, len(st.ActiveActors))
	for t := range st.ActiveActors {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		out.ActiveActors = append(out.ActiveActors, &runtimev1.ActiveActorsCount{Type: t, Count: int32(st.ActiveActors[t])})
	}
	return out, out.ActiveActors
}
