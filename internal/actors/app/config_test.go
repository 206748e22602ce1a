package app

import (
	"reflect"
	"strings"
	"testing"
	"time"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/outrigger/outrigger/internal/actors"
)

func TestParseConfigJSON(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name    string
		body    string
		want    actors.AppConfig
		wantErr string
	}{
		{name: "empty body", body: "", want: actors.AppConfig{}},
		{name: "empty object", body: "{}", want: actors.AppConfig{}},
		{
			name: "full",
			body: `{"entities":["cart","user"],"actorIdleTimeout":"1h","actorScanInterval":"30s",
				"drainOngoingCallTimeout":"30s","drainRebalancedActors":true,
				"reentrancy":{"enabled":true,"maxStackDepth":10},"remindersStoragePartitions":7,
				"entitiesConfig":[
					{"entities":["cart"],"actorIdleTimeout":"2m","drainOngoingCallTimeout":"5s","drainRebalancedActors":false,
					 "reentrancy":{"enabled":false},"remindersStoragePartitions":3},
					{"entities":["user"]}
				]}`,
			want: actors.AppConfig{
				Entities:                []string{"cart", "user"},
				ActorIdleTimeout:        time.Hour,
				DrainOngoingCallTimeout: 30 * time.Second,
				DrainRebalancedActors:   &yes,
				Reentrancy:              actors.Reentrancy{Enabled: true, MaxStackDepth: 10},
				EntitiesConfig: []actors.EntityConfig{
					{
						Entities:                []string{"cart"},
						ActorIdleTimeout:        2 * time.Minute,
						DrainOngoingCallTimeout: 5 * time.Second,
						DrainRebalancedActors:   &no,
						Reentrancy:              &actors.Reentrancy{},
					},
					{Entities: []string{"user"}},
				},
			},
		},
		{name: "not json", body: "<html>", wantErr: "decoding the actor configuration"},
		{name: "duration as number", body: `{"actorIdleTimeout":60}`, wantErr: "actorIdleTimeout"},
		{name: "bad idle timeout", body: `{"actorIdleTimeout":"soon"}`, wantErr: `actorIdleTimeout: invalid duration "soon"`},
		{name: "negative drain timeout", body: `{"drainOngoingCallTimeout":"-1s"}`, wantErr: "drainOngoingCallTimeout: must not be negative"},
		{name: "negative stack depth", body: `{"reentrancy":{"enabled":true,"maxStackDepth":-1}}`, wantErr: "reentrancy.maxStackDepth"},
		{name: "bad entity idle timeout", body: `{"entitiesConfig":[{},{"actorIdleTimeout":"x"}]}`, wantErr: `entitiesConfig[1].actorIdleTimeout: invalid duration "x"`},
		{name: "bad entity stack depth", body: `{"entitiesConfig":[{"reentrancy":{"maxStackDepth":-2}}]}`, wantErr: "entitiesConfig[0].reentrancy.maxStackDepth"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfigJSON([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("config = %+v\nwant     %+v", got, tt.want)
			}
		})
	}
}

func TestConfigFromInitial(t *testing.T) {
	yes := true
	tests := []struct {
		name    string
		in      *runtimev1.SubscribeActorEventsRequestInitialAlpha1
		want    actors.AppConfig
		wantErr string
	}{
		{name: "empty", in: &runtimev1.SubscribeActorEventsRequestInitialAlpha1{}, want: actors.AppConfig{}},
		{
			name: "full",
			in: &runtimev1.SubscribeActorEventsRequestInitialAlpha1{
				Entities:                []string{"a", "b"},
				ActorIdleTimeout:        durationpb.New(time.Minute),
				DrainOngoingCallTimeout: durationpb.New(3 * time.Second),
				DrainRebalancedActors:   &yes,
				Reentrancy:              &runtimev1.ActorReentrancyConfig{Enabled: true, MaxStackDepth: proto.Int32(5)},
				EntitiesConfig: []*runtimev1.ActorEntityConfig{{
					Entities:         []string{"b"},
					ActorIdleTimeout: durationpb.New(time.Second),
					Reentrancy:       &runtimev1.ActorReentrancyConfig{Enabled: true},
				}},
			},
			want: actors.AppConfig{
				Entities:                []string{"a", "b"},
				ActorIdleTimeout:        time.Minute,
				DrainOngoingCallTimeout: 3 * time.Second,
				DrainRebalancedActors:   &yes,
				Reentrancy:              actors.Reentrancy{Enabled: true, MaxStackDepth: 5},
				EntitiesConfig: []actors.EntityConfig{{
					Entities:         []string{"b"},
					ActorIdleTimeout: time.Second,
					Reentrancy:       &actors.Reentrancy{Enabled: true},
				}},
			},
		},
		{
			name:    "negative idle timeout",
			in:      &runtimev1.SubscribeActorEventsRequestInitialAlpha1{ActorIdleTimeout: durationpb.New(-time.Second)},
			wantErr: "actor_idle_timeout: must not be negative",
		},
		{
			name: "negative entity stack depth",
			in: &runtimev1.SubscribeActorEventsRequestInitialAlpha1{EntitiesConfig: []*runtimev1.ActorEntityConfig{
				{Reentrancy: &runtimev1.ActorReentrancyConfig{MaxStackDepth: proto.Int32(-1)}},
			}},
			wantErr: "entities_config[0].reentrancy.max_stack_depth",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := configFromInitial(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("config = %+v\nwant     %+v", got, tt.want)
			}
		})
	}
}
