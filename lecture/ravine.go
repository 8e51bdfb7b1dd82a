package lecture

// The slide's picture of momentum: a particle rolling down a ravine. The ravine is the
// ill-conditioned quadratic f(x, y) = (A·x² + B·y²)/2 with B ≫ A, on which plain SGD zig-zags across
// the steep direction y while creeping along the flat one x, and momentum damps the zig-zag and
// accelerates along the ravine.

import (
	"math"

	"github.com/pkg/errors"
)

// Ravine is the quadratic f(x, y) = (A·x² + B·y²)/2, its minimum at the origin.
type Ravine struct {
	// A is the curvature along the ravine (x), B across it (y); both must be positive.
	A, B float64
}

// Point is a position (x, y) on the ravine.
type Point struct{ X, Y float64 }

// Loss returns f(p).
func (r Ravine) Loss(p Point) float64 { return (r.A*p.X*p.X + r.B*p.Y*p.Y) / 2 }

// Gradient returns ∇f(p) = (A·x, B·y).
func (r Ravine) Gradient(p Point) Point { return Point{r.A * p.X, r.B * p.Y} }

// Momentum runs steps steps of the slide's SGD with momentum from start, v ← α·v − ε·∇f(θ);
// θ ← θ + v with v₀ = 0, and returns the trajectory (steps+1 points, start first). α = 0 is plain
// SGD, θ ← θ − ε·∇f(θ).
func (r Ravine) Momentum(start Point, rate, alpha float64, steps int) ([]Point, error) {
	if r.A <= 0 || r.B <= 0 {
		return nil, errors.Errorf("ravine: curvatures %g and %g must be positive", r.A, r.B)
	}
	if rate <= 0 || alpha < 0 || alpha >= 1 || steps < 0 {
		return nil, errors.Errorf("ravine: rate %g must be > 0, momentum %g in [0, 1), steps %d ≥ 0", rate, alpha, steps)
	}
	path := []Point{start}
	theta, v := start, Point{}
	for range steps {
		g := r.Gradient(theta)
		v = Point{alpha*v.X - rate*g.X, alpha*v.Y - rate*g.Y}
		theta = Point{theta.X + v.X, theta.Y + v.Y}
		path = append(path, theta)
	}
	return path, nil
}

// Contour returns n+1 points of the level curve f = level, an ellipse (closed: the last point is
// the first), as x and y coordinates for a chart.
func (r Ravine) Contour(level float64, n int) (xs, ys []float64) {
	ax, ay := math.Sqrt(2*level/r.A), math.Sqrt(2*level/r.B)
	for i := range n + 1 {
		t := 2 * math.Pi * float64(i) / float64(n)
		xs = append(xs, ax*math.Cos(t))
		ys = append(ys, ay*math.Sin(t))
	}
	return xs, ys
}

// Coordinates splits a trajectory into its x and y coordinates, for a chart.
func Coordinates(path []Point) (xs, ys []float64) {
	for _, p := range path {
		xs = append(xs, p.X)
		ys = append(ys, p.Y)
	}
	return xs, ys
}
