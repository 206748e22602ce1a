package memory

import "strings"

// Wildcard topics follow MQTT: levels are separated by '/', a level that is
// exactly "+" matches any one level, and a last level "#" matches any
// number of remaining levels, including none ("a/#" matches "a", "a/b"
// and "a/b/c").

// isWildcard reports whether pattern uses a wildcard level.
func isWildcard(pattern string) bool {
	for level := range strings.SplitSeq(pattern, "/") {
		if level == "+" || level == "#" {
			return true
		}
	}
	return false
}

// matchTopic reports whether topic matches the wildcard pattern.
func matchTopic(pattern, topic string) bool {
	for {
		pl, prest, pmore := strings.Cut(pattern, "/")
		if pl == "#" && !pmore {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if pl != "+" && pl != tl {
			return false
		}
		switch {
		case !pmore && !tmore:
			return true
		case !tmore:
			// The topic ended: only a trailing "/#" still matches.
			return prest == "#"
		case !pmore:
			return false
		}
		pattern, topic = prest, trest
	}
}
