// Package backend selects the GoMLX compute backend cnnlab runs on, in one place.
//
// The choice comes, in order of precedence, from an explicit value (the --backend flag of the
// command line tools), the GOMLX_BACKEND environment variable, and the default "xla:cpu".
// Supported values are "xla:cpu", "xla:cuda" and "go" (GoMLX's pure-Go backend).
//
// cnnlab never falls back silently: when the XLA PJRT plugin is missing, New fails with an error
// that names the setup command and the "go" alternative. Callers print Describe(b) so every run
// says which backend it used.
package backend

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // Registers the "go" backend.
	"github.com/gomlx/go-xla/compute/xla"  // Registers the "xla" backend (without upstream's auto-installer).
	"github.com/gomlx/go-xla/pjrt"
	"github.com/pkg/errors"
)

const (
	// EnvVar is the environment variable that selects the backend when no flag is given.
	EnvVar = compute.ConfigEnvVar

	// Default is the backend used when neither a flag nor EnvVar says otherwise.
	Default = "xla:cpu"

	// SetupHint is the command that installs the XLA PJRT plugins, quoted in errors.
	SetupHint = "make setup (or: bash scripts/setup.sh; add --gpu for CUDA)"
)

// Supported lists the backend configurations cnnlab accepts.
var Supported = []string{"xla:cpu", "xla:cuda", "go"}

// ErrXLAPluginMissing is returned (wrapped) by New when the requested PJRT plugin is not installed.
var ErrXLAPluginMissing = errors.New("XLA PJRT plugin not installed")

// Resolve returns the backend configuration to use: flagValue if not empty, else $GOMLX_BACKEND,
// else Default. It normalises the aliases "xla" (→ "xla:cpu"), "cpu" and "cuda".
func Resolve(flagValue string) string {
	config := strings.TrimSpace(flagValue)
	if config == "" {
		config = strings.TrimSpace(os.Getenv(EnvVar))
	}
	if config == "" {
		config = Default
	}
	switch config {
	case "xla", "cpu":
		return "xla:cpu"
	case "cuda", "gpu", "xla:gpu":
		return "xla:cuda"
	}
	return config
}

// Validate checks that config is one of Supported.
func Validate(config string) error {
	if !slices.Contains(Supported, config) {
		return errors.Errorf("unknown backend %q: choose one of %s (flag --backend or $%s)",
			config, strings.Join(Supported, ", "), EnvVar)
	}
	return nil
}

// New creates the backend named by Resolve(flagValue). For XLA it first checks that the PJRT plugin
// is installed and otherwise fails with ErrXLAPluginMissing and instructions; it never substitutes
// another backend.
func New(flagValue string) (compute.Backend, error) {
	config := Resolve(flagValue)
	if err := Validate(config); err != nil {
		return nil, err
	}
	if plugin, isXLA := strings.CutPrefix(config, "xla:"); isXLA {
		if err := CheckPlugin(plugin); err != nil {
			return nil, err
		}
	}
	b, err := newBackend(config)
	if err != nil {
		return nil, errors.WithMessagef(err, "creating GoMLX backend %q", config)
	}
	return b, nil
}

// newBackend calls compute.NewWithConfig, turning its panics (e.g. an unregistered backend) into errors.
func newBackend(config string) (b compute.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("%v", r)
		}
	}()
	return compute.NewWithConfig(config)
}

// CheckPlugin returns nil if the PJRT plugin with the given name ("cpu", "cuda") can be found,
// and otherwise an error wrapping ErrXLAPluginMissing that says where cnnlab looked and how to fix it.
func CheckPlugin(name string) error {
	if slices.Contains(xla.GetAvailablePlugins(), name) {
		return nil
	}
	searched := os.Getenv(pjrt.PJRTPluginPathsEnv)
	if searched == "" {
		searched = "~/.local/lib/go-xla, /usr/local/lib/go-xla and the system library paths"
	}
	return errors.Wrapf(ErrXLAPluginMissing,
		"backend xla:%s needs the file pjrt_c_api_%s_plugin.so, not found in %s ($%s); "+
			"install it with: %s -- or run on GoMLX's pure-Go backend with --backend go ($%s=go)",
		name, name, searched, pjrt.PJRTPluginPathsEnv, SetupHint, EnvVar)
}

// Describe returns a one-line description of the backend for logs: its name and what it runs on.
// Directories of plugin paths are left out (notebook outputs must not carry machine paths).
func Describe(b compute.Backend) string {
	return "backend " + Details(b)
}

// Details is Describe without its leading word: the backend's name and, in parentheses, its
// description (a plugin's path shortened to its file name), for messages in other languages.
func Details(b compute.Backend) string {
	description := pluginPath.ReplaceAllString(b.Description(), "(${1})")
	return fmt.Sprintf("%s (%s)", b.Name(), description)
}

// pluginPath matches a parenthesised absolute file path, keeping its base name.
var pluginPath = regexp.MustCompile(`\(/(?:[^()/]+/)*([^()/]+)\)`)
