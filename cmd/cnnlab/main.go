// Command cnnlab runs the experiments of the lecture "Сверточные нейронные сети" on CIFAR-100.
//
// Usage:
//
//	cnnlab <command> [flags]
//
// Run "cnnlab help" for the list of commands and "cnnlab <command> --help" for their flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/cnnlab/cnnlab/backend"
)

// command is one sub-command of cnnlab.
type command struct {
	// summary is the one-line description shown by "cnnlab help".
	summary string
	// run parses args (without the command name) and runs the command, writing its report to stdout.
	run func(args []string, stdout io.Writer) error
}

// commands returns the sub-commands by name. Each lives in a file of its own.
func commands() map[string]command {
	return map[string]command{
		"models":    {"list the model zoo: the lecture's networks and the residual ones (names for --model)", runModels},
		"bench":     {"measure training/inference throughput, compile time and memory (docs/benchmarks.md)", runBench},
		"export":    {"export a saved model to ONNX (standard ops, dynamic batch, class labels in metadata)", runExport},
		"serve":     {"serve the browser demo (web/dist) and an exported model on 127.0.0.1:8080", runServe},
		"smoke":     {"run a small conv net forward and backward on a backend (checks the set-up)", runSmoke},
		"reproduce": {"run the lecture's 3-class experiment end to end (CNN, MLP baseline, reports)", runReproduce},
		"train":     {"train a model on CIFAR-100 classes and save it with its history and reports", runTrain},
		"eval":      {"evaluate a saved model: classification report and confusion matrix", runEval},
		"predict":   {"top-5 classes of JPEG/PNG images with a saved model", runPredict},
		"summary":   {"print a model's layer table (torchsummary format)", runSummary},
	}
}

func main() {
	// XLA's CPU buffers on transparent huge pages: glibc reads its tunables only at process start.
	if err := backend.ReexecWithHugePages(); err != nil {
		fmt.Fprintf(os.Stderr, "cnnlab: %v; running without\n", err)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches args to a sub-command and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, found := cmds[args[0]]
	if !found {
		fmt.Fprintf(stderr, "cnnlab: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	if err := cmd.run(args[1:], stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "cnnlab %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// usage prints the list of commands.
func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "cnnlab: the lecture's convolutional networks on CIFAR-100, in Go with GoMLX.")
	fmt.Fprintln(w, "\nUsage: cnnlab <command> [flags]   (cnnlab <command> --help for the flags)\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, cmds[name].summary)
	}
}

// newFlagSet returns a flag set for a sub-command that reports errors instead of exiting.
func newFlagSet(name, usageLine string) *flag.FlagSet {
	fs := flag.NewFlagSet("cnnlab "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: cnnlab %s %s\n\nFlags:\n", name, usageLine)
		fs.PrintDefaults()
	}
	return fs
}
