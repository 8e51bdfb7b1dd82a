//go:build unix

package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteFileModes(t *testing.T) {
	tests := []struct {
		name     string
		umask    int
		existing os.FileMode // Mode of the file there before; 0: none.
		symlink  bool        // Whether the path is a symbolic link to the file.
		want     os.FileMode
	}{
		{"new file, umask 022", 0o022, 0, false, 0o644},
		{"new file, umask 077", 0o077, 0, false, 0o600},
		{"new file, umask 002", 0o002, 0, false, 0o664},
		{"existing 0644 kept", 0o077, 0o644, false, 0o644},
		{"existing 0600 kept", 0o022, 0o600, false, 0o600},
		{"symlink kept, target mode kept", 0o077, 0o640, true, 0o640},
		{"dangling symlink, target created", 0o022, 0, true, 0o644},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer syscall.Umask(syscall.Umask(tc.umask))
			dir := t.TempDir()
			target := filepath.Join(dir, "target.json")
			path := target
			if tc.existing != 0 {
				if err := os.WriteFile(target, []byte("old"), tc.existing); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(target, tc.existing); err != nil {
					t.Fatal(err)
				}
			}
			if tc.symlink {
				path = filepath.Join(dir, "link.json")
				if err := os.Symlink("target.json", path); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFile(path, []byte("new")); err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(target)
			if err != nil {
				t.Fatalf("%s not written: %v", target, err)
			}
			if info.Mode().Perm() != tc.want {
				t.Fatalf("mode of %s: %v; want %v", target, info.Mode(), tc.want)
			}
			if got, _ := os.ReadFile(target); string(got) != "new" {
				t.Errorf("%s holds %q, want %q", target, got, "new")
			}
			if tc.symlink {
				if info, err := os.Lstat(path); err != nil || info.Mode()&os.ModeSymlink == 0 {
					t.Errorf("%s is no longer a symbolic link: %v", path, err)
				}
			}
		})
	}
}
