package datasets

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/pkg/errors"
)

// Set is a list of CIFAR images with their labels, in the compact form of the binary files.
type Set struct {
	// Name identifies the set in reports, e.g. "train", "test", "train[0,55,58]".
	Name string
	// Pixels holds Len()*3072 bytes: each record as in the file, the R, G, B planes of 32×32,
	// row-major (CHW).
	Pixels []uint8
	// Labels holds one label per image, in 0..NumClasses()-1: the fine label, or the remapped
	// label of a subset.
	Labels []int32
	// Coarse holds the original coarse label of each image (CIFAR-100); nil for CIFAR-10.
	Coarse []int32
	// CoarseNames maps a coarse label to its name (the 20 superclasses of CIFAR-100); nil for CIFAR-10.
	CoarseNames []string
	// ClassIDs maps a label to the original class id (the identity for full sets).
	ClassIDs []int
	// ClassNames maps a label to its class name.
	ClassNames []string
}

// newSet builds a full set from parsed records, with identity class ids.
func newSet(name string, recs *records, classNames []string) *Set {
	ids := make([]int, len(classNames))
	for i := range ids {
		ids[i] = i
	}
	return &Set{Name: name, Pixels: recs.pixels, Labels: recs.labels, Coarse: recs.coarse,
		ClassIDs: ids, ClassNames: slices.Clone(classNames)}
}

// CoarseOfClass returns the coarse label (superclass) of each label of s: CIFAR-100's fine classes
// each belong to one of 20 superclasses. It fails if s has no coarse labels or if two images of one
// class have different coarse labels (the files would be damaged).
func (s *Set) CoarseOfClass() ([]int, error) {
	if s.Coarse == nil {
		return nil, errors.Errorf("%s has no coarse labels (CIFAR-100 only)", s.Name)
	}
	if len(s.Coarse) != len(s.Labels) {
		return nil, errors.Errorf("%s has %d coarse labels for %d images", s.Name, len(s.Coarse), len(s.Labels))
	}
	of := make([]int, s.NumClasses())
	for i := range of {
		of[i] = -1
	}
	for i, label := range s.Labels {
		c := int(s.Coarse[i])
		switch {
		case of[label] < 0:
			of[label] = c
		case of[label] != c:
			return nil, errors.Errorf("%s: class %q has images of coarse labels %d and %d (image %d)",
				s.Name, s.ClassNames[label], of[label], c, i)
		}
	}
	return of, nil
}

// Len returns the number of images.
func (s *Set) Len() int { return len(s.Labels) }

// NumClasses returns the number of classes (labels run over 0..NumClasses()-1).
func (s *Set) NumClasses() int { return len(s.ClassIDs) }

// Record returns the 3072 bytes of image i, in CHW order, sharing the memory of s.Pixels.
// Like slice indexing, it panics if i is out of 0..Len()-1.
func (s *Set) Record(i int) []uint8 {
	return s.Pixels[i*RecordPixels : (i+1)*RecordPixels : (i+1)*RecordPixels]
}

// ClassName returns the class name of image i.
func (s *Set) ClassName(i int) string { return s.ClassNames[s.Labels[i]] }

// Subset returns the images of the given classes, identified by their original ids, with labels
// remapped to 0..k-1 in the given order; ClassIDs and ClassNames keep the original ids and names.
// The pixels are copied, so the subset does not keep s alive.
func (s *Set) Subset(classIDs ...int) (*Set, error) {
	if len(classIDs) == 0 {
		return nil, errors.Errorf("subset of %s: no class given", s.Name)
	}
	remap := make(map[int32]int32, len(classIDs)) // Label in s → label in the subset.
	for newLabel, id := range classIDs {
		oldLabel := slices.Index(s.ClassIDs, id)
		if oldLabel < 0 {
			return nil, errors.Errorf("subset of %s: class id %d is not in the set (its ids are %s)",
				s.Name, id, idRange(s.ClassIDs))
		}
		if _, dup := remap[int32(oldLabel)]; dup {
			return nil, errors.Errorf("subset of %s: class id %d (%s) given twice", s.Name, id, s.ClassNames[oldLabel])
		}
		remap[int32(oldLabel)] = int32(newLabel)
	}
	sub := &Set{Name: subsetName(s.Name, classIDs), ClassIDs: slices.Clone(classIDs), CoarseNames: slices.Clone(s.CoarseNames)}
	for _, id := range classIDs {
		sub.ClassNames = append(sub.ClassNames, s.ClassNames[slices.Index(s.ClassIDs, id)])
	}
	for i, label := range s.Labels {
		newLabel, ok := remap[label]
		if !ok {
			continue
		}
		sub.Labels = append(sub.Labels, newLabel)
		sub.Pixels = append(sub.Pixels, s.Record(i)...)
		if s.Coarse != nil {
			sub.Coarse = append(sub.Coarse, s.Coarse[i])
		}
	}
	return sub, nil
}

