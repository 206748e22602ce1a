package api

import "github.com/outrigger/outrigger/internal/telemetry/tracing"

// Tracing returns the tracer provider the transports trace with; nil
// (a valid, disabled provider) when none was configured.
func (c *Core) Tracing() *tracing.Provider { return c.tracing }
