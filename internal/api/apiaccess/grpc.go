package apiaccess

import "strings"

// runtimePrefix is the only gRPC service family the lists filter; the
// internal service, reflection and proxied app services are never blocked.
const runtimePrefix = "/dapr.proto.runtime."

// grpcNames maps a Dapr gRPC method, without its Alpha1/Beta1 suffix, to
// its API group name.
var grpcNames = map[string]string{
	"GetState": "state", "GetBulkState": "state", "SaveState": "state", "QueryState": "state",
	"DeleteState": "state", "DeleteBulkState": "state", "ExecuteStateTransaction": "state",
	"InvokeService": "invoke",
	"PublishEvent":  "publish", "BulkPublishEvent": "publish", "SubscribeTopicEvents": "publish",
	"InvokeBinding": "bindings",
	"GetSecret":     "secrets", "GetBulkSecret": "secrets",
	"GetConfiguration": "configuration", "SubscribeConfiguration": "configuration", "UnsubscribeConfiguration": "configuration",
	"TryLock": "lock", "Unlock": "unlock",
	"Encrypt": "crypto", "Decrypt": "crypto",
	"GetMetadata": "metadata", "SetMetadata": "metadata",
	"Shutdown":    "shutdown",
	"ScheduleJob": "jobs", "GetJob": "jobs", "DeleteJob": "jobs", "ListJobs": "jobs", "DeleteJobsByPrefix": "jobs",
	"InvokeActor": "actors", "GetActorState": "actors", "ExecuteActorStateTransaction": "actors",
	"RegisterActorTimer": "actors", "UnregisterActorTimer": "actors", "RegisterActorReminder": "actors",
	"UnregisterActorReminder": "actors", "GetActorReminder": "actors", "ListActorReminders": "actors",
	"UnregisterActorRemindersByType": "actors", "SubscribeActorEvents": "actors",
}

// GRPCGroup names the group of a full gRPC method name
// ("/dapr.proto.runtime.v1.Dapr/GetState"); ok is false outside the Dapr
// runtime API.
func GRPCGroup(fullMethod string) (g Group, ok bool) {
	if !strings.HasPrefix(fullMethod, runtimePrefix) {
		return Group{}, false
	}
	method := fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
	base, version := splitVersion(method)
	name, ok := grpcNames[base]
	switch {
	case ok:
	case strings.HasPrefix(base, "Subtle"):
		name = "subtlecrypto"
	case strings.Contains(base, "Workflow"):
		name = "workflows"
	case strings.HasPrefix(base, "Converse"):
		name = "conversation"
	default:
		name = strings.ToLower(base)
	}
	return Group{Name: name, Version: version}, true
}

// splitVersion strips a method's Alpha/Beta suffix: "TryLockAlpha1" gives
// "TryLock", "v1alpha1".
func splitVersion(method string) (base, version string) {
	for _, stage := range []string{"Alpha", "Beta"} {
		i := strings.LastIndex(method, stage)
		if i <= 0 || i+len(stage) >= len(method) {
			continue
		}
		n := method[i+len(stage):]
		if strings.Trim(n, "0123456789") != "" {
			continue
		}
		return method[:i], "v1" + strings.ToLower(stage) + n
	}
	return method, "v1"
}

// GRPCAllowed reports whether a gRPC method is served.
func (r *Rules) GRPCAllowed(fullMethod string) bool {
	if r == nil || r.grpc.empty() {
		return true
	}
	g, ok := GRPCGroup(fullMethod)
	if !ok {
		return true
	}
	return r.grpc.allows(endpoint{group: g})
}
