// Package lecture holds the worked examples of the lecture's slides ("Сверточные нейронные сети"),
// computed with the model's own layers (package cnn) so that a notebook shows the library doing
// exactly what the slides do by hand:
//
//   - the convolution by hand (HandConvolution: a depthwise cnn.Conv2d for the per-channel sums
//     308, −498, 164 and the full cnn.Conv2d plus ConvBias for −25);
//   - stride and padding (RunConv2D with StrideOptions, and SlideStrideOutputErratum for the
//     slide's misprinted figure), zero and replicate padding (RunPad2D over cnn.Pad2D);
//   - pooling (RunPool2D builds the cnn.MaxPool2d or cnn.AvgPool2d layer a model trains with and
//     runs it through cnn.RunLayer), and the output-size formula ⌊(n + 2p − k)/s⌋ + 1
//     (cnn.OutputSize);
//   - the 3-class experiment: its classes (ClassIDs, ClassNames) and the classification reports
//     the slides publish (Reports), for side-by-side comparison (metrics.SideBySide).
//
// The values of the slides are small integers (or quarters), so every result here is exact in
// float32 whatever the order of summation.
package lecture
