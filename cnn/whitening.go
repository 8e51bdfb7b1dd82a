package cnn

import (
	"math"
	"sort"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/pkg/errors"
)

// WhiteningEps is the ε of the patch-whitening filters, airbench's: each eigenvector of the patch
// covariance is scaled by 1/√(λ+ε), which keeps the directions of tiny variance from blowing up.
const WhiteningEps = 5e-4

// WhiteningImages is how many training images airbench estimates the patch covariance from.
const WhiteningImages = 5000

// InitWhitening sets the weight of every whitening convolution (Conv2d with Whiten) among the
// model's top-level layers from images, a batch [N,C,H,W] of training images (NCHW float32, as the
// model's input): the images go through the layers before the convolution (as in evaluation, on
// backend b), and its weight becomes WhiteningFilters of their K×K patches. It returns how many
// convolutions it set; a model without any is left as it is.
func (t *Trained) InitWhitening(b compute.Backend, images *tensors.Tensor) (int, error) {
	set := 0
	x := images
	for i, l := range t.Model.Layers {
		c, ok := l.(Conv2d)
		path := LayerScope(i, l)
		if ok && c.Whiten {
			dims := x.Shape().Dimensions
			if len(dims) != 4 || dims[1] != c.In {
				return set, errors.Errorf("whitening layer %s (%s): input of shape %v, want [N,%d,H,W] (NCHW)", path, c, dims, c.In)
			}
			data, err := tensors.CopyFlatData[float32](x)
			if err != nil {
				return set, errors.WithMessagef(err, "whitening layer %s: reading its input", path)
			}
			filters, err := WhiteningFilters(data, dims, c.Kernel, WhiteningEps)
			if err != nil {
				return set, errors.WithMessagef(err, "whitening layer %s (%s)", path, c)
			}
			params, err := t.LayerParams(path)
			if err != nil {
				return set, err
			}
			params["weight"].Data = filters
			if err := t.SetLayerParams(path, params); err != nil {
				return set, err
			}
			set++
		}
		if !hasWhiteningAfter(t.Model.Layers[i+1:]) {
			break
		}
		params, err := t.LayerParams(path)
		if err != nil {
			return set, err
		}
		y, _, err := RunLayer(b, l, x, params, false, 0)
		if err != nil {
			return set, errors.WithMessagef(err, "whitening: the input of the layers after %s", path)
		}
		if x != images {
			_ = x.FinalizeAll()
		}
		x = y
	}
	return set, nil
}

// Whitened reports whether m has a whitening convolution (Conv2d with Whiten) among its
// top-level layers, which Trained.InitWhitening sets from the data.
func (m *Model) Whitened() bool { return hasWhiteningAfter(m.Layers) }

// hasWhiteningAfter reports whether layers contain a whitening convolution.
func hasWhiteningAfter(layers []Layer) bool {
	for _, l := range layers {
		if c, ok := l.(Conv2d); ok && c.Whiten {
			return true
		}
	}
	return false
}

// WhiteningFilters returns airbench's patch-whitening filters for the k×k patches (stride 1, no
// padding) of images, the NCHW values of a batch of shape dims = [N,C,H,W]: with Σ the (uncentred)
// covariance of the patches flattened as (c, ky, kx) and λ₁ ≥ … ≥ λ_d its eigenvalues with unit
// eigenvectors v_i (d = C·k²), filter i is v_i/√(λ_i+eps) and filter d+i its negative. The result is
// the [2d, C, k, k] weight in row-major order; on the patches, the first d filters' outputs have
// covariance diag(λ_i/(λ_i+eps)) ≈ I.
func WhiteningFilters(images []float32, dims []int, k int, eps float64) ([]float32, error) {
	if len(dims) != 4 {
		return nil, errors.Errorf("whitening: images of shape %v, want [N,C,H,W]", dims)
	}
	n, c, h, w := dims[0], dims[1], dims[2], dims[3]
	if n < 1 || c < 1 || k < 1 || h < k || w < k {
		return nil, errors.Errorf("whitening: images of shape %v have no %d×%d patch", dims, k, k)
	}
	if len(images) != n*c*h*w {
		return nil, errors.Errorf("whitening: %d values for images of shape %v", len(images), dims)
	}
	if eps <= 0 {
		return nil, errors.Errorf("whitening: ε = %g, want > 0", eps)
	}
	cov := patchCovariance(images, n, c, h, w, k)
	d := c * k * k
	values, vectors := symmetricEigen(cov, d)
	filters := make([]float32, 2*d*d)
	for i := range d {
		if math.IsNaN(values[i]) || values[i] < -eps/2 {
			return nil, errors.Errorf("whitening: eigenvalue %d of the patch covariance is %g", i, values[i])
		}
		scale := 1 / math.Sqrt(max(values[i], 0)+eps)
		for j := range d {
			f := float32(vectors[j*d+i] * scale)
			filters[i*d+j] = f
			filters[(d+i)*d+j] = -f
		}
	}
	return filters, nil
}

