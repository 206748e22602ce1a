package metrics

import (
	"errors"
	"strings"

	"github.com/outrigger/outrigger/internal/api/apierr"
)

// ErrorCode counts one returned Dapr error code in dapr_error_code_total
// when Configuration spec.metrics.recordErrorCodes is on.
func (m *Metrics) ErrorCode(code string) {
	if m == nil || !m.errCodes || code == "" {
		return
	}
	if c, ok := m.errors.with(m.appID, errorCategory(code), code); ok {
		c.Inc()
	}
}

// grpcErrorCode counts the Dapr error code carried by a gRPC handler's
// error, if it is one of the API's errors.
func (m *Metrics) grpcErrorCode(err error) {
	if err == nil || !m.errCodes {
		return
	}
	var e *apierr.Error
	if errors.As(err, &e) {
		m.ErrorCode(e.Code)
	}
}

// categoryPrefixes map error code prefixes to Dapr's error categories;
// longer prefixes come first where they overlap.
var categoryPrefixes = []struct{ prefix, category string }{
	{"ERR_INVOKE_OUTPUT_BINDING", "binding"},
	{"ERR_ACTOR", "actor"},
	{"ERR_WORKFLOW", "workflow"},
	{"ERR_STATE", "state"},
	{"ERR_NOT_SUPPORTED_STATE", "state"},
	{"DAPR_STATE", "state"},
	{"ERR_CONFIGURATION", "configuration"},
	{"ERR_CRYPTO", "crypto"},
	{"ERR_SECRET", "secret"},
	{"ERR_PUBSUB", "pubsub"},
	{"ERR_PUBLISH", "pubsub"},
	{"ERR_TOPIC", "pubsub"},
	{"DAPR_PUBSUB", "pubsub"},
	{"ERR_CONVERSATION", "conversation"},
	{"ERR_DIRECT_INVOKE", "service-invocation"},
	{"ERR_INVOKE", "service-invocation"},
	{"ERR_APP_CHANNEL", "service-invocation"},
	{"ERR_BINDING", "binding"},
	{"ERR_LOCK", "lock"},
	{"ERR_TRY_LOCK", "lock"},
	{"ERR_UNLOCK", "lock"},
	{"ERR_JOB", "job"},
	{"DAPR_SCHEDULER", "job"},
	{"ERR_SCHEDULER", "job"},
	{"ERR_HEALTH", "health"},
	{"ERR_OUTBOUND_HEALTH", "health"},
}

// errorCategory is the category label of an error code, from its prefix;
// anything else is "common".
func errorCategory(code string) string {
	for _, p := range categoryPrefixes {
		if strings.HasPrefix(code, p.prefix) {
			return p.category
		}
	}
	return "common"
}
