// Package datasets gets CIFAR-100 (and CIFAR-10) right for the lecture "Сверточные нейронные сети".
//
// It covers every step from the official binary tarballs to GoMLX training batches:
//
//   - Download (EnsureCIFAR100, EnsureCIFAR10): fetch the official tarball into a cache directory
//     (DefaultDir, overridable with $CNNLAB_DATA_DIR), resume an interrupted download with an HTTP
//     Range request, verify its sha256, extract it in pure Go into a temporary directory and rename
//     it into place only once the extracted files verified. A server that stalls (no byte for
//     DownloadOptions.StallTimeout, headers included) fails with the URL and the bytes that arrived,
//     the partial file kept to resume; no more than the official archive size is ever read;
//     progress is a bar on a terminal and a line per tenth of the archive otherwise (logs). A directory that already verifies is
//     used as is, without any network access.
//   - Parsing (LoadCIFAR100, LoadCIFAR10): the binary records (label byte(s) followed by 3072
//     bytes: the R, G and B planes of a 32×32 image, each row-major) into a compact Set of uint8
//     pixels with int32 labels and the class names.
//   - Class subsets (Set.Subset, CIFAR100.Subset): the lecture's apple/otter/pickup_truck
//     experiment, labels remapped to 0..k-1 while the original ids and names are kept.
//   - Layouts: a record as [3,32,32] (CHW, as stored) or [32,32,3] (HWC) via CHWToHWC and
//     HWCToCHW, batches in NCHW (default) or NHWC, ChannelStats for the normalisation constants
//     (LectureMean, LectureStd), ToImage, WriteGridPNG and LoadImageFile for pictures.
//   - Batches (NewBatches): a github.com/gomlx/gomlx/ml/train.Dataset that prepares float32 batches
//     in parallel workers ahead of the trainer, with seeded shuffling and optional augmentation.
//
// Nothing in this package hard-codes where the data lives: it is DefaultDir() or a directory the
// caller passes (the --data flag of the commands).
package datasets
