package options

import (
	"strconv"
	"strings"
)

// NormalizeArgs reproduces a daprd quirk: daprd once used Go's flag package,
// where "-app-id x" is a long flag, and still accepts that spelling. An
// argument made of a single dash and a name is rewritten to "--name". Negative
// numbers (values such as "--app-max-concurrency -1"), "-h" (no daprd flag is
// named h; left alone it asks for help) and everything after a bare "--" are
// left alone.
func NormalizeArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if isSingleDashFlag(a) {
			a = "-" + a
		}
		out = append(out, a)
	}
	return out
}

func isSingleDashFlag(a string) bool {
	if len(a) < 2 || a[0] != '-' || a[1] == '-' || a == "-h" {
		return false
	}
	name, _, _ := strings.Cut(a[1:], "=")
	if _, err := strconv.ParseFloat(name, 64); err == nil {
		return false
	}
	return true
}