// patchCovariance returns the d×d (d = c·k²) mean of p·pᵀ over every k×k patch p of the images,
// flattened in the order (channel, ky, kx) of a conv weight, accumulated in float64.
func patchCovariance(images []float32, n, c, h, w, k int) []float64 {
	d := c * k * k
	sum := make([]float64, d*d)
	p := make([]float64, d)
	oh, ow := h-k+1, w-k+1
	for b := range n {
		img := images[b*c*h*w : (b+1)*c*h*w]
		for y := range oh {
			for x := range ow {
				j := 0
				for ch := range c {
					for ky := range k {
						row := img[ch*h*w+(y+ky)*w+x:]
						for kx := range k {
							p[j] = float64(row[kx])
							j++
						}
					}
				}
				for r := range d {
					pr := p[r]
					acc := sum[r*d : r*d+d]
					for s := r; s < d; s++ {
						acc[s] += pr * p[s]
					}
				}
			}
		}
	}
	count := float64(n * oh * ow)
	for r := range d {
		for s := r; s < d; s++ {
			sum[r*d+s] /= count
			sum[s*d+r] = sum[r*d+s]
		}
	}
	return sum
}

// symmetricEigen returns the eigenvalues of the symmetric d×d matrix a (row-major), in decreasing
// order, and the matrix of its unit eigenvectors as columns (row-major, column i for value i), by
// cyclic Jacobi rotations. a is not modified.
func symmetricEigen(a []float64, d int) (values, vectors []float64) {
	m := append([]float64(nil), a...)
	v := make([]float64, d*d)
	for i := range d {
		v[i*d+i] = 1
	}
	for sweep := 0; sweep < 100; sweep++ {
		off, diag := 0.0, 0.0
		for i := range d {
			diag += m[i*d+i] * m[i*d+i]
			for j := i + 1; j < d; j++ {
				off += m[i*d+j] * m[i*d+j]
			}
		}
		if off <= 1e-30*diag || off == 0 {
			break
		}
		for p := 0; p < d; p++ {
			for q := p + 1; q < d; q++ {
				apq := m[p*d+q]
				if apq == 0 {
					continue
				}
				// The rotation by θ with tan 2θ = 2a_pq/(a_qq − a_pp) zeroes a_pq.
				theta := (m[q*d+q] - m[p*d+p]) / (2 * apq)
				t := math.Copysign(1, theta) / (math.Abs(theta) + math.Sqrt(theta*theta+1))
				cs := 1 / math.Sqrt(t*t+1)
				sn := t * cs
				for r := range d { // Columns p and q: m ← m·J.
					mrp, mrq := m[r*d+p], m[r*d+q]
					m[r*d+p], m[r*d+q] = cs*mrp-sn*mrq, sn*mrp+cs*mrq
				}
				for r := range d { // Rows p and q: m ← Jᵀ·m.
					mpr, mqr := m[p*d+r], m[q*d+r]
					m[p*d+r], m[q*d+r] = cs*mpr-sn*mqr, sn*mpr+cs*mqr
				}
				for r := range d { // v ← v·J.
					vrp, vrq := v[r*d+p], v[r*d+q]
					v[r*d+p], v[r*d+q] = cs*vrp-sn*vrq, sn*vrp+cs*vrq
				}
			}
		}
	}
	order := make([]int, d)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool { return m[order[x]*d+order[x]] > m[order[y]*d+order[y]] })
	values = make([]float64, d)
	vectors = make([]float64, d*d)
	for i, src := range order {
		values[i] = m[src*d+src]
		for r := range d {
			vectors[r*d+i] = v[r*d+src]
		}
	}
	return values, vectors
}

// WhitenStem makes the first top-level convolution of m a whitening convolution (Conv2d.Whiten:
// its weight set from the data by Trained.InitWhitening and not trained), as airbench's stem. The
// convolution must have Out = 2·In·K² channels (ConvNet7BN's 2×2 stem: 24 = 2·3·2²).
func WhitenStem(m *Model) error {
	for i, l := range m.Layers {
		c, ok := l.(Conv2d)
		if !ok {
			continue
		}
		c.Whiten = true
		if err := c.validate(); err != nil {
			return errors.WithMessagef(err, "model %q: whitening its first convolution %s", m.Name, LayerScope(i, l))
		}
		m.Layers[i] = c
		return nil
	}
	return errors.Errorf("model %q has no top-level convolution to whiten", m.Name)
}
