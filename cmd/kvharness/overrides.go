package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/kvharness/kvharness/scenarios"
)

// overrides are the flags of `run` that override scenario fields. Each is
// declared once, with the field it sets; after parsing, the flags the user
// set are applied to the loaded scenario in the order declared.
type overrides struct {
	fs   *pflag.FlagSet
	list []override
}

type override struct {
	name  string
	apply func(s *scenarios.Scenario) error
}

func newOverrides(fs *pflag.FlagSet) *overrides { return &overrides{fs: fs} }

func (o *overrides) add(name string, apply func(s *scenarios.Scenario) error) {
	o.list = append(o.list, override{name, apply})
}

// set reports whether the user gave the flag.
func (o *overrides) set(name string) bool { return o.fs.Changed(name) }

// applyTo overrides s with the flags that were set.
// load reads the scenario args name (a file or built-in; none: default)
// and applies the flags given.
func (o *overrides) load(args []string) (*scenarios.Scenario, error) {
	name := "default"
	if len(args) > 0 {
		name = args[0]
	}
	sc, err := scenarios.Load(name)
	if err != nil {
		return nil, err
	}
	return sc, o.applyTo(sc)
}

func (o *overrides) applyTo(s *scenarios.Scenario) error {
	for _, ov := range o.list {
		if o.set(ov.name) {
			if err := ov.apply(s); err != nil {
				return err
			}
		}
	}
	return nil
}

// positive: a count flag given explicitly must be at least 1 (0 would
// silently mean "the default").
func positive[T int | int64 | float64 | time.Duration](name string, v T) error {
	if v <= 0 {
		return fmt.Errorf("--%s must be positive", name)
	}
	return nil
}

// countField is a count that must be at least 1 when given.
func (o *overrides) countField(name, usage string, field func(*scenarios.Scenario) *int) {
	v := o.fs.Int(name, 0, usage)
	o.add(name, func(s *scenarios.Scenario) error {
		*field(s) = *v
		return positive(name, *v)
	})
}

// intField's range is the scenario field's (scenarios.Validate).
func (o *overrides) intField(name, usage string, field func(*scenarios.Scenario) *int) {
	v := o.fs.Int(name, 0, usage)
	o.add(name, func(s *scenarios.Scenario) error {
		*field(s) = *v
		return nil
	})
}

// durationField's range is the scenario field's; 0 means the default.
func (o *overrides) durationField(name, usage string, field func(*scenarios.Scenario) *time.Duration) {
	v := o.fs.Duration(name, 0, usage)
	o.add(name, func(s *scenarios.Scenario) error {
		*field(s) = *v
		return nil
	})
}

func (o *overrides) floatField(name, usage string, field func(*scenarios.Scenario) *float64) {
	v := o.fs.Float64(name, 0, usage)
	o.add(name, func(s *scenarios.Scenario) error {
		*field(s) = *v
		return nil
	})
}

func (o *overrides) stringField(name, usage string, field func(*scenarios.Scenario) *string) {
	v := o.fs.String(name, "", usage)
	o.add(name, func(s *scenarios.Scenario) error {
		*field(s) = *v
		return nil
	})
}

func (o *overrides) boolField(name, usage string, field func(*scenarios.Scenario) *bool) {
	v := o.fs.Bool(name, false, usage)
	o.add(name, func(s *scenarios.Scenario) error {
		*field(s) = *v
		return nil
	})
}

// parsed: a flag whose text apply interprets.
func (o *overrides) parsed(name, usage string, apply func(s *scenarios.Scenario, text string) error) {
	v := o.fs.String(name, "", usage)
	o.add(name, func(s *scenarios.Scenario) error { return apply(s, *v) })
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
