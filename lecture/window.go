package lecture

import (
	"fmt"
	"image"
	"image/color"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/cnnlab/cnnlab/plot"
	"github.com/pkg/errors"
)

// Window is the position of a convolution's kernel for one output cell: the rows and columns
// [Row, Row+Kernel) × [Col, Col+Kernel) of the padded input.
type Window struct {
	Row, Col, Kernel int
}

// ConvWindows returns, for an n×n input padded by p on each side and a k×k kernel with stride s,
// the output size ⌊(n + 2p − k)/s⌋ + 1 and the window of every output cell in row-major order.
// It is the arithmetic of the "padding and stride" slide, for the notebook's explorer.
func ConvWindows(n, k, p, s int) (int, []Window, error) {
	if n < 1 || k < 1 || p < 0 || s < 1 {
		return 0, nil, errors.Errorf("conv windows: input %d and kernel %d must be ≥ 1, padding %d ≥ 0, stride %d ≥ 1", n, k, p, s)
	}
	if k > n+2*p {
		return 0, nil, errors.Errorf("conv windows: kernel %d larger than the padded input %d", k, n+2*p)
	}
	out := cnn.OutputSize(n, k, s, p)
	windows := make([]Window, 0, out*out)
	for i := range out {
		for j := range out {
			windows = append(windows, Window{Row: i * s, Col: j * s, Kernel: k})
		}
	}
	return out, windows, nil
}

// Colours of DrawWindow.
var (
	windowPadding = color.RGBA{225, 225, 225, 255}
	windowInput   = color.RGBA{120, 160, 210, 255}
	windowKernel  = color.RGBA{240, 150, 40, 255}
)

// DrawWindow draws the padded n×n input (padding p on each side, light gray; input cells blue) with
// the k×k kernel's window for output cell index (row-major) in orange; cells that no window ever
// covers (a stride larger than the kernel skips them) are drawn faded. cell is the size of a grid
// cell in pixels, including its 1-pixel white border.
func DrawWindow(n, k, p, s, index, cell int) (*image.RGBA, error) {
	out, windows, err := ConvWindows(n, k, p, s)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= len(windows) || cell < 3 {
		return nil, errors.Errorf("draw window: output cell %d out of 0..%d, or cell size %d < 3", index, out*out-1, cell)
	}
	size := n + 2*p
	covered := make([]bool, size*size)
	for _, w := range windows {
		for y := w.Row; y < w.Row+k; y++ {
			for x := w.Col; x < w.Col+k; x++ {
				covered[y*size+x] = true
			}
		}
	}
	w := windows[index]
	img := image.NewRGBA(image.Rect(0, 0, size*cell+1, size*cell+1))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for y := range size {
		for x := range size {
			c := windowPadding
			if y >= p && y < p+n && x >= p && x < p+n {
				c = windowInput
			}
			if y >= w.Row && y < w.Row+k && x >= w.Col && x < w.Col+k {
				c = windowKernel
			} else if !covered[y*size+x] {
				c = blend(c, color.RGBA{255, 255, 255, 255})
			}
			for dy := 1; dy < cell; dy++ {
				for dx := 1; dx < cell; dx++ {
					img.SetRGBA(x*cell+dx, y*cell+dy, c)
				}
			}
		}
	}
	return img, nil
}

// blend returns the mean of two colours.
func blend(a, b color.RGBA) color.RGBA {
	return color.RGBA{uint8((int(a.R) + int(b.R)) / 2), uint8((int(a.G) + int(b.G)) / 2), uint8((int(a.B) + int(b.B)) / 2), 255}
}

// WindowsFigure draws the windows of the first maxTiles output cells of ConvWindows(n, k, p, s)
// (all of them when there are fewer), each captioned with its output cell, as a PNG: the kernel
// sliding over the padded input, for the notebook's convolution-arithmetic explorer. It returns the
// PNG and the output size.
func WindowsFigure(n, k, p, s, maxTiles int) ([]byte, int, error) {
	out, windows, err := ConvWindows(n, k, p, s)
	if err != nil {
		return nil, 0, err
	}
	if maxTiles < 1 {
		return nil, 0, errors.Errorf("windows figure: maxTiles %d < 1", maxTiles)
	}
	cell := max(6, min(24, 168/(n+2*p)))
	var tiles []plot.Tile
	for i := range min(len(windows), maxTiles) {
		img, err := DrawWindow(n, k, p, s, i, cell)
		if err != nil {
			return nil, 0, err
		}
		tiles = append(tiles, plot.Tile{Image: img, Caption: fmt.Sprintf("выход (%d, %d)", i/out, i%out)})
	}
	title := fmt.Sprintf("вход %d×%d, ядро %d×%d, padding %d, stride %d → выход %d×%d", n, n, k, k, p, s, out, out)
	if len(windows) > maxTiles {
		title += fmt.Sprintf(" (первые %d окон из %d)", maxTiles, len(windows))
	}
	png, err := plot.TileGrid(title, tiles, min(out, 6), 1)
	if err != nil {
		return nil, 0, err
	}
	return png, out, nil
}
