package bench

import (
	"bufio"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// Machine describes the CPU and its float32 peak.
type Machine struct {
	Model string `json:"cpu_model"`
	// Vendor and Family are /proc/cpuinfo's vendor_id and cpu family (AuthenticAMD 25: Zen 3/4).
	Vendor string `json:"cpu_vendor,omitempty"`
	Family int    `json:"cpu_family,omitempty"`
	// Cores is the number of logical CPUs usable by this process (runtime.NumCPU).
	Cores int `json:"cores"`
	// MHz is the clock read from /proc/cpuinfo ("cpu MHz": the nominal/TSC clock on a VM; turbo
	// is not seen, so the peak may be underestimated by the turbo ratio).
	MHz float64 `json:"mhz"`
	// VectorBits is the widest float32 SIMD width the CPU flags announce (512 avx512f, 256 avx2/avx,
	// 128 sse).
	VectorBits int `json:"vector_bits"`
	// FMA is whether the CPU has fused multiply-add; FMAUnits the FMA pipes of VectorBits per core
	// assumed (FMAUnitsFor unless given).
	FMA      bool `json:"fma"`
	FMAUnits int  `json:"fma_units"`
	// PeakGFLOPS = Cores × MHz/1000 × (VectorBits/32 lanes) × 2 (FMA: multiply + add) × FMAUnits.
	PeakGFLOPS float64 `json:"peak_gflops_fp32"`
	Formula    string  `json:"peak_formula"`
	MemTotalKB int64   `json:"mem_total_kb"`
}

// DefaultFMAUnits is the number of full-width FMA pipes per core assumed unless FMAUnitsFor knows
// better: AVX-512 Xeons (Skylake-SP Gold/Platinum and later server cores) and AVX2 cores have two;
// a VM does not expose it.
const DefaultFMAUnits = 2

// FMAUnitsFor returns the FMA pipes of vectorBits width per core of a CPU by its vendor_id and
// cpu family: 1 for AVX-512 on AMD family 25 (Zen 4, whose two 256-bit FMA pipes execute a 512-bit
// FMA as two halves: 32 float32 FLOP per cycle, as with AVX2), else DefaultFMAUnits.
func FMAUnitsFor(vendor string, family, vectorBits int) int {
	if vendor == "AuthenticAMD" && family == 25 && vectorBits == 512 {
		return 1
	}
	return DefaultFMAUnits
}

// ReadMachine reads /proc/cpuinfo and /proc/meminfo (Linux); fmaUnits ≤ 0 means FMAUnitsFor the CPU.
func ReadMachine(fmaUnits int) Machine {
	m := Machine{Cores: runtime.NumCPU(), FMAUnits: fmaUnits}
	var flags map[string]bool
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			key, value, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			key, value = strings.TrimSpace(key), strings.TrimSpace(value)
			switch {
			case key == "model name" && m.Model == "":
				m.Model = value
			case key == "vendor_id" && m.Vendor == "":
				m.Vendor = value
			case key == "cpu family" && m.Family == 0:
				m.Family, _ = strconv.Atoi(value)
			case key == "cpu MHz" && m.MHz == 0:
				m.MHz, _ = strconv.ParseFloat(value, 64)
			case key == "flags" && flags == nil:
				flags = map[string]bool{}
				for _, fl := range strings.Fields(value) {
					flags[fl] = true
				}
			}
		}
	}
	m.VectorBits, m.FMA = VectorWidth(flags)
	if m.FMAUnits <= 0 {
		m.FMAUnits = FMAUnitsFor(m.Vendor, m.Family, m.VectorBits)
	}
	m.PeakGFLOPS, m.Formula = Peak(m.Cores, m.MHz, m.VectorBits, m.FMA, m.FMAUnits)
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				m.MemTotalKB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			}
		}
	}
	return m
}

// VectorWidth returns the widest float32 vector width in bits announced by CPU flags, and whether
// the CPU has FMA.
func VectorWidth(flags map[string]bool) (bits int, fma bool) {
	switch {
	case flags["avx512f"]:
		bits = 512
	case flags["avx2"], flags["avx"]:
		bits = 256
	case flags["sse"], flags["sse2"]:
		bits = 128
	default:
		bits = 32
	}
	return bits, flags["fma"] || flags["avx512f"]
}

// Peak returns the float32 peak in GFLOP/s and its formula: cores × GHz × lanes × 2 (if FMA:
// a multiply and an add per lane) × FMA units.
func Peak(cores int, mhz float64, vectorBits int, fma bool, fmaUnits int) (float64, string) {
	lanes := vectorBits / 32
	perFMA := 1
	if fma {
		perFMA = 2
	}
	peak := float64(cores) * mhz / 1000 * float64(lanes) * float64(perFMA) * float64(fmaUnits)
	formula := strconv.Itoa(cores) + " cores × " + strconv.FormatFloat(mhz/1000, 'f', 3, 64) + " GHz × " +
		strconv.Itoa(lanes) + " float32 lanes × " + strconv.Itoa(perFMA) + " FLOP/FMA × " + strconv.Itoa(fmaUnits) + " FMA units"
	return peak, formula
}

// Median returns the median of xs (NaN-free; 0 for none).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
