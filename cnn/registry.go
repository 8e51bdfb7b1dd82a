package cnn

// layerTypes is the registry of layer types by Type(): JSON decoding, and through it checkpoints,
// summaries and exports, know a layer from here. Adding a layer type is its own file plus one line
// here. The map is never written after initialisation.
var layerTypes = map[string]func() Layer{
	"Normalize":       func() Layer { return &Normalize{} },
	"Conv2d":          func() Layer { return &Conv2d{} },
	"ReLU":            func() Layer { return &ReLU{} },
	"GELU":            func() Layer { return &GELU{} },
	"LeakyReLU":       func() Layer { return &LeakyReLU{} },
	"AvgPool2d":       func() Layer { return &AvgPool2d{} },
	"MaxPool2d":       func() Layer { return &MaxPool2d{} },
	"GlobalAvgPool2d": func() Layer { return &GlobalAvgPool2d{} },
	"GlobalMaxPool2d": func() Layer { return &GlobalMaxPool2d{} },
	"Flatten":         func() Layer { return &Flatten{} },
	"Linear":          func() Layer { return &Linear{} },
	"Scale":           func() Layer { return &Scale{} },
	"BatchNorm2d":     func() Layer { return &BatchNorm2d{} },
	"Dropout":         func() Layer { return &Dropout{} },
	"Sequential":      func() Layer { return &Sequential{} },
	"Residual":        func() Layer { return &Residual{} },
}