// FirstPerClass returns the first k images of every class of s, in the order of s, with the
// same labels and classes: a smaller, class-balanced set for short experiments (e.g. k = 100 of
// CIFAR-100's 500 training images per class). It fails if k < 1 or a class has fewer than k images.
// The pixels are copied.
func (s *Set) FirstPerClass(k int) (*Set, error) {
	if k < 1 {
		return nil, errors.Errorf("first %d images per class of %s: want k ≥ 1", k, s.Name)
	}
	counts := make([]int, s.NumClasses())
	sub := &Set{Name: fmt.Sprintf("%s, %d per class", s.Name, k), ClassIDs: slices.Clone(s.ClassIDs),
		ClassNames: slices.Clone(s.ClassNames), CoarseNames: slices.Clone(s.CoarseNames)}
	for i, label := range s.Labels {
		if counts[label] == k {
			continue
		}
		counts[label]++
		sub.Labels = append(sub.Labels, label)
		sub.Pixels = append(sub.Pixels, s.Record(i)...)
		if s.Coarse != nil {
			sub.Coarse = append(sub.Coarse, s.Coarse[i])
		}
	}
	for label, n := range counts {
		if n < k {
			return nil, errors.Errorf("first %d images per class of %s: class %d (%s) has only %d", k, s.Name, label, s.ClassNames[label], n)
		}
	}
	return sub, nil
}

// idRange describes a list of class ids compactly for errors: "0..99" when contiguous.
func idRange(ids []int) string {
	contiguous := len(ids) > 0
	for i, id := range ids {
		contiguous = contiguous && id == ids[0]+i
	}
	if contiguous {
		return fmt.Sprintf("%d..%d", ids[0], ids[len(ids)-1])
	}
	return fmt.Sprint(ids)
}

// subsetName returns "name[id1,id2,...]".
func subsetName(name string, ids []int) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(id)
	}
	return name + "[" + strings.Join(parts, ",") + "]"
}

