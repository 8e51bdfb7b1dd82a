//go:build unix

// Package dirlock gives one process at a time a directory: an exclusive flock(2) on a lock file
// in it, which holds the owner's PID. The kernel drops the lock when its process dies, however it
// dies, so a lock left by a killed run never blocks the next one: the next one takes it over and
// is told the PID that held it.
package dirlock

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/pkg/errors"
)

// FileName is the name of the lock file in a locked directory.
const FileName = ".cnnlab.lock"

// Lock is the exclusive hold of a directory, until Release or the end of the process.
type Lock struct {
	file *os.File
	// Path is the lock file.
	Path string
	// StalePID is the PID recorded by a previous holder that is gone without releasing (killed),
	// or 0.
	StalePID int
}

// BusyError is the error of Acquire on a directory another process holds.
type BusyError struct {
	// Dir is the directory asked for.
	Dir string
	// PID is the holder's process id (0 if it did not write it yet).
	PID int
}

// Error names the directory and the holder.
func (e *BusyError) Error() string {
	holder := "another process"
	if e.PID > 0 {
		holder = fmt.Sprintf("process %d", e.PID)
	}
	return fmt.Sprintf("directory %s is in use by %s (lock %s); wait for it to finish or use another directory",
		e.Dir, holder, filepath.Join(e.Dir, FileName))
}

// Acquire creates dir if needed and locks it for this process, without waiting: if another
// process holds it, the error is a *BusyError naming that process.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, errors.Wrapf(err, "creating directory %s", dir)
	}
	path := filepath.Join(dir, FileName)
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		return nil, errors.Wrapf(err, "opening lock file %s", path)
	}
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid := readPID(file)
		_ = file.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &BusyError{Dir: dir, PID: pid}
		}
		return nil, errors.Wrapf(err, "locking %s", path)
	}
	l := &Lock{file: file, Path: path}
	if pid := readPID(file); pid > 0 && pid != os.Getpid() {
		l.StalePID = pid
	}
	if err := l.writePID(); err != nil {
		_ = l.Release()
		return nil, err
	}
	return l, nil
}

// writePID replaces the content of the lock file by this process's PID.
func (l *Lock) writePID() error {
	if err := l.file.Truncate(0); err != nil {
		return errors.Wrapf(err, "truncating lock file %s", l.Path)
	}
	if _, err := l.file.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return errors.Wrapf(err, "writing lock file %s", l.Path)
	}
	return nil
}

// Release empties the lock file (no PID: nothing stale) and unlocks the directory.
func (l *Lock) Release() error {
	_ = l.file.Truncate(0)
	if err := syscall.Flock(int(l.file.Fd()), syscall.LOCK_UN); err != nil {
		_ = l.file.Close()
		return errors.Wrapf(err, "unlocking %s", l.Path)
	}
	return errors.Wrapf(l.file.Close(), "closing lock file %s", l.Path)
}

// readPID returns the PID written in the lock file, or 0.
func readPID(file *os.File) int {
	buf := make([]byte, 32)
	n, _ := file.ReadAt(buf, 0) // io.EOF with the bytes there.
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
