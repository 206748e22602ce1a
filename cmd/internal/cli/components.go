package cli

// Link every built-in component into the binary.
import _ "github.com/outrigger/outrigger/internal/components/builtin"