// Subset returns the train and test images of the given fine classes, each given by id ("58") or
// name ("pickup_truck"), with labels remapped to 0..k-1 in the given order.
func (d *CIFAR100) Subset(classes ...string) (train, test *Set, err error) {
	ids, err := ClassIDs(d.FineNames, classes...)
	if err != nil {
		return nil, nil, errors.WithMessage(err, "CIFAR-100 subset")
	}
	if train, err = d.Train.Subset(ids...); err != nil {
		return nil, nil, err
	}
	if test, err = d.Test.Subset(ids...); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// ClassIDs resolves classes given by id ("58") or by name ("pickup_truck") against the list of
// class names, returning their ids in the given order.
func ClassIDs(names []string, classes ...string) ([]int, error) {
	ids := make([]int, 0, len(classes))
	for _, class := range classes {
		class = strings.TrimSpace(class)
		if id, err := strconv.Atoi(class); err == nil {
			if id < 0 || id >= len(names) {
				return nil, errors.Errorf("class id %d out of range 0..%d", id, len(names)-1)
			}
			ids = append(ids, id)
			continue
		}
		id := slices.Index(names, class)
		if id < 0 {
			return nil, errors.Errorf("unknown class name %q (not one of the %d class names)", class, len(names))
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// LectureMean and LectureStd are the lecture's per-channel (R, G, B) normalisation constants for
// CIFAR-100, in [0,1] scale. ChannelStats reproduces them to 4 decimals on the 60,000 images of
// train and test together (Concat(d.Train, d.Test)); on the training set alone it gives
// mean [0.5071 0.4865 0.4409] and std [0.2009 0.1984 0.2023].
var (
	LectureMean = [3]float32{0.5074, 0.4867, 0.4411}
	LectureStd  = [3]float32{0.2011, 0.1987, 0.2025}
)

// ChannelStats returns the per-channel (R, G, B) mean and standard deviation of the images of s,
// scaled to [0,1], defined as the lecture's constants are:
//
//   - mean: over all pixels of all images;
//   - std: the average over images of each image's own per-channel standard deviation, with
//     Bessel's correction (divided by 1024-1, as torch.Tensor.std does by default). It measures the
//     contrast within an image and is smaller than the standard deviation of all pixels pooled
//     together (see PooledChannelStats).
func ChannelStats(s *Set) (mean, std [3]float64) {
	n := s.Len()
	if n == 0 {
		return mean, std
	}
	const planeSize = ImageSize * ImageSize
	var sums [3]uint64
	var stdSums [3]float64
	for i := range n {
		rec := s.Record(i)
		for c := range Channels {
			var sum, sumSq uint64
			for _, v := range rec[c*planeSize : (c+1)*planeSize] {
				sum += uint64(v)
				sumSq += uint64(v) * uint64(v)
			}
			sums[c] += sum
			// Unbiased variance in exact integer arithmetic: (N·Σv² − (Σv)²) / (N·(N−1)).
			variance := float64(planeSize*sumSq-sum*sum) / float64(planeSize*(planeSize-1))
			stdSums[c] += math.Sqrt(variance) / 255
		}
	}
	for c := range Channels {
		mean[c] = float64(sums[c]) / float64(n*planeSize) / 255
		std[c] = stdSums[c] / float64(n)
	}
	return mean, std
}

// Concat returns a set with the images of all sets in order (e.g. train and test together for
// ChannelStats). The sets must have the same classes; the pixels are copied.
func Concat(sets ...*Set) (*Set, error) {
	if len(sets) == 0 {
		return nil, errors.New("concat: no set given")
	}
	first := sets[0]
	out := &Set{ClassIDs: slices.Clone(first.ClassIDs), ClassNames: slices.Clone(first.ClassNames), CoarseNames: slices.Clone(first.CoarseNames)}
	names := make([]string, len(sets))
	for i, s := range sets {
		names[i] = s.Name
		if !slices.Equal(s.ClassIDs, first.ClassIDs) || !slices.Equal(s.ClassNames, first.ClassNames) {
			return nil, errors.Errorf("concat: set %q has classes %v, set %q has %v", s.Name, s.ClassIDs, first.Name, first.ClassIDs)
		}
		if (s.Coarse == nil) != (first.Coarse == nil) {
			return nil, errors.Errorf("concat: set %q and set %q differ in having coarse labels", s.Name, first.Name)
		}
		out.Pixels = append(out.Pixels, s.Pixels...)
		out.Labels = append(out.Labels, s.Labels...)
		if s.Coarse != nil {
			out.Coarse = append(out.Coarse, s.Coarse...)
		}
	}
	out.Name = strings.Join(names, "+")
	return out, nil
}

// PooledChannelStats returns the per-channel (R, G, B) mean and standard deviation over all pixels
// of s pooled together, in [0,1] scale (population standard deviation). For the CIFAR-100 training
// set this is the often quoted std ≈ [0.2673, 0.2564, 0.2762].
func PooledChannelStats(s *Set) (mean, std [3]float64) {
	n := s.Len()
	if n == 0 {
		return mean, std
	}
	const planeSize = ImageSize * ImageSize
	var sums, sumSqs [3]uint64
	for i := range n {
		rec := s.Record(i)
		for c := range Channels {
			for _, v := range rec[c*planeSize : (c+1)*planeSize] {
				sums[c] += uint64(v)
				sumSqs[c] += uint64(v) * uint64(v)
			}
		}
	}
	count := float64(n * planeSize)
	for c := range Channels {
		m := float64(sums[c]) / count
		mean[c] = m / 255
		std[c] = math.Sqrt(max(0, float64(sumSqs[c])/count-m*m)) / 255
	}
	return mean, std
}

// CHWToHWC returns the transpose of a [3,32,32] record (channel planes, as stored) into [32,32,3]
// (interleaved R,G,B per pixel, as image libraries use). It fails if len(chw) != 3072.
func CHWToHWC[T any](chw []T) ([]T, error) {
	if err := checkRecordLen(len(chw)); err != nil {
		return nil, err
	}
	const planeSize = ImageSize * ImageSize
	hwc := make([]T, RecordPixels)
	for c := range Channels {
		for p := range planeSize {
			hwc[p*Channels+c] = chw[c*planeSize+p]
		}
	}
	return hwc, nil
}

// HWCToCHW is the inverse of CHWToHWC: [32,32,3] → [3,32,32]. It fails if len(hwc) != 3072.
func HWCToCHW[T any](hwc []T) ([]T, error) {
	if err := checkRecordLen(len(hwc)); err != nil {
		return nil, err
	}
	const planeSize = ImageSize * ImageSize
	chw := make([]T, RecordPixels)
	for c := range Channels {
		for p := range planeSize {
			chw[c*planeSize+p] = hwc[p*Channels+c]
		}
	}
	return chw, nil
}

// checkRecordLen fails if n is not the number of values of a record.
func checkRecordLen(n int) error {
	if n != RecordPixels {
		return errors.Errorf("record has %d values, want %d (3×32×32)", n, RecordPixels)
	}
	return nil
}

// SHA256 returns the hex sha256 of the set's content: its images, labels and class ids (not its
// name), to tell whether two sets hold the same data.
func (s *Set) SHA256() string {
	h := sha256.New()
	var buf [8]byte
	writeInt := func(v int64) {
		binary.LittleEndian.PutUint64(buf[:], uint64(v))
		h.Write(buf[:])
	}
	writeInt(int64(s.Len()))
	h.Write(s.Pixels)
	for _, l := range s.Labels {
		writeInt(int64(l))
	}
	writeInt(int64(len(s.ClassIDs)))
	for _, id := range s.ClassIDs {
		writeInt(int64(id))
	}
	return hex.EncodeToString(h.Sum(nil))
}
