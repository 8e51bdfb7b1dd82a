package main

import (
	"archive/zip"
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// writeZip creates a zip file at path with the given members (name → content).
func writeZip(t *testing.T, path string, members map[string]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := zip.NewWriter(f)
	for name, content := range members {
		hdr := &zip.FileHeader{Name: name, Method: zip.Deflate}
		hdr.SetMode(0o644)
		m, err := w.CreateHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// fakeWheels writes three small wheels shaped like the real ones (the plugin, cuBLAS, the nvcc
// assembler) into a new directory, and a lock pinning them with their sha256; it returns both paths.
func fakeWheels(t *testing.T) (wheelsDir, lockPath string) {
	t.Helper()
	root := t.TempDir()
	wheelsDir = filepath.Join(root, "wheels")
	if err := os.Mkdir(wheelsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	wheels := []struct {
		pkg, version, file string
		members            map[string]string
	}{
		{"jax-cuda13-pjrt", "0.11.2", "jax_cuda13_pjrt-0.11.2-py3-none-manylinux_2_27_x86_64.whl", map[string]string{
			cudaPJRTMember:                            "fake cuda plugin",
			"jax_plugins/xla_cuda13/__init__.py":      "",
			"jax_cuda13_pjrt-0.11.2.dist-info/RECORD": "",
		}},
		{"nvidia-cublas", "13.10.0.20", "nvidia_cublas-13.10.0.20-py3-none-manylinux_2_27_x86_64.whl", map[string]string{
			"nvidia/cu13/lib/libcublas.so.13":   "cublas",
			"nvidia/cu13/lib/libcublasLt.so.13": "cublasLt",
			"nvidia/cu13/include/cublas.h":      "header",
		}},
		{"nvidia-cuda-nvcc", "13.5.37", "nvidia_cuda_nvcc-13.5.37-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl", map[string]string{
			"nvidia/cu13/bin/ptxas": "ptxas",
		}},
	}
	var lock strings.Builder
	lock.WriteString("#\n# a test lock, as pip-compile --generate-hashes writes them\n#\n")
	for _, w := range wheels {
		path := filepath.Join(wheelsDir, w.file)
		writeZip(t, path, w.members)
		sum, err := fileSHA256(path)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&lock, "%s==%s \\\n    --hash=sha256:%s \\\n    --hash=sha256:%s\n    # via -r requirements-gpu.in\n",
			w.pkg, w.version, strings.Repeat("0", 64), sum)
	}
	lockPath = filepath.Join(root, "requirements-gpu.txt")
	if err := os.WriteFile(lockPath, []byte(lock.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return wheelsDir, lockPath
}

func TestInstallCUDAPinnedWheelsLaidOutAsGoXLA(t *testing.T) {
	wheels, lock := fakeWheels(t)
	lib := filepath.Join(t.TempDir(), "lib")
	goxla := filepath.Join(lib, "go-xla")
	if err := installCUDA(wheels, lock, goxla); err != nil {
		t.Fatalf("installCUDA with pinned wheels: %v", err)
	}
	read := func(path string) string {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("after install: %v", err)
		}
		return string(data)
	}
	if got := read(filepath.Join(goxla, "nvidia", cudaPluginFile)); got != "fake cuda plugin" {
		t.Errorf("plugin content %q", got)
	}
	info, err := os.Stat(filepath.Join(goxla, "nvidia", cudaPluginFile))
	if err != nil || info.Mode().Perm()&0o100 == 0 {
		t.Errorf("plugin not executable: %v %v", info.Mode(), err)
	}
	if got := read(filepath.Join(goxla, "nvidia", "bin", "ptxas")); got != "ptxas" {
		t.Errorf("nvidia/bin/ptxas reads %q", got)
	}
	if info, err := os.Stat(filepath.Join(goxla, "nvidia", "cu13", "bin", "ptxas")); err != nil || info.Mode().Perm()&0o100 == 0 {
		t.Errorf("ptxas not executable: %v", err)
	}
	for lib, want := range map[string]string{"libcublas.so.13": "cublas", "libcublasLt.so.13": "cublasLt"} {
		link := filepath.Join(filepath.Dir(goxla), lib)
		target, err := os.Readlink(link)
		if err != nil {
			t.Errorf("%s: %v", link, err)
			continue
		}
		if target != "./go-xla/nvidia/cu13/lib/"+lib {
			t.Errorf("%s → %s, want go-xla's ./go-xla/nvidia/cu13/lib/%s", link, target, lib)
		}
		if got := read(link); got != want {
			t.Errorf("%s reads %q", link, got)
		}
	}
	sum, err := fileSHA256(lock)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(read(filepath.Join(goxla, "nvidia", cudaStampFile))); got != sum {
		t.Errorf("stamp %q, want the lock's sha256 %s", got, sum)
	}
	if _, err := os.Stat(filepath.Join(goxla, "nvidia", "jax_plugins")); !os.IsNotExist(err) {
		t.Errorf("the plugin wheel's other files were extracted too (%v)", err)
	}
	// A second install replaces the tree and leaves no temporary directory behind.
	if err := installCUDA(wheels, lock, goxla); err != nil {
		t.Fatalf("second installCUDA: %v", err)
	}
	entries, err := os.ReadDir(goxla)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "nvidia" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("go-xla/ holds %v after a reinstall, want only nvidia", names)
	}
}

func TestInstallCUDARefusesTamperedWheel(t *testing.T) {
	wheels, lock := fakeWheels(t)
	goxla := filepath.Join(t.TempDir(), "lib", "go-xla")
	tampered := filepath.Join(wheels, "nvidia_cublas-13.10.0.20-py3-none-manylinux_2_27_x86_64.whl")
	before, err := fileSHA256(tampered)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(tampered, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := fileSHA256(tampered)
	if err != nil {
		t.Fatal(err)
	}
	err = installCUDA(wheels, lock, goxla)
	if err == nil {
		t.Fatal("a tampered wheel was accepted")
	}
	for _, want := range []string{"checksum mismatch", tampered, "got sha256 " + after, before} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := os.Stat(goxla); !os.IsNotExist(err) {
		t.Errorf("something was installed after a refused wheel: %v", err)
	}
}

func TestInstallCUDARefusesUnpinnedOrMissingWheels(t *testing.T) {
	t.Run("extra wheel", func(t *testing.T) {
		wheels, lock := fakeWheels(t)
		extra := filepath.Join(wheels, "nvidia_nccl_cu13-2.32.6-py3-none-manylinux_2_27_x86_64.whl")
		writeZip(t, extra, map[string]string{"nvidia/nccl/lib/libnccl.so.2": "nccl"})
		err := installCUDA(wheels, lock, filepath.Join(t.TempDir(), "go-xla"))
		if err == nil || !strings.Contains(err.Error(), "nvidia-nccl-cu13 is not pinned") || !strings.Contains(err.Error(), extra) {
			t.Errorf("an unpinned wheel: got %v", err)
		}
	})
	t.Run("other version", func(t *testing.T) {
		wheels, lock := fakeWheels(t)
		old := filepath.Join(wheels, "nvidia_cuda_nvcc-13.5.37-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl")
		renamed := filepath.Join(wheels, "nvidia_cuda_nvcc-13.0.48-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl")
		if err := os.Rename(old, renamed); err != nil {
			t.Fatal(err)
		}
		err := installCUDA(wheels, lock, filepath.Join(t.TempDir(), "go-xla"))
		if err == nil || !strings.Contains(err.Error(), "version 13.0.48, but the lock pins nvidia-cuda-nvcc==13.5.37") {
			t.Errorf("a wheel of another version: got %v", err)
		}
	})
	t.Run("missing wheel", func(t *testing.T) {
		wheels, lock := fakeWheels(t)
		if err := os.Remove(filepath.Join(wheels, "nvidia_cublas-13.10.0.20-py3-none-manylinux_2_27_x86_64.whl")); err != nil {
			t.Fatal(err)
		}
		err := installCUDA(wheels, lock, filepath.Join(t.TempDir(), "go-xla"))
		if err == nil || !strings.Contains(err.Error(), "lacks the wheels of nvidia-cublas==13.10.0.20") {
			t.Errorf("a missing wheel: got %v", err)
		}
	})
	t.Run("lock without hashes", func(t *testing.T) {
		wheels, _ := fakeWheels(t)
		lock := filepath.Join(t.TempDir(), "requirements-gpu.txt")
		if err := os.WriteFile(lock, []byte("jax-cuda13-pjrt==0.11.2\nnvidia-cublas==13.10.0.20\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := installCUDA(wheels, lock, filepath.Join(t.TempDir(), "go-xla"))
		if err == nil || !strings.Contains(err.Error(), "jax-cuda13-pjrt==0.11.2 has no --hash=sha256") {
			t.Errorf("a lock without hashes: got %v", err)
		}
	})
	t.Run("path leaving the target", func(t *testing.T) {
		wheels, lock := fakeWheels(t)
		evil := filepath.Join(wheels, "nvidia_cuda_nvcc-13.5.37-py3-none-manylinux2014_x86_64.manylinux_2_17_x86_64.whl")
		writeZip(t, evil, map[string]string{"nvidia/cu13/bin/ptxas": "ptxas", "nvidia/../../../escaped": "x"})
		sum, err := fileSHA256(evil)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(lock)
		if err != nil {
			t.Fatal(err)
		}
		pinned := regexp.MustCompile(`(nvidia-cuda-nvcc==13\.5\.37 \\\n(?:.*\n)*?.*--hash=sha256:)[0-9a-f]{64}\n`)
		data = pinned.ReplaceAll(data, []byte("${1}"+sum+"\n"))
		if err := os.WriteFile(lock, data, 0o644); err != nil {
			t.Fatal(err)
		}
		err = installCUDA(wheels, lock, filepath.Join(t.TempDir(), "go-xla"))
		if err == nil || !strings.Contains(err.Error(), "leaves the target directory") {
			t.Errorf("a wheel with ../ paths: got %v", err)
		}
	})
}

// TestCommittedGPULock checks scripts/requirements-gpu.txt: every package is pinned exactly with
// sha256 digests, it holds the plugin at the version xlainstall expects, and every direct
// requirement of scripts/requirements-gpu.in is in it.
func TestCommittedGPULock(t *testing.T) {
	lock, err := parseLock(filepath.Join("..", "requirements-gpu.txt"))
	if err != nil {
		t.Fatalf("the committed lock: %v", err)
	}
	if e := lock[cudaPJRTPackage]; e.Version != cudaPJRTVersion {
		t.Errorf("the lock pins %s==%q, xlainstall wants %s", cudaPJRTPackage, e.Version, cudaPJRTVersion)
	}
	for name, e := range lock {
		if name != cudaPJRTPackage && !strings.HasPrefix(name, "nvidia-") {
			t.Errorf("the GPU lock pins %s==%s, neither the plugin nor an NVIDIA library", name, e.Version)
		}
	}
	in, err := os.Open(filepath.Join("..", "requirements-gpu.in"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = in.Close() }()
	direct := 0
	scanner := bufio.NewScanner(in)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := normalizeName(regexp.MustCompile(`^[A-Za-z0-9._-]+`).FindString(line))
		direct++
		if _, ok := lock[name]; !ok {
			t.Errorf("requirements-gpu.in asks for %s, the lock does not pin it: regenerate the lock", name)
		}
	}
	if direct < 10 {
		t.Errorf("requirements-gpu.in has only %d requirements", direct)
	}
}

func TestParseLockRejectsLoosePins(t *testing.T) {
	hash := " --hash=sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct{ text, want string }{
		{"nvidia-cublas>=13" + hash, "not pinned as name==version"},
		{"nvidia-cublas==13.1" + hash + " --hash=md5:abc", "unexpected"},
		{"nvidia-cublas==13.1 --hash=sha256:abc", "not a sha256 digest"},
		{"nvidia-cublas==13.1", "has no --hash=sha256"},
	} {
		path := filepath.Join(t.TempDir(), "lock.txt")
		if err := os.WriteFile(path, []byte(tc.text+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := parseLock(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseLock(%q): got %v, want an error with %q", tc.text, err, tc.want)
		}
	}
	path := filepath.Join(t.TempDir(), "lock.txt")
	if err := os.WriteFile(path, []byte("a.b==1"+hash+"\nA_b==2"+hash+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parseLock(path); err == nil || !strings.Contains(err.Error(), "pinned twice") {
		t.Errorf("a name pinned twice (PEP 503 spellings): got %v", err)
	}
}
