package delivery

import (
	"errors"
	"fmt"

	"github.com/google/cel-go/cel"
)

// newCELEnv declares the one variable route matches see: `event`, the
// CloudEvent as a map. Numbers compare across int and double so that
// `event.data.qty > 5` works whatever JSON number the publisher sent.
func newCELEnv() (*cel.Env, error) {
	env, err := cel.NewEnv(
		cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)),
		cel.CrossTypeNumericComparisons(true),
	)
	if err != nil {
		return nil, fmt.Errorf("building the CEL environment: %w", err)
	}
	return env, nil
}

// errInvalidMatch marks a rule whose CEL match does not compile.
var errInvalidMatch = errors.New("invalid match")

// compileMatch compiles a rule's match once, at subscription time. An
// empty match always matches (nil program).
func compileMatch(env *cel.Env, expr string) (cel.Program, error) {
	if expr == "" {
		return nil, nil
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, fmt.Errorf("%w %q: %w", errInvalidMatch, expr, iss.Err())
	}
	if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("%w %q: result is %s, not bool", errInvalidMatch, expr, t)
	}
	prg, err := env.Program(ast)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", errInvalidMatch, expr, err)
	}
	return prg, nil
}

// evalMatch runs a compiled match; anything but true is no match.
func evalMatch(prg cel.Program, vars map[string]any) (bool, error) {
	out, _, err := prg.Eval(vars)
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	return ok && b, nil
}
