// Package metrics evaluates predictions: Accuracy, ConfusionMatrix (and FormatConfusionMatrix),
// and ClassificationReport, whose Report prints exactly as scikit-learn's
// classification_report(digits=4), so that results compare line by line with the lecture's
// (SideBySide). It knows nothing of models: its inputs are label slices.
package metrics
