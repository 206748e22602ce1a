package query

import (
	"encoding/json"
	"testing"
)

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func TestMatch(t *testing.T) {
	doc := `{"state":"CA","n":1,"f":2.5,"ok":true,"nil":null,"person":{"org":"Dev Ops","id":1036},
		"tags":["a","b"],"obj":{"k":1},"str1":"1"}`
	tests := []struct {
		name   string
		filter Filter
		want   bool
	}{
		{"nil filter", nil, true},
		{"EQ string", EQ{Key: "state", Value: "CA"}, true},
		{"EQ string differs", EQ{Key: "state", Value: "WA"}, false},
		{"EQ is case-sensitive", EQ{Key: "state", Value: "ca"}, false},
		{"EQ nested", EQ{Key: "person.org", Value: "Dev Ops"}, true},
		{"EQ number 1 == 1.0", EQ{Key: "n", Value: 1.0}, true},
		{"EQ nested number", EQ{Key: "person.id", Value: 1036.0}, true},
		{"EQ number vs string", EQ{Key: "str1", Value: 1.0}, false},
		{"EQ string vs number", EQ{Key: "n", Value: "1"}, false},
		{"EQ bool", EQ{Key: "ok", Value: true}, true},
		{"EQ null present", EQ{Key: "nil", Value: nil}, true},
		{"EQ null missing", EQ{Key: "missing", Value: nil}, false},
		{"EQ missing path", EQ{Key: "person.name", Value: "x"}, false},
		{"EQ through scalar", EQ{Key: "state.x", Value: "CA"}, false},
		{"EQ array index", EQ{Key: "tags.1", Value: "b"}, true},
		{"EQ negative index", EQ{Key: "tags.-1", Value: "b"}, true},
		{"EQ index out of range", EQ{Key: "tags.2", Value: "b"}, false},
		{"EQ non-numeric index", EQ{Key: "tags.x", Value: "b"}, false},
		{"EQ against object", EQ{Key: "obj", Value: "x"}, false},
		{"value. prefix is a field name", EQ{Key: "value.state", Value: "CA"}, false},
		{"IN hit", IN{Key: "state", Values: []any{"WA", "CA"}}, true},
		{"IN miss", IN{Key: "state", Values: []any{"WA", "OR"}}, false},
		{"IN numeric", IN{Key: "f", Values: []any{1.0, 2.5}}, true},
		{"IN missing", IN{Key: "missing", Values: []any{nil}}, false},
		{"AND true", AND{Filters: []Filter{EQ{Key: "state", Value: "CA"}, EQ{Key: "n", Value: 1.0}}}, true},
		{"AND false", AND{Filters: []Filter{EQ{Key: "state", Value: "CA"}, EQ{Key: "n", Value: 2.0}}}, false},
		{"OR true", OR{Filters: []Filter{EQ{Key: "state", Value: "WA"}, EQ{Key: "n", Value: 1.0}}}, true},
		{"OR false", OR{Filters: []Filter{EQ{Key: "state", Value: "WA"}, EQ{Key: "n", Value: 2.0}}}, false},
		{"nested", OR{Filters: []Filter{
			EQ{Key: "person.org", Value: "Finance"},
			AND{Filters: []Filter{EQ{Key: "person.org", Value: "Dev Ops"}, IN{Key: "state", Values: []any{"CA", "WA"}}}},
		}}, true},
		{"NEQ differs", Compare{Op: OpNEQ, Key: "state", Value: "WA"}, true},
		{"NEQ equal", Compare{Op: OpNEQ, Key: "n", Value: 1.0}, false},
		{"NEQ other type", Compare{Op: OpNEQ, Key: "n", Value: "1"}, true},
		{"NEQ missing", Compare{Op: OpNEQ, Key: "missing", Value: "x"}, false},
		{"GT number", Compare{Op: OpGT, Key: "f", Value: 2.0}, true},
		{"GT equal", Compare{Op: OpGT, Key: "f", Value: 2.5}, false},
		{"GTE equal", Compare{Op: OpGTE, Key: "f", Value: 2.5}, true},
		{"LT number", Compare{Op: OpLT, Key: "person.id", Value: 2000.0}, true},
		{"LTE number", Compare{Op: OpLTE, Key: "person.id", Value: 1000.0}, false},
		{"GT string", Compare{Op: OpGT, Key: "state", Value: "AZ"}, true},
		{"LT string byte-wise", Compare{Op: OpLT, Key: "state", Value: "Ca"}, true},
		{"GT type mismatch", Compare{Op: OpGT, Key: "str1", Value: 0.0}, false},
		{"LT missing", Compare{Op: OpLT, Key: "missing", Value: 5.0}, false},
		{"unknown comparison", Compare{Op: "LIKE", Key: "state", Value: "CA"}, false},
	}
	d := decode(t, doc)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(tt.filter, d); got != tt.want {
				t.Fatalf("Match(%#v) = %v, want %v", tt.filter, got, tt.want)
			}
		})
	}
}

func TestMatchJSONNumber(t *testing.T) {
	tests := []struct {
		num  string
		want bool
	}{
		{"5", true},
		{"5.0", true},
		{"5e0", true},
		{"6", false},
	}
	for _, tt := range tests {
		doc := map[string]any{"n": json.Number(tt.num)}
		if got := Match(EQ{Key: "n", Value: 5.0}, doc); got != tt.want {
			t.Errorf("Match(n == 5) on json.Number %s = %v, want %v", tt.num, got, tt.want)
		}
	}
}

func TestCompareJSON(t *testing.T) {
	// Each value sorts strictly before the next.
	ordered := []string{`null`, `""`, `"B"`, `"a"`, `"ab"`, `-1`, `0`, `1.5`, `10`, `false`, `true`,
		`[]`, `[2]`, `[1,1]`, `{}`, `{"a":1}`, `{"a":2}`, `{"a":1,"b":1}`}
	for i := 0; i+1 < len(ordered); i++ {
		a, b := decode(t, ordered[i]), decode(t, ordered[i+1])
		if c := compareJSON(a, b); c >= 0 {
			t.Errorf("compareJSON(%s, %s) = %d, want < 0", ordered[i], ordered[i+1], c)
		}
		if c := compareJSON(b, a); c <= 0 {
			t.Errorf("compareJSON(%s, %s) = %d, want > 0", ordered[i+1], ordered[i], c)
		}
		if c := compareJSON(a, decode(t, ordered[i])); c != 0 {
			t.Errorf("compareJSON(%s, itself) = %d, want 0", ordered[i], c)
		}
	}
}
