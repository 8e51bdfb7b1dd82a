// Package backend forwards to github.com/cnnlab/cnnlab/backend during the move of backend
// selection to a public package (notebooks import it). To be removed once no file imports it.
package backend

import (
	"github.com/cnnlab/cnnlab/backend"
	"github.com/gomlx/compute"
)

// EnvVar is backend.EnvVar.
const EnvVar = backend.EnvVar

// ErrXLAPluginMissing is backend.ErrXLAPluginMissing.
var ErrXLAPluginMissing = backend.ErrXLAPluginMissing

// New is backend.New.
func New(flagValue string) (compute.Backend, error) { return backend.New(flagValue) }

// Resolve is backend.Resolve.
func Resolve(flagValue string) string { return backend.Resolve(flagValue) }

// Describe is backend.Describe.
func Describe(b compute.Backend) string { return backend.Describe(b) }

// CheckPlugin is backend.CheckPlugin.
func CheckPlugin(name string) error { return backend.CheckPlugin(name) }

// Default is backend.Default.
const Default = backend.Default

// Supported is backend.Supported.
var Supported = backend.Supported
