//go:build unix

package dirlock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// holderEnv makes the test binary a helper process that locks the directory it names, prints
// "locked <pid>" or the error, and holds the lock until its stdin closes or it is killed.
const holderEnv = "DIRLOCK_TEST_HOLD"

// testDeadline bounds each helper process.
const testDeadline = 30 * time.Second

func TestMain(m *testing.M) {
	if dir := os.Getenv(holderEnv); dir != "" {
		os.Exit(hold(dir))
	}
	os.Exit(m.Run())
}

// hold is the helper process: it locks dir and waits for stdin to close.
func hold(dir string) int {
	l, err := Acquire(dir)
	if err != nil {
		fmt.Println("error:", err)
		return 3
	}
	fmt.Printf("locked %d stale %d\n", os.Getpid(), l.StalePID)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	if err := l.Release(); err != nil {
		fmt.Println("error:", err)
		return 4
	}
	return 0
}

// helper is a running helper process.
type helper struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
	line  string // Its first output line.
}

// startHelper starts a helper process on dir and waits for its first line.
func startHelper(t *testing.T, ctx context.Context, dir string) *helper {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holderEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("helper on %s: no output line: %v", dir, err)
	}
	return &helper{cmd: cmd, stdin: stdin, line: strings.TrimSpace(line)}
}

func TestTwoProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "out")
	first := startHelper(t, ctx, dir)
	firstPID := first.cmd.Process.Pid
	if want := fmt.Sprintf("locked %d stale 0", firstPID); first.line != want {
		t.Fatalf("first helper: %q, want %q", first.line, want)
	}

	second := startHelper(t, ctx, dir)
	err := second.cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("second helper while the first holds %s: %v, want exit 3", dir, err)
	}
	for _, want := range []string{"directory " + dir + " is in use by process " + strconv.Itoa(firstPID), FileName} {
		if !strings.Contains(second.line, want) {
			t.Errorf("second helper said %q; want it to contain %q", second.line, want)
		}
	}

	// kill -9 the holder: its lock goes with it, its PID stays in the file.
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	third := startHelper(t, ctx, dir)
	if want := fmt.Sprintf("locked %d stale %d", third.cmd.Process.Pid, firstPID); third.line != want {
		t.Fatalf("helper after kill -9 of the holder: %q, want %q", third.line, want)
	}
	_ = third.stdin.Close()
	if err := third.cmd.Wait(); err != nil {
		t.Fatalf("third helper: %v", err)
	}

	// Released cleanly: no stale PID for the next one.
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Release() }()
	if l.StalePID != 0 {
		t.Errorf("after a clean release: stale PID %d, want 0", l.StalePID)
	}
}

func TestAcquireInProcess(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	var busy *BusyError
	if !errors.As(err, &busy) || busy.PID != os.Getpid() || busy.Dir != dir {
		t.Fatalf("second Acquire: %v, want a BusyError naming PID %d", err, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l, err = Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	_ = l.Release()
}
