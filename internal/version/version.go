// Package version holds Outrigger's version strings in one place. Release
// builds override them with -ldflags, for example:
//
//	-X github.com/outrigger/outrigger/internal/version.Version=0.2.0
//	-X github.com/outrigger/outrigger/internal/version.GitCommit=$(git rev-parse HEAD)
package version

import "runtime/debug"

// These are variables, not constants, so that -ldflags -X can set them.
var (
	// Version is Outrigger's own version.
	Version = "0.1.0-dev"
	// DaprCompat is the Dapr runtime version whose contract Outrigger follows.
	DaprCompat = "1.18.3"
	// GitCommit is the commit the binary was built from, if known.
	GitCommit = ""
	// GitVersion is `git describe` output at build time, if known.
	GitVersion = ""
)

// Runtime is the version reported by `daprd --version`. Tools such as the
// Dapr CLI parse it as semver to decide which flags the runtime supports, so
// it leads with the Dapr version we are compatible with; our own version goes
// in the build metadata, which semver ignores when comparing.
func Runtime() string {
	return DaprCompat + "+outrigger." + Version
}

// Long is a human-readable one-liner for `outrigger version`.
func Long() string {
	return "outrigger " + Version + " (Dapr " + DaprCompat + " compatible)"
}

// Commit is GitCommit, or the VCS revision Go recorded at build time.
func Commit() string {
	if GitCommit != "" {
		return GitCommit
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
