package backend

import (
	"runtime"
	"testing"
)

// TestHugePagesWanted checks when ReexecWithHugePages restarts the process and what HugePages and
// MemoryNote say for each GLIBC_TUNABLES value.
func TestHugePagesWanted(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("glibc tunables: Linux only")
	}
	for _, tc := range []struct {
		tunables, flag string
		wanted, on     bool
	}{
		{"", "", true, false},
		{"glibc.malloc.check=0", "", true, false},
		{"glibc.malloc.check=0:glibc.malloc.hugetlb=1", "", false, true},
		{"glibc.malloc.hugetlb=1", "", false, true},
		{"glibc.malloc.hugetlb=0", "", false, false},
		{"", "0", false, false},
		{"", "off", false, false},
		{"", "1", true, false},
	} {
		t.Setenv(tunablesEnv, tc.tunables)
		t.Setenv(HugePagesEnv, tc.flag)
		if got := hugePagesWanted(); got != tc.wanted {
			t.Errorf("GLIBC_TUNABLES=%q %s=%q: restart wanted %v, want %v", tc.tunables, HugePagesEnv, tc.flag, got, tc.wanted)
		}
		if got := HugePages(); got != tc.on {
			t.Errorf("GLIBC_TUNABLES=%q: HugePages() = %v, want %v", tc.tunables, got, tc.on)
		}
		want := "malloc without huge pages"
		if tc.on {
			want = "malloc with transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1)"
		}
		if got := MemoryNote(); got != want {
			t.Errorf("GLIBC_TUNABLES=%q: MemoryNote() = %q, want %q", tc.tunables, got, want)
		}
	}
}
