package main

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pkg/errors"
)

const (
	// cudaPJRTPackage is the wheel that carries XLA's CUDA PJRT plugin.
	cudaPJRTPackage = "jax-cuda13-pjrt"
	// cudaPJRTVersion is the JAX release whose XLA built the CPU plugin cnnlab uses.
	cudaPJRTVersion = "0.11.2"
	// cudaPJRTMember is the plugin's path inside the cudaPJRTPackage wheel.
	cudaPJRTMember = "jax_plugins/xla_cuda13/xla_cuda_plugin.so"
	// cudaPluginFile is the name go-xla loads the CUDA plugin by, in <go-xla>/nvidia/.
	cudaPluginFile = "pjrt_c_api_cuda_plugin.so"
	// cudaStampFile, in <go-xla>/nvidia/, holds the sha256 of the lock the directory was built from;
	// it is written last, so its presence means a complete install.
	cudaStampFile = ".requirements-gpu.sha256"
	// ptxasTarget is where the CUDA 13 wheels put the assembler, relative to <go-xla>/nvidia.
	ptxasTarget = "cu13/bin/ptxas"
)

// cublasLinks are the libraries go-xla's installer links into the "lib" directory above go-xla/,
// because the CUDA libraries cannot find them from the SDK path alone.
func cublasLinks() []string { return []string{"libcublasLt.so.13", "libcublas.so.13"} }

// pinnedWheel is a downloaded wheel whose name, version and sha256 matched the lock.
type pinnedWheel struct {
	path string
	name string
}

// verifyWheels checks the directory wheelsDir against the lock: every file is a wheel of a locked
// package at its locked version with one of its locked sha256 digests, and every locked package has
// exactly one wheel. It returns the wheels sorted by package name.
func verifyWheels(wheelsDir string, lock map[string]lockEntry) ([]pinnedWheel, error) {
	dirEntries, err := os.ReadDir(wheelsDir)
	if err != nil {
		return nil, errors.Wrap(err, "listing the downloaded wheels")
	}
	found := map[string]pinnedWheel{}
	for _, de := range dirEntries {
		path := filepath.Join(wheelsDir, de.Name())
		if !de.Type().IsRegular() {
			return nil, errors.Errorf("refusing %s: not a regular file (only the wheels of the lock belong in %s)", path, wheelsDir)
		}
		name, version, err := wheelNameVersion(de.Name())
		if err != nil {
			return nil, errors.Wrapf(err, "refusing %s", path)
		}
		entry, ok := lock[name]
		if !ok {
			return nil, errors.Errorf("refusing %s: %s is not pinned in the lock", path, name)
		}
		if version != entry.Version {
			return nil, errors.Errorf("refusing %s: version %s, but the lock pins %s==%s", path, version, name, entry.Version)
		}
		if prev, dup := found[name]; dup {
			return nil, errors.Errorf("refusing %s: a second wheel of %s (first: %s)", path, name, prev.path)
		}
		if err := verifySHA256(path, entry.Hashes...); err != nil {
			return nil, err
		}
		found[name] = pinnedWheel{path: path, name: name}
	}
	var missing []string
	for name, entry := range lock {
		if _, ok := found[name]; !ok {
			missing = append(missing, name+"=="+entry.Version)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, errors.Errorf("%s lacks the wheels of %s (pinned in the lock)", wheelsDir, strings.Join(missing, ", "))
	}
	wheels := make([]pinnedWheel, 0, len(found))
	for _, w := range found {
		wheels = append(wheels, w)
	}
	sort.Slice(wheels, func(i, j int) bool { return wheels[i].name < wheels[j].name })
	return wheels, nil
}

// installCUDA lays out the CUDA PJRT plugin and the NVIDIA libraries under goxla (a ".../lib/go-xla"
// directory) as go-xla's installer (installer.CudaInstall) does, from the wheels in wheelsDir, each
// first checked against the lock at lockPath:
//
//	<goxla>/nvidia/pjrt_c_api_cuda_plugin.so   the plugin, from the jax-cuda13-pjrt wheel
//	<goxla>/nvidia/<cu13, cudnn, ...>          the nvidia/ tree of every nvidia-* wheel
//	<goxla>/nvidia/bin/ptxas                   a link to cu13/bin/ptxas
//	<goxla>/../libcublas.so.13, libcublasLt.so.13   links into nvidia/cu13/lib
//
// The new nvidia/ directory is built beside the old one and swapped in only when complete.
func installCUDA(wheelsDir, lockPath, goxla string) (err error) {
	lock, err := parseLock(lockPath)
	if err != nil {
		return err
	}
	pjrt, ok := lock[cudaPJRTPackage]
	if !ok || pjrt.Version != cudaPJRTVersion {
		return errors.Errorf("the lock %s must pin %s==%s (the plugin of the JAX release cnnlab uses)", lockPath, cudaPJRTPackage, cudaPJRTVersion)
	}
	lockSum, err := fileSHA256(lockPath)
	if err != nil {
		return err
	}
	wheels, err := verifyWheels(wheelsDir, lock)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(goxla, 0o755); err != nil {
		return errors.Wrap(err, "creating the go-xla directory")
	}
	tmp, err := os.MkdirTemp(goxla, ".nvidia.tmp-")
	if err != nil {
		return errors.Wrap(err, "creating a temporary nvidia directory")
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return errors.Wrapf(err, "making %s readable", tmp)
	}
	for _, w := range wheels {
		switch {
		case w.name == cudaPJRTPackage:
			err = extractZipMember(w.path, cudaPJRTMember, filepath.Join(tmp, cudaPluginFile), 0o755)
		case strings.HasPrefix(w.name, "nvidia"):
			err = extractZipDir(w.path, "nvidia", tmp)
		}
		if err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(tmp, filepath.FromSlash(ptxasTarget))); err != nil {
		return errors.Wrapf(err, "no ptxas in the NVIDIA wheels (want nvidia/%s, from nvidia-cuda-nvcc)", ptxasTarget)
	}
	for _, lib := range cublasLinks() {
		if _, err := os.Stat(filepath.Join(tmp, "cu13", "lib", lib)); err != nil {
			return errors.Wrapf(err, "no %s in the NVIDIA wheels (want nvidia/cu13/lib/%s, from nvidia-cublas)", lib, lib)
		}
	}
	if err := os.MkdirAll(filepath.Join(tmp, "bin"), 0o755); err != nil {
		return errors.Wrap(err, "creating nvidia/bin")
	}
	if err := os.Symlink(filepath.Join("..", filepath.FromSlash(ptxasTarget)), filepath.Join(tmp, "bin", "ptxas")); err != nil {
		return errors.Wrap(err, "linking nvidia/bin/ptxas")
	}
	if err := os.WriteFile(filepath.Join(tmp, cudaStampFile), []byte(lockSum+"\n"), 0o644); err != nil {
		return errors.Wrap(err, "writing the install's stamp")
	}
	if err := swapDir(tmp, filepath.Join(goxla, "nvidia")); err != nil {
		return err
	}
	libDir := filepath.Dir(goxla)
	for _, lib := range cublasLinks() {
		target := "./" + filepath.Base(goxla) + "/nvidia/cu13/lib/" + lib
		if err := replaceSymlink(target, filepath.Join(libDir, lib)); err != nil {
			return err
		}
	}
	return nil
}

// swapDir replaces the directory dst by src (both in the same directory): dst is moved aside, src
// renamed to dst, and the old tree removed.
func swapDir(src, dst string) error {
	old := ""
	if _, err := os.Lstat(dst); err == nil {
		old = fmt.Sprintf("%s.old-%d", filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)), os.Getpid())
		_ = os.RemoveAll(old)
		if err := os.Rename(dst, old); err != nil {
			return errors.Wrapf(err, "moving the old %s aside", dst)
		}
	} else if !os.IsNotExist(err) {
		return errors.Wrapf(err, "checking %s", dst)
	}
	if err := os.Rename(src, dst); err != nil {
		if old != "" {
			_ = os.Rename(old, dst)
		}
		return errors.Wrapf(err, "moving %s to %s", src, dst)
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return errors.Wrapf(err, "removing the old tree %s", old)
		}
	}
	return nil
}

