package resources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// OtelHeaders are extra headers for the OTLP exporter. Dapr writes them as a
// "k1=v1,k2=v2" string (the OTEL_EXPORTER_OTLP_HEADERS format); a list of
// {name, value} pairs or a mapping is accepted too.
type OtelHeaders map[string]string

// UnmarshalJSON accepts the string, list and mapping forms.
func (h *OtelHeaders) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var out map[string]string
	var err error
	switch {
	case string(b) == "null":
		*h = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err = json.Unmarshal(b, &s); err == nil {
			out, err = parseHeaderList(s)
		}
	case len(b) > 0 && b[0] == '[':
		var pairs []struct{ Name, Value string }
		if err = json.Unmarshal(b, &pairs); err == nil {
			out = make(map[string]string, len(pairs))
			for _, p := range pairs {
				out[p.Name] = p.Value
			}
		}
	default:
		err = json.Unmarshal(b, &out)
	}
	if err != nil {
		return fmt.Errorf("spec.tracing.otel.headers: want \"k1=v1,k2=v2\", a list of {name, value} or a mapping: %w", err)
	}
	*h = out
	return nil
}

// parseHeaderList parses "k1=v1,k2=v2"; values may be URL-escaped.
func parseHeaderList(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for pair := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("entry %q is not key=value", pair)
		}
		uv, err := url.PathUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("entry %q: %w", pair, err)
		}
		out[k] = strings.TrimSpace(uv)
	}
	return out, nil
}
