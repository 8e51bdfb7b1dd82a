package lecture

// The lecture's 3-class experiment: its classes and the reports its slides publish.

import "github.com/cnnlab/cnnlab/metrics"

// ClassIDs are the CIFAR-100 fine classes of the lecture's experiment, as the --classes flag takes
// them: apple (0), otter (55) and pickup_truck (58).
func ClassIDs() []string { return []string{"0", "55", "58"} }

// ClassNames are the three CIFAR-100 classes of the lecture's small experiment, in the
// order of its reports.
func ClassNames() []string { return []string{"apple", "otter", "pickup_truck"} }

// Reports returns the classification reports the lecture publishes for its 3-class
// experiment (apple, otter, pickup_truck; 500 training and 100 test images per class).
//
// The slides print rounded scores only; the reports are rebuilt from the unique integer counts
// that reproduce them, so that the averages are derived rather than copied:
//
//   - train: every class has 500 samples, all predicted right (1.0000 everywhere).
//   - test: recall = TP/100 gives TP = 97, 86, 85 (0.9700, 0.8600, 0.8500); precision = TP/predicted
//     gives 105, 101, 94 predictions (97/105 = 0.9238, 86/101 = 0.8515, 85/94 = 0.9043), which add
//     up to the 300 test images; F1 = 2·TP/(predicted + 100) = 0.9463, 0.8557, 0.8763; accuracy
//     268/300 = 0.8933.
//
// The derived averages (not printed in this form on the slides) are macro precision
// (97/105 + 86/101 + 85/94)/3 = 0.8932, macro recall 0.8933 and macro F1 0.8928; with equal
// supports the weighted averages are the same.
func Reports() (train, test *metrics.Report) {
	names := ClassNames()
	train = metrics.ReportFromCounts(names, []int{500, 500, 500}, []int{500, 500, 500}, []int{500, 500, 500})
	test = metrics.ReportFromCounts(names, []int{97, 86, 85}, []int{105, 101, 94}, []int{100, 100, 100})
	return train, test
}
