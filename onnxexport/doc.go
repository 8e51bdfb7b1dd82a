// Package onnxexport writes cnnlab models with their trained weights as ONNX files, the last step
// of the lecture "Сверточные нейронные сети": the exported network runs outside Go, in ONNX
// Runtime (native or in a web page, see web/ and "cnnlab serve").
//
// The graph is emitted directly from the model description (cnn.Model), layer by layer, with the
// ONNX protobuf types of github.com/gomlx/compute-onnx/support/protos, so that it is the graph
// torch.onnx.export gives for the lecture's PyTorch model: Sub and Div (normalisation), Conv, Relu,
// Conv, Relu, AveragePool (or MaxPool), Flatten and Gemm, with the weights as named initializers in
// PyTorch layout named by the layer's scope ("01_Conv2d.weight", "05_Residual/body/00_Conv2d.weight", ...), a dynamic batch axis "N", the input "images"
// [N,3,32,32] float32 in [0,1] and the output "logits" [N,classes]. The class ids and names and the
// normalisation constants are in the model's metadata_props (see the Meta* keys).
//
// GoMLX's own exporter (ml/model/onnx) was not used: it traces the compiled GoMLX graph, so the
// file shows GoMLX's lowered operations instead of the lecture's layers, the weights become
// anonymous constants, and its convolutions only export with a static batch size (a dynamic batch
// fails in its shape inference).
//
// Besides Export (and ExportFile, ExportDir), the package offers what a notebook needs to look at
// the result: Inspect (op list, opset, size, metadata), Load (the ONNX file back into a GoMLX graph,
// to run it on a cnnlab backend) and the ONNX Runtime checks through Python (CheckWithORT), with
// Compare for the parity figures.
package onnxexport
