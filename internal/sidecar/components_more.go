package sidecar

import (
	"context"
	"fmt"
	"strings"

	runtimev1 "github.com/dapr/dapr/pkg/proto/runtime/v1"

	"github.com/outrigger/outrigger/internal/api"
	"github.com/outrigger/outrigger/internal/bindings"
	"github.com/outrigger/outrigger/internal/bindings/inputs"
	"github.com/outrigger/outrigger/internal/configuration"
	"github.com/outrigger/outrigger/internal/lock"
	"github.com/outrigger/outrigger/internal/registry"
	"github.com/outrigger/outrigger/internal/resources"
	"github.com/outrigger/outrigger/internal/secretstores"
)

// initWithTimeout runs a component's Init bounded by its initTimeout.
func initWithTimeout(ctx context.Context, c resources.Component, init func(context.Context) error) error {
	initCtx, cancel := context.WithTimeout(ctx, c.InitTimeout())
	defer cancel()
	if err := init(initCtx); err != nil {
		if initCtx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("init %s: %w (init did not finish within initTimeout %s)", c.Spec.Type, err, c.InitTimeout())
		}
		return fmt.Errorf("init %s: %w", c.Spec.Type, err)
	}
	return nil
}

// register records a loaded component for the metadata API and closing.
func (l *loaded) register(c resources.Component, version string, capabilities []string, closer func() error) {
	l.closers = append(l.closers, closer)
	l.registered = append(l.registered, &runtimev1.RegisteredComponents{Name: c.Name(), Type: c.Spec.Type, Version: version, Capabilities: capabilities})
}

func (l *loaded) loadSecretStore(ctx context.Context, env componentEnv, c resources.Component) error {
	props, err := c.Properties(ctx, l.propertyOptions(env))
	if err != nil {
		return err
	}
	s, err := secretstores.Registry.Create(c.Spec.Type, c.Spec.Version)
	if err != nil {
		return err
	}
	if err := initWithTimeout(ctx, c, func(ctx context.Context) error {
		return s.Init(ctx, secretstores.Metadata{Name: c.Name(), Properties: props, Namespace: env.namespace})
	}); err != nil {
		_ = s.Close()
		return err
	}
	version := registry.NormalizeVersion(c.Spec.Version)
	l.secrets = append(l.secrets, &secretstores.Component{Name: c.Name(), Type: c.Spec.Type, Version: version, Store: s})
	var caps []string
	for _, f := range s.Features() {
		caps = append(caps, string(f))
	}
	l.register(c, version, caps, s.Close)
	return nil
}

func (l *loaded) loadLock(ctx context.Context, env componentEnv, c resources.Component) error {
	props, err := c.Properties(ctx, l.propertyOptions(env))
	if err != nil {
		return err
	}
	prefix, err := lockPrefix(lookupFold(props, "keyPrefix"), env.appID, c.Name())
	if err != nil {
		return err
	}
	s, err := lock.Registry.Create(c.Spec.Type, c.Spec.Version)
	if err != nil {
		return err
	}
	if err := initWithTimeout(ctx, c, func(ctx context.Context) error {
		return s.Init(ctx, lock.Metadata{Name: c.Name(), Properties: props})
	}); err != nil {
		_ = s.Close()
		return err
	}
	version := registry.NormalizeVersion(c.Spec.Version)
	l.locks = append(l.locks, &lock.Component{Name: c.Name(), Type: c.Spec.Type, Version: version, Store: s, Prefix: prefix})
	l.register(c, version, nil, s.Close)
	return nil
}

// lockPrefix applies Dapr's keyPrefix rules for lock stores: appid
// (default), name, none, or a custom value (no namespace strategy).
func lockPrefix(strategy, appID, name string) (string, error) {
	if strings.Contains(strategy, "||") {
		return "", fmt.Errorf("keyPrefix %q must not contain \"||\"", strategy)
	}
	switch strings.ToLower(strategy) {
	case "", "appid":
		return appID, nil
	case "name":
		return name, nil
	case "none":
		return "", nil
	}
	return strategy, nil
}

func (l *loaded) loadConfiguration(ctx context.Context, env componentEnv, c resources.Component) error {
	props, err := c.Properties(ctx, l.propertyOptions(env))
	if err != nil {
		return err
	}
	s, err := configuration.Registry.Create(c.Spec.Type, c.Spec.Version)
	if err != nil {
		return err
	}
	if err := initWithTimeout(ctx, c, func(ctx context.Context) error {
		return s.Init(ctx, configuration.Metadata{Name: c.Name(), Properties: props})
	}); err != nil {
		_ = s.Close()
		return err
	}
	version := registry.NormalizeVersion(c.Spec.Version)
	l.configs = append(l.configs, &configuration.Component{Name: c.Name(), Type: c.Spec.Type, Version: version, Store: s})
	l.register(c, version, nil, s.Close)
	return nil
}

// loadBinding instantiates a binding as input, output or both, as its
// type supports and its `direction` metadata allows.
func (l *loaded) loadBinding(ctx context.Context, env componentEnv, c resources.Component) error {
	props, err := c.Properties(ctx, l.propertyOptions(env))
	if err != nil {
		return err
	}
	wantIn, wantOut := bindingDirections(lookupFold(props, "direction"))
	version := registry.NormalizeVersion(c.Spec.Version)
	md := bindings.Metadata{Name: c.Name(), Properties: props}
	var caps []string
	var errs []error
	if wantOut {
		if out, err := bindings.Outputs.Create(c.Spec.Type, c.Spec.Version); err == nil {
			if err := initWithTimeout(ctx, c, func(ctx context.Context) error { return out.Init(ctx, md) }); err != nil {
				_ = out.Close()
				return err
			}
			l.outputs = append(l.outputs, &api.OutputBinding{Name: c.Name(), Type: c.Spec.Type, Version: version, Binding: out})
			l.closers = append(l.closers, out.Close)
			caps = append(caps, "OUTPUT_BINDING")
		} else {
			errs = append(errs, err)
		}
	}
	if wantIn {
		if in, err := bindings.Inputs.Create(c.Spec.Type, c.Spec.Version); err == nil {
			if err := initWithTimeout(ctx, c, func(ctx context.Context) error { return in.Init(ctx, md) }); err != nil {
				_ = in.Close()
				return err
			}
			l.inputs = append(l.inputs, &inputs.Binding{Name: c.Name(), Route: bindings.InputRoute(c.Name(), props), Input: in, Explicit: bindings.ExplicitInput(props)})
			l.closers = append(l.closers, in.Close)
			caps = append(caps, "INPUT_BINDING")
		} else {
			errs = append(errs, err)
		}
	}
	if len(caps) == 0 {
		if len(errs) > 0 {
			return errs[0]
		}
		return fmt.Errorf("binding has no usable direction (direction %q)", lookupFold(props, "direction"))
	}
	l.registered = append(l.registered, &runtimev1.RegisteredComponents{Name: c.Name(), Type: c.Spec.Type, Version: version, Capabilities: caps})
	return nil
}

// bindingDirections reads the `direction` metadata: "input", "output" or
// both (comma-separated); empty means both, limited by what the type supports.
func bindingDirections(v string) (in, out bool) {
	if strings.TrimSpace(v) == "" {
		return true, true
	}
	for _, d := range strings.Split(v, ",") {
		switch strings.ToLower(strings.TrimSpace(d)) {
		case "input":
			in = true
		case "output":
			out = true
		}
	}
	return in, out
}
