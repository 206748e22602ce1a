package pgmode

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		want    pgx.QueryExecMode
		wantErr bool
	}{
		{"cache_statement", pgx.QueryExecModeCacheStatement, false},
		{"cache_describe", pgx.QueryExecModeCacheDescribe, false},
		{"describe_exec", pgx.QueryExecModeDescribeExec, false},
		{"exec", pgx.QueryExecModeExec, false},
		{"simple_protocol", pgx.QueryExecModeSimpleProtocol, false},
		{"fast", 0, true},
		{"", 0, true},
		{"EXEC", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.name)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "queryExecMode") || !strings.Contains(err.Error(), "simple_protocol") {
					t.Fatalf("Parse(%q) err = %v, want one naming the key and the accepted values", tt.name, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %v, %v; want %v", tt.name, got, err, tt.want)
			}
		})
	}
}

// Every listed name parses, and every mode has a listed name.
func TestNamesMatchModes(t *testing.T) {
	if len(Names) != len(modes) {
		t.Fatalf("%d names for %d modes", len(Names), len(modes))
	}
	for _, n := range Names {
		if _, err := Parse(n); err != nil {
			t.Error(err)
		}
	}
}
