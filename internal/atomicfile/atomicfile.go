// Package atomicfile writes files so that readers never see a partial one: the content goes to a
// temporary file in the same directory, is synced, and only then renamed over the destination. On
// any error the temporary file is removed and the destination is left as it was.
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"

	"github.com/pkg/errors"
)

// Write creates path with the bytes write produces (through a buffered writer).
func Write(path string, write func(w io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return errors.Wrapf(err, "writing %s", path)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	buffered := bufio.NewWriter(f)
	if err = write(buffered); err != nil {
		return errors.WithMessagef(err, "writing %s", path)
	}
	if err = buffered.Flush(); err != nil {
		return errors.Wrapf(err, "writing %s", tmp)
	}
	if err = f.Sync(); err != nil {
		return errors.Wrapf(err, "syncing %s", tmp)
	}
	if err = f.Close(); err != nil {
		return errors.Wrapf(err, "closing %s", tmp)
	}
	if err = os.Rename(tmp, path); err != nil {
		return errors.Wrapf(err, "renaming %s to %s", tmp, path)
	}
	return nil
}

// WriteFile creates path with data.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
