package tracing

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// HTTPMiddleware traces the Dapr HTTP API. Each request (except health
// checks) gets a span, named and attributed as daprd does, as a child of
// the caller's traceparent; the request's traceparent/tracestate headers
// are replaced by the span's so handlers pass it on (bindings metadata,
// invocation headers), and the response carries a traceparent header
// unless the handler set one (all-zero when nothing is traced).
func (p *Provider) HTTPMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/healthz") {
			next.ServeHTTP(w, r)
			return
		}
		ctx := ExtractHTTP(r.Context(), r.Header)
		ctx, span := p.Start(ctx, r.URL.Path, trace.SpanKindClient)
		if p.Enabled() {
			InjectHTTP(ctx, r.Header)
		}
		if ctx != r.Context() {
			r = r.WithContext(ctx)
		}
		tw := &traceWriter{ResponseWriter: w, sc: span.SpanContext()}
		next.ServeHTTP(tw, r)
		tw.addHeader()
		if span.IsRecording() {
			name, attrs := httpSpanAttributes(r, tw.status)
			if name != "" {
				span.SetName(name)
			}
			span.SetAttributes(attrs...)
			setHTTPStatus(span, tw.status)
			span.End()
		}
	})
}

// traceWriter adds the traceparent response header before the header is
// written, and records the status.
type traceWriter struct {
	http.ResponseWriter
	sc     trace.SpanContext
	status int
}

func (w *traceWriter) addHeader() {
	if w.status != 0 {
		return
	}
	w.status = http.StatusOK
	h := w.ResponseWriter.Header()
	if len(h[canonicalTraceparent]) > 0 {
		return
	}
	if !w.sc.IsValid() {
		h[canonicalTraceparent] = zeroTraceparentValue
		return
	}
	h[canonicalTraceparent] = []string{FormatTraceparent(w.sc)}
	if ts := w.sc.TraceState().String(); ts != "" {
		h[canonicalTracestate] = []string{ts}
	}
}

// zeroTraceparentValue is shared by untraced responses (read-only; its
// capacity of one makes any append copy).
var zeroTraceparentValue = []string{ZeroTraceparent}

func (w *traceWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.addHeader()
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *traceWriter) Write(b []byte) (int, error) {
	w.addHeader()
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming responses (server-sent events) flowing.
func (w *traceWriter) Flush() {
	w.addHeader()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *traceWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// setHTTPStatus marks 4xx and 5xx answers as errors.
func setHTTPStatus(span trace.Span, code int) {
	if code >= 400 {
		text := http.StatusText(code)
		if text == "" {
			text = "Unknown"
		}
		span.SetStatus(codes.Error, "Code("+strconv.Itoa(code)+"): "+text)
	}
}

// Span attribute keys daprd uses (OpenTelemetry's older semantic
// conventions plus its own dapr.* keys).
const (
	attrDBSystem          = "db.system"
	attrDBName            = "db.name"
	attrDBStatement       = "db.statement"
	attrDBConnection      = "db.connection_string"
	attrMessagingSystem   = "messaging.system"
	attrMessagingDest     = "messaging.destination"
	attrMessagingDestKind = "messaging.destination_kind"
	attrRPCService        = "rpc.service"
	attrNetPeerName       = "net.peer.name"
	attrDaprAPI           = "dapr.api"
	attrDaprProtocol      = "dapr.protocol"
	attrDaprStatusCode    = "dapr.status_code"
	attrDaprInvokeMethod  = "dapr.invoke_method"
	attrDaprActor         = "dapr.actor"

	serviceInvocation = "ServiceInvocation"
	serviceDapr       = "Dapr"
)

// httpSpanAttributes names and describes an API request from its path:
// /{version}/{api}/{name}/... The name is empty when the path is kept.
func httpSpanAttributes(r *http.Request, status int) (string, []attribute.KeyValue) {
	path := r.URL.Path
	seg := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 7)
	get := func(i int) string {
		if i >= len(seg) {
			return ""
		}
		v, err := url.PathUnescape(seg[i])
		if err != nil {
			return seg[i]
		}
		return v
	}
	attrs := make([]attribute.KeyValue, 0, 10)
	var name, dbSystem, dbName string
	switch get(1) {
	case "state":
		dbSystem, dbName = "state", get(2)
	case "secrets":
		dbSystem, dbName = "secrets", get(2)
	case "bindings":
		dbSystem, dbName = "bindings", get(2)
	case "publish":
		attrs = append(attrs, attribute.String(attrMessagingSystem, "pubsub"),
			attribute.String(attrMessagingDest, get(3)), attribute.String(attrMessagingDestKind, "topic"))
	case "invoke":
		id := get(2)
		method := ""
		if len(seg) > 4 {
			method = strings.SplitN(strings.TrimPrefix(path, "/"), "/", 5)[4]
		}
		name = "CallLocal/" + id + "/" + method
		attrs = append(attrs, attribute.String(attrRPCService, serviceInvocation), attribute.String(attrNetPeerName, id),
			attribute.String(attrDaprInvokeMethod, method))
	case "actors":
		typ, id := get(2), get(3)
		if typ != "" && id != "" {
			attrs = append(attrs, attribute.String(attrDaprActor, typ+"."+id))
			switch get(4) {
			case "method":
				name = "CallActor/" + typ + "/" + get(5)
				attrs = append(attrs, attribute.String(attrRPCService, serviceInvocation), attribute.String(attrNetPeerName, typ+"."+id))
			case "state":
				dbSystem, dbName = "state", "actor"
			}
		}
	default:
		// Invocation addressed by the dapr-app-id header.
		if id := r.Header.Get("dapr-app-id"); id != "" {
			name = "CallLocal/" + id + "/" + strings.TrimPrefix(path, "/")
			attrs = append(attrs, attribute.String(attrRPCService, serviceInvocation), attribute.String(attrNetPeerName, id))
		}
	}
	if dbName != "" {
		attrs = append(attrs, attribute.String(attrDBSystem, dbSystem), attribute.String(attrDBName, dbName),
			attribute.String(attrDBStatement, r.Method+" "+path), attribute.String(attrDBConnection, dbSystem))
	}
	attrs = append(attrs, attribute.String(attrDaprProtocol, "http"), attribute.String(attrDaprAPI, r.Method+" "+path),
		attribute.String(attrDaprStatusCode, strconv.Itoa(status)))
	return name, attrs
}