// replaceSymlink makes link a symbolic link to target, replacing whatever link was there.
func replaceSymlink(target, link string) error {
	tmp := fmt.Sprintf("%s.tmp-%d", link, os.Getpid())
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return errors.Wrapf(err, "linking %s to %s", link, target)
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return errors.Wrapf(err, "linking %s to %s", link, target)
	}
	return nil
}

// safeJoin joins the slash-separated archive path rel to dir, refusing absolute paths and paths
// that leave dir.
func safeJoin(dir, rel string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(rel))
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return "", errors.Errorf("archive entry %q leaves the target directory", rel)
	}
	return filepath.Join(dir, clean), nil
}

// extractZipMember writes the archive member name of the zip file at zipPath to out, with mode.
func extractZipMember(zipPath, name, out string, mode os.FileMode) error {
	r, err := zip.OpenReader(zipPath)
	if err != nil {
		return errors.Wrapf(err, "opening the wheel %s", zipPath)
	}
	defer func() { _ = r.Close() }()
	for _, f := range r.File {
		if f.Name == name {
			return errors.Wrapf(writeZipFile(f, out, mode), "extracting %s from %s", name, zipPath)
		}
	}
	return errors.Errorf("the wheel %s has no %s", zipPath, name)
}

// extractZipDir writes every file under the archive directory prefix of the zip file at zipPath into
// dir, keeping the tree below prefix (as go-xla's installer.ExtractDirFromZip does).
func extractZipDir(zipPath, prefix, dir string) error {
	r, err := zip.OpenReader(zipPath)
	if err != nil {
		return errors.Wrapf(err, "opening the wheel %s", zipPath)
	}
	defer func() { _ = r.Close() }()
	for _, f := range r.File {
		rel, ok := strings.CutPrefix(f.Name, prefix+"/")
		if !ok || rel == "" {
			continue
		}
		out, err := safeJoin(dir, rel)
		if err != nil {
			return errors.Wrapf(err, "refusing the wheel %s", zipPath)
		}
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(out, 0o755); err != nil {
				return errors.Wrapf(err, "extracting %s", zipPath)
			}
			continue
		}
		if !f.Mode().IsRegular() {
			return errors.Errorf("refusing the wheel %s: %s is not a regular file", zipPath, f.Name)
		}
		mode := f.Mode().Perm()
		if mode == 0 {
			mode = 0o644
		}
		if strings.Contains(rel, "/bin/") || strings.HasPrefix(rel, "bin/") {
			mode = 0o755
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return errors.Wrapf(err, "extracting %s", zipPath)
		}
		if err := writeZipFile(f, out, mode); err != nil {
			return errors.Wrapf(err, "extracting %s from %s", f.Name, zipPath)
		}
	}
	return nil
}

// writeZipFile copies the zip member f to a new file out with mode (less the umask).
func writeZipFile(f *zip.File, out string, mode os.FileMode) (err error) {
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()
	w, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}()
	_, err = io.Copy(w, rc)
	return err
}
