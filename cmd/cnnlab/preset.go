package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/pkg/errors"
)

// presets are named sets of flag values for `cnnlab train --preset NAME`; flags given on the
// command line (and in a --config file) override them. Values are flag syntax.
func presets() map[string]map[string]string {
	return map[string]map[string]string{
		// The full CIFAR-100 in under an hour of training on 2 CPU cores (xla:cpu): ConvNet7BN with a
		// whitened stem (--whiten) and the fast-training recipe (training.CIFAR100Recipe) with
		// airbench's alternating flip, 12 epochs. The warm-up is a fraction of the steps, so
		// --epochs N rescales the whole schedule to N epochs. The test set (10,000 images, two
		// passes each with flip TTA: about 40 s on 2 cores) is evaluated after every third epoch
		// and the last, not after every one, to keep the evaluations' share of the hour small.
		"cifar100-1h": {
			"model": "convnet7-bn", "classes": "all", "whiten": "true", "epochs": "12", "batch": "512",
			"optimizer": "momentum", "lr": "0.4", "momentum": "0.9", "nesterov": "true",
			"decoupled-wd": "0.005", "warmup": "0.2", "warmup-start": "0.1", "lr-final": "0",
			"label-smoothing": "0.2", "augment": "true", "translate": "2", "alt-flip": "true", "tta": "true",
			"checkpoint-every": "100", "test-every": "3", "out": "out/cifar100-1h",
		},
	}
}

// presetNames returns the preset names, sorted.
func presetNames() []string {
	var names []string
	for name := range presets() {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// applyDefaults sets every flag of values that was not given on the command line (explicit) to
// its value; what names the source of the values in errors.
func applyDefaults(fs *flag.FlagSet, values map[string]string, explicit map[string]bool, what string) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, name := range keys {
		if fs.Lookup(name) == nil {
			return errors.Errorf("%s: unknown flag %q", what, name)
		}
		if explicit[name] {
			continue
		}
		if err := fs.Set(name, values[name]); err != nil {
			return errors.Wrapf(err, "%s: flag %s=%q", what, name, values[name])
		}
		explicit[name] = true
	}
	return nil
}

// applyPresetAndConfig applies, under the flags given on the command line, first the values of a
// --config file (a JSON object of flag names to values, e.g. {"lr": 0.4, "nesterov": true}) and
// then those of the named preset.
func applyPresetAndConfig(fs *flag.FlagSet, preset, configFile string) error {
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if configFile != "" {
		values, err := readFlagConfig(configFile)
		if err != nil {
			return err
		}
		if err := applyDefaults(fs, values, explicit, "config "+configFile); err != nil {
			return err
		}
	}
	if preset == "" {
		return nil
	}
	values, ok := presets()[preset]
	if !ok {
		return errors.Errorf("unknown preset %q: choose %s", preset, strings.Join(presetNames(), ", "))
	}
	return applyDefaults(fs, values, explicit, "preset "+preset)
}

// readFlagConfig reads a JSON object of flag names to values (strings, numbers or booleans).
func readFlagConfig(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Wrap(err, "reading the config file")
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, errors.Wrapf(err, "config %s: want a JSON object of flag names to values", path)
	}
	values := map[string]string{}
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			values[k] = v
		case bool, float64:
			values[k] = fmt.Sprint(v)
		default:
			return nil, errors.Errorf("config %s: flag %q has a %T value; want a string, number or boolean", path, k, v)
		}
	}
	return values, nil
}
