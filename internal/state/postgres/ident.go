package postgres

import (
	"fmt"
	"regexp"
	"strings"
)

// identPart is one unquoted SQL identifier. Dapr splices table names into
// SQL unquoted, so PostgreSQL folds them to lower case; we accept only plain
// identifiers and fold them the same way, then quote them, so both runtimes
// address the same table and nothing else can reach the SQL text.
var identPart = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxIdentLen is PostgreSQL's NAMEDATALEN-1.
const maxIdentLen = 63

// tableIdent is a validated, possibly schema-qualified table name.
type tableIdent struct {
	schema string // "" = search_path
	name   string
}

// parseTableIdent validates "table" or "schema.table".
func parseTableIdent(s string) (tableIdent, error) {
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return tableIdent{}, fmt.Errorf("invalid table name %q: at most one schema qualifier is allowed", s)
	}
	for _, p := range parts {
		if !identPart.MatchString(p) || len(p) > maxIdentLen {
			return tableIdent{}, fmt.Errorf("invalid table name %q: use letters, digits and underscores (max %d each), optionally as schema.table", s, maxIdentLen)
		}
	}
	if len(parts) == 2 {
		return tableIdent{schema: strings.ToLower(parts[0]), name: strings.ToLower(parts[1])}, nil
	}
	return tableIdent{name: strings.ToLower(parts[0])}, nil
}

// SQL returns the quoted name for use in statements.
func (t tableIdent) SQL() string {
	if t.schema == "" {
		return `"` + t.name + `"`
	}
	return `"` + t.schema + `"."` + t.name + `"`
}
