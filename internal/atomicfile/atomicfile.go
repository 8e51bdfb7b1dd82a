// Package atomicfile writes files so that readers never see a partial one: the content goes to a
// temporary file in the same directory, is synced, and only then renamed over the destination. On
// any error the temporary file is removed and the destination is left as it was.
//
// File modes follow os.Create: a new file gets 0666 less the umask, an existing file keeps its
// mode, and a destination that is a symbolic link stays one: the file it points to is replaced.
package atomicfile

import (
	"bufio"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pkg/errors"
)

// maxSymlinks bounds the chain of symbolic links followed from a destination (as the kernel does).
const maxSymlinks = 40

// Write creates path with the bytes write produces (through a buffered writer).
func Write(path string, write func(w io.Writer) error) (err error) {
	dest, mode, err := destination(path)
	if err != nil {
		return err
	}
	f, err := createTemp(dest)
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
	if mode != 0 {
		if err = f.Chmod(mode); err != nil {
			return errors.Wrapf(err, "keeping the mode %v of %s", mode, dest)
		}
	}
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
	if err = os.Rename(tmp, dest); err != nil {
		return errors.Wrapf(err, "renaming %s to %s", tmp, dest)
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

// destination follows the symbolic links from path and returns the file to replace, with the
// permission bits to keep (0 if it does not exist yet: the umask decides).
func destination(path string) (string, fs.FileMode, error) {
	dest := path
	for range maxSymlinks {
		info, err := os.Lstat(dest)
		if errors.Is(err, fs.ErrNotExist) {
			return dest, 0, nil
		}
		if err != nil {
			return "", 0, errors.Wrapf(err, "writing %s", path)
		}
		if info.Mode()&fs.ModeSymlink == 0 {
			if !info.Mode().IsRegular() {
				return "", 0, errors.Errorf("writing %s: %s is not a regular file", path, dest)
			}
			return dest, info.Mode().Perm(), nil
		}
		link, err := os.Readlink(dest)
		if err != nil {
			return "", 0, errors.Wrapf(err, "writing %s: following the symbolic link", path)
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(dest), link)
		}
		dest = link
	}
	return "", 0, errors.Errorf("writing %s: more than %d symbolic links", path, maxSymlinks)
}

// createTemp creates a new temporary file beside dest with mode 0666 less the umask, as os.Create
// would (os.CreateTemp would make it 0600).
func createTemp(dest string) (*os.File, error) {
	prefix := filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-")
	for range 10000 {
		f, err := os.OpenFile(prefix+strconv.FormatUint(rand.Uint64(), 36), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, errors.Errorf("no free temporary name %s*", prefix)
}
