package actors

import (
	"context"
	"errors"
	"fmt"

	internalsv1 "github.com/dapr/dapr/pkg/proto/internals/v1"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/outrigger/outrigger/internal/sleep"
)

// FireTimer delivers a timer to its actor, in the actor's turn. Timers live
// only as long as their actor: a timer of an actor that is no longer
// active here is cancelled.
func (r *Runtime) FireTimer(ctx context.Context, actorType, actorID, name string, call TimerCall) (cancel bool, err error) {
	if r.closed.Load() || r.cfg.App == nil {
		return true, nil
	}
	a := r.table.get(actorType, actorID)
	if a == nil {
		return true, nil
	}
	if err := a.lock(ctx, "", r.typeConfig(actorType).maxStackDepth); err != nil {
		if errors.Is(err, errGone) {
			return true, nil
		}
		return false, err
	}
	// A timer is not use of the actor: it does not delay idle deactivation.
	defer a.unlock(false)
	cancel, err = r.cfg.App.Timer(ctx, actorType, actorID, name, call)
	r.cfg.Observer.ActorTimerFired(actorType, err == nil)
	return cancel, err
}

// FireReminder delivers a reminder to its actor, activating it: here when
// this host owns it, else on its owner. cancel reports that the app asked
// to stop the reminder.
func (r *Runtime) FireReminder(ctx context.Context, actorType, actorID, name string, call ReminderCall) (cancel bool, err error) {
	if r.closed.Load() {
		return false, ErrClosed
	}
	var lastErr error
	for attempt := range routeAttempts {
		if attempt > 0 {
			if err := sleep.Wait(ctx, routeBackoff<<(attempt-1)); err != nil {
				return false, lastErr
			}
		}
		gen := r.gen.Load()
		host, err := r.cfg.Placement.LookupActor(ctx, actorType, actorID)
		if err != nil {
			return false, err
		}
		if host.Name == r.cfg.HostName {
			cancel, err = r.reminderLocal(ctx, gen, actorType, actorID, name, call)
		} else {
			err = r.forwardReminder(ctx, host, actorType, actorID, name, call)
		}
		if errors.Is(err, errMoved) {
			lastErr = err
			continue
		}
		return cancel, err
	}
	return false, lastErr
}

func (r *Runtime) reminderLocal(ctx context.Context, gen uint64, actorType, actorID, name string, call ReminderCall) (bool, error) {
	if r.cfg.App == nil {
		return false, ErrNoApp
	}
	a, err := r.acquire(ctx, gen, actorType, actorID, "", r.typeConfig(actorType).maxStackDepth)
	if err != nil {
		return false, err
	}
	defer a.unlock(true)
	cancel, err := r.cfg.App.Reminder(ctx, actorType, actorID, name, call)
	r.cfg.Observer.ActorReminderFired(actorType, err == nil)
	return cancel, err
}

func (r *Runtime) forwardReminder(ctx context.Context, host Host, actorType, actorID, name string, call ReminderCall) error {
	ctx, cancel := r.forwardContext(ctx)
	defer cancel()
	client, err := r.peer(ctx, host)
	if err != nil {
		return err
	}
	msg := &internalsv1.Reminder{ActorType: actorType, ActorId: actorID, Name: name, Period: call.Period, DueTime: call.DueTime}
	if call.Data != nil {
		msg.Data = &anypb.Any{Value: call.Data}
	}
	if _, err := client.CallActorReminder(ctx, msg); err != nil {
		return fromWire(host, err)
	}
	return nil
}

// CallActorReminder serves internals.v1 CallActorReminder: a reminder
// another sidecar routed to this host.
func (r *Runtime) CallActorReminder(ctx context.Context, in *internalsv1.Reminder) (*emptypb.Empty, error) {
	if r.closed.Load() {
		return nil, toWire(ErrClosed)
	}
	gen := r.gen.Load()
	owned, err := r.IsLocal(ctx, in.GetActorType(), in.GetActorId())
	if err != nil {
		return nil, toWire(err)
	}
	if !owned {
		return nil, toWire(errMoved)
	}
	call := ReminderCall{DueTime: in.GetDueTime(), Period: in.GetPeriod()}
	if d := in.GetData(); d != nil {
		call.Data = d.GetValue()
	}
	if _, err := r.reminderLocal(ctx, gen, in.GetActorType(), in.GetActorId(), in.GetName(), call); err != nil {
		return nil, toWire(fmt.Errorf("error invoking reminder %s on actor %s/%s: %w", in.GetName(), in.GetActorType(), in.GetActorId(), err))
	}
	return &emptypb.Empty{}, nil
}
