package backend

import (
	"os"
	"runtime"
	"strings"
	"syscall"

	"github.com/pkg/errors"
)

// HugePagesEnv turns off the transparent huge pages of ReexecWithHugePages when set to 0, off or
// false.
const HugePagesEnv = "CNNLAB_HUGEPAGES"

// HugePagesTunable is the glibc (≥ 2.35) malloc tunable that asks the kernel for transparent huge
// pages (madvise MADV_HUGEPAGE) for the memory malloc maps: XLA's CPU runtime allocates each
// step's large buffers afresh, and with 4 KiB pages every first touch of them is a page fault.
// With it a ConvNet7BN training step at batch 512 on 2 cores takes 45 times fewer page faults and
// about a quarter less time (docs/benchmarks.md).
const HugePagesTunable = "glibc.malloc.hugetlb=1"

// tunablesEnv is glibc's environment variable of tunables, read when a process starts.
const tunablesEnv = "GLIBC_TUNABLES"

// HugePages reports whether this process runs with HugePagesTunable (in GLIBC_TUNABLES).
func HugePages() bool {
	for _, t := range strings.Split(os.Getenv(tunablesEnv), ":") {
		if t == HugePagesTunable {
			return true
		}
	}
	return false
}

// hugePagesWanted reports whether ReexecWithHugePages should restart the process: on Linux, unless
// HugePagesEnv turns it off or GLIBC_TUNABLES already sets the tunable (to any value).
func hugePagesWanted() bool {
	if runtime.GOOS != "linux" {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(os.Getenv(HugePagesEnv))) {
	case "0", "off", "false", "no":
		return false
	}
	return !strings.Contains(os.Getenv(tunablesEnv), "glibc.malloc.hugetlb=")
}

// ReexecWithHugePages restarts the running program (the same executable, arguments and
// environment) with HugePagesTunable added to GLIBC_TUNABLES, which glibc reads only at process
// start; a main function calls it first. It returns without doing anything when the tunable is
// already set, when HugePagesEnv is 0 or off, or off Linux; on success it does not return. The
// kernel decides in the end: with /sys/kernel/mm/transparent_hugepage/enabled at "never" the
// tunable changes nothing.
func ReexecWithHugePages() error {
	if !hugePagesWanted() {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return errors.Wrap(err, "huge pages: finding the executable to restart")
	}
	tunables := HugePagesTunable
	if old := os.Getenv(tunablesEnv); old != "" {
		tunables = old + ":" + HugePagesTunable
	}
	env := []string{tunablesEnv + "=" + tunables}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, tunablesEnv+"=") {
			env = append(env, kv)
		}
	}
	return errors.Wrapf(syscall.Exec(exe, os.Args, env), "huge pages: restarting %s with %s=%s (set %s=0 to run without)", exe, tunablesEnv, tunables, HugePagesEnv)
}

// MemoryNote describes how this process allocates memory, for the line that names the backend:
// "malloc with transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1)" or "malloc without
// huge pages".
func MemoryNote() string {
	if HugePages() {
		return "malloc with transparent huge pages (" + tunablesEnv + "=" + HugePagesTunable + ")"
	}
	return "malloc without huge pages"
}
