package training

// The optimizers of the lecture's slides, as GoMLX optimizer.Interface values for train.Trainer:
// SGD with a constant rate, SGD with linear learning-rate decay (LinearDecay) and SGD with momentum
// (Momentum); and GoMLX's Adam for comparison.

import (
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/gomlx/gomlx/support/exceptions"
	"github.com/pkg/errors"
)

// MomentumScope is the root scope of the velocity variables of Momentum: the velocity of the
// trainable variable "/a/b/w" is the non-trainable variable "/MomentumOptimizer/a/b/w_velocity" of the same
// model.Store, so checkpoints save and restore it with the weights.
const MomentumScope = "MomentumOptimizer"

// OptimizerOption configures the SGD variants (NewSGD, NewLinearDecay, NewMomentum) and NewAdam.
type OptimizerOption func(*sgdConfig) error

// WithWeightDecay adds L2 weight decay λ: the gradient of ½λ‖θ‖² (that is λθ) is added to the
// gradient of every trainable variable before the update, so θ ← θ − ε(g + λθ) for SGD. It
// applies to all trainable variables, biases included, as PyTorch's weight_decay. λ must be ≥ 0;
// the default is 0 (no decay).
//
// For NewAdam it selects GoMLX's AdamW (decoupled weight decay) with the same λ.
func WithWeightDecay(lambda float64) OptimizerOption {
	return func(c *sgdConfig) error {
		if lambda < 0 {
			return errors.Errorf("weight decay must be ≥ 0, got %g", lambda)
		}
		c.weightDecay = lambda
		return nil
	}
}

// WithLinearDecay makes the learning rate decay linearly from the initial rate ε₀ to epsTau over
// tau steps, as LinearDecay does (see LinearDecay.Rate). It is meant for NewMomentum (the slides'
// momentum with a decaying rate); NewSGD with it is the same as NewLinearDecay.
func WithLinearDecay(epsTau float64, tau int) OptimizerOption {
	return func(c *sgdConfig) error {
		if epsTau <= 0 || tau < 1 {
			return errors.Errorf("linear decay needs ε_τ > 0 and τ ≥ 1, got ε_τ=%g, τ=%d", epsTau, tau)
		}
		c.epsTau, c.tau = epsTau, tau
		return nil
	}
}

// WithNesterov makes NewMomentum use Nesterov's momentum in PyTorch's form (torch.optim.SGD with
// nesterov=True, dampening 0): b ← μ·b + g, θ ← θ − ε_k·(g + μ·b). The slides' momentum
// (v ← μ·v − ε·g, θ ← θ + v) is the same method written for a constant rate; with a schedule the
// two differ, and the recipes of fast CIFAR training use this one.
func WithNesterov() OptimizerOption {
	return func(c *sgdConfig) error {
		c.nesterov = true
		return nil
	}
}

// WithDecoupledWeightDecay adds weight decay decoupled from the gradient (as AdamW, Loshchilov and
// Hutter): every update first shrinks each trainable variable, θ ← θ·(1 − ε_k·λ), and then applies
// the gradient step, so the decay does not pass through the momentum buffer. λ must be ≥ 0; it
// applies to all trainable variables. It can be combined with WithWeightDecay (L2 in the gradient).
func WithDecoupledWeightDecay(lambda float64) OptimizerOption {
	return func(c *sgdConfig) error {
		if !(lambda >= 0) || math.IsInf(lambda, 0) {
			return errors.Errorf("decoupled weight decay must be finite and ≥ 0, got %g", lambda)
		}
		c.decoupledDecay = lambda
		return nil
	}
}

// LookaheadScope is the root scope of Lookahead's slow weights: the slow copy of the model variable
// "/model/a/w" is the non-trainable "/Lookahead/model/a/w_slow" of the same store, so checkpoints
// save and restore it.
const LookaheadScope = "Lookahead"

// WithLookahead adds lookahead in the form of Keller Jordan's airbench (after Zhang et al. 2019,
// "Lookahead Optimizer: k steps forward, 1 step back"): the optimizer keeps a slow copy φ of the
// model's variables (weights and BatchNorm running statistics), and every `every` updates pulls it
// towards the fast weights θ and puts the fast weights back on it:
//
//	φ ← d_s·φ + (1−d_s)·θ,  θ ← φ   at updates s = every, 2·every, …  with d_s = decay^every·(s/T)³
//
// so the averaging is negligible early and strongest at the end (d grows to decay^every); at the
// last update s = T, d = 1: the final weights are the slow weights. s counts updates from 1 and T is
// totalSteps. The slow weights start as the fast weights of the first synchronisation. It needs
// every ≥ 1, decay in (0, 1) and totalSteps ≥ 1.
func WithLookahead(every int, decay float64, totalSteps int) OptimizerOption {
	return func(c *sgdConfig) error {
		if every < 1 || !(decay > 0 && decay < 1) || totalSteps < 1 {
			return errors.Errorf("lookahead needs every ≥ 1 step, decay in (0, 1) and total steps ≥ 1, got %d, %g and %d",
				every, decay, totalSteps)
		}
		c.lookaheadEvery, c.lookaheadDecay, c.lookaheadTotal = every, decay, totalSteps
		return nil
	}
}

// LookaheadDecay returns d_s of WithLookahead for update s (from 1) and whether s synchronises.
func LookaheadDecay(every int, decay float64, s, total int) (float64, bool) {
	if every < 1 || total < 1 {
		return 0, false
	}
	if s >= total {
		return 1, s == total
	}
	if s < 1 || s%every != 0 {
		return 0, false
	}
	return math.Pow(decay, float64(every)) * math.Pow(float64(s)/float64(total), 3), true
}

// WithWarmupLinear replaces the constant rate by a warm-up and linear decay (a "one-cycle"
// schedule with straight lines): over the first warmup updates the rate rises linearly from
// startFactor·ε₀ to ε₀, then falls linearly to endFactor·ε₀ at update total, and stays there:
//
//	ε_k = ε₀·(s + (1−s)·k/W)                 for k < W
//	ε_k = ε₀·(1 + (e−1)·min((k−W)/(T−W), 1)) for k ≥ W
//
// with k counted from 0. It needs 0 ≤ warmup < total and factors in [0, 1]. It excludes
// WithLinearDecay.
func WithWarmupLinear(warmup, total int, startFactor, endFactor float64) OptimizerOption {
	return func(c *sgdConfig) error {
		switch {
		case warmup < 0 || total < 1 || warmup >= total:
			return errors.Errorf("warm-up schedule needs 0 ≤ warm-up steps < total steps, got %d and %d", warmup, total)
		case !(startFactor >= 0 && startFactor <= 1) || !(endFactor >= 0 && endFactor <= 1):
			return errors.Errorf("warm-up schedule factors must be in [0, 1], got start %g, end %g", startFactor, endFactor)
		}
		c.warmup, c.total, c.startFactor, c.endFactor = warmup, total, startFactor, endFactor
		return nil
	}
}

// sgdConfig is the update rule shared by SGD, LinearDecay and Momentum:
//
//	ε_k = (1−α_k)·ε₀ + α_k·ε_τ, α_k = min(k/τ, 1)   (ε_k = ε₀ when τ = 0; see WithWarmupLinear)
//	g   = ∇θ loss + λθ
//	v   ← μ·v − ε_k·g, θ ← θ + v                   (θ ← θ − ε_k·g when μ = 0; see WithNesterov)
//
// and, with WithDecoupledWeightDecay, θ ← θ·(1 − ε_k·λ_d) before the step.
type sgdConfig struct {
	eps0, epsTau   float64 // Initial and final learning rates.
	tau            int     // Steps of the linear decay; 0 for a constant rate.
	momentum       float64 // μ, the slides' α of SGD with momentum; 0 for none.
	weightDecay    float64 // λ of the L2 weight decay; 0 for none.
	nesterov       bool    // Nesterov momentum in PyTorch's form.
	decoupledDecay float64 // λ_d of the decoupled weight decay; 0 for none.
	// The warm-up and linear decay schedule (total > 0): warm-up steps, total steps, and the
	// factors of ε₀ at the start and at the end.
	warmup, total          int
	startFactor, endFactor float64
	// Lookahead (WithLookahead): updates between synchronisations (0: off), the per-update decay,
	// and the total number of updates T.
	lookaheadEvery, lookaheadTotal int
	lookaheadDecay                 float64
}

// newSGDConfig validates the learning rate and applies the options.
func newSGDConfig(lr float64, opts []OptimizerOption) (sgdConfig, error) {
	c := sgdConfig{eps0: lr, epsTau: lr}
	if lr <= 0 {
		return c, errors.Errorf("learning rate must be > 0, got %g", lr)
	}
	for _, opt := range opts {
		if err := opt(&c); err != nil {
			return c, err
		}
	}
	if c.tau > 0 && c.total > 0 {
		return c, errors.New("linear decay and the warm-up schedule exclude each other")
	}
	return c, nil
}

// Rate returns the learning rate ε_k of update k (counted from 0), e.g. to plot a schedule.
func (c *sgdConfig) Rate(k int) float64 {
	if c.total > 0 {
		k = max(k, 0)
		if k < c.warmup {
			return c.eps0 * (c.startFactor + (1-c.startFactor)*float64(k)/float64(c.warmup))
		}
		return c.eps0 * (1 + (c.endFactor-1)*min(float64(k-c.warmup)/float64(c.total-c.warmup), 1))
	}
	if c.tau == 0 {
		return c.eps0
	}
	if k >= c.tau {
		return c.epsTau
	}
	alpha := float64(max(k, 0)) / float64(c.tau)
	return (1-alpha)*c.eps0 + alpha*c.epsTau
}

// rateGraph returns ε_k in the graph, for the global step after its increment (k+1).
func (c *sgdConfig) rateGraph(globalStep *graph.Node) *graph.Node {
	g := globalStep.Graph()
	eps0 := graph.Scalar(g, globalStep.DType(), c.eps0)
	if c.total > 0 {
		k := graph.AddScalar(globalStep, -1)
		decay := graph.MinScalar(graph.DivScalar(graph.AddScalar(k, -float64(c.warmup)), float64(c.total-c.warmup)), 1.0)
		after := graph.AddScalar(graph.MulScalar(decay, c.endFactor-1), 1)
		if c.warmup == 0 {
			return graph.Mul(eps0, after)
		}
		before := graph.AddScalar(graph.MulScalar(graph.DivScalar(k, float64(c.warmup)), 1-c.startFactor), c.startFactor)
		inWarmup := graph.LessThan(k, graph.Scalar(g, globalStep.DType(), float64(c.warmup)))
		return graph.Mul(eps0, graph.Where(inWarmup, before, after))
	}
	if c.tau == 0 {
		return eps0
	}
	k := graph.AddScalar(globalStep, -1)
	alpha := graph.MinScalar(graph.DivScalar(k, float64(c.tau)), 1.0)
	epsTau := graph.Scalar(g, globalStep.DType(), c.epsTau)
	return graph.Add(graph.Mul(graph.OneMinus(alpha), eps0), graph.Mul(alpha, epsTau))
}

// UpdateGraph implements optimizer.Interface for the SGD variants (embedding sgdConfig).
func (c *sgdConfig) UpdateGraph(scope *model.Scope, _ *graph.Graph, loss *graph.Node) {
	if !loss.Shape().IsScalar() {
		exceptions.Panicf("optimizer requires a scalar loss to optimize, got loss.shape=%s instead", loss.Shape())
	}
	grads := scope.BuildTrainableVariablesGradientsGraph(loss)
	c.UpdateGraphWithGradients(scope, grads, loss.DType())
}

// UpdateGraphWithGradients implements train.OptimizeWithGradients (gradient accumulation): it
// applies one update given the gradients of the trainable variables used
// by the graph, in the order of scope.IterVariables (as BuildTrainableVariablesGradientsGraph
// returns them). It increments the global step and stores ε_k in GoMLX's learning-rate variable
// ("/optimizers/learning_rate"), so the training loop can log the current rate.
func (c *sgdConfig) UpdateGraphWithGradients(scope *model.Scope, grads []*graph.Node, dtype dtypes.DType) {
	if len(grads) == 0 {
		exceptions.Panicf("no gradients to apply: are there trainable variables used by the model?")
	}
	g := grads[0].Graph()
	globalStep := optimizer.IncrementGlobalStep(g, dtype)
	rate := c.rateGraph(globalStep)
	optimizer.LearningRateVar(scope, dtype, c.eps0).SetNodeValue(rate)
	i := 0
	for v := range scope.IterVariables() {
		if !v.Trainable || !v.InUseByGraph(g) {
			continue
		}
		if i >= len(grads) {
			exceptions.Panicf("more trainable variables than the %d gradients given -- were variables "+
				"created after the gradients were computed?", len(grads))
		}
		c.updateVariable(scope, v, grads[i], rate)
		i++
	}
	if i != len(grads) {
		exceptions.Panicf("got %d gradients for %d trainable variables used by the graph", len(grads), i)
	}
	if c.lookaheadEvery > 0 {
		c.lookaheadGraph(scope, optimizer.GetGlobalStepVar(scope).NodeValue(g))
	}
}

// lookaheadGraph applies WithLookahead's synchronisation when update s (the int64 global step after
// its increment) is one: to every float variable of the model in use by the graph (weights and
// BatchNorm running statistics), after the update and the forward pass have set their new values.
func (c *sgdConfig) lookaheadGraph(scope *model.Scope, s *graph.Node) {
	g := s.Graph()
	every, total := int64(c.lookaheadEvery), int64(c.lookaheadTotal)
	isLast := graph.Equal(s, graph.Scalar(g, s.DType(), total))
	onGrid := graph.LogicalAnd(graph.Equal(graph.ModScalar(s, every), graph.ScalarZero(g, s.DType())),
		graph.LessThan(s, graph.Scalar(g, s.DType(), total)))
	sync := graph.LogicalOr(isLast, onGrid)
	first := graph.Equal(s, graph.Scalar(g, s.DType(), every))
	frac := graph.DivScalar(graph.ConvertDType(s, dtypes.Float32), float64(total))
	decay := graph.MulScalar(graph.PowScalar(frac, 3.0), math.Pow(c.lookaheadDecay, float64(every)))
	decay = graph.Where(isLast, graph.OnesLike(decay), decay)
	var vars []*model.Variable
	for v := range scope.Store().IterVariables() {
		if strings.HasPrefix(v.Path(), "/"+cnn.ModelScope+"/") && v.DType().IsFloat() && v.InUseByGraph(g) {
			vars = append(vars, v)
		}
	}
	for _, v := range vars {
		fast := v.NodeValue(g)
		slowVar := scope.Store().Scope(path.Join("/", LookaheadScope, v.Scope())).
			WithInitializer(initializer.Zero).
			VariableWithShape(v.Name()+"_slow", v.Shape()).
			SetTrainable(false)
		slow := graph.Where(first, fast, slowVar.NodeValue(g)) // The slow weights start as the fast ones.
		d := graph.ConvertDType(decay, fast.DType())
		pulled := graph.Add(graph.Mul(d, slow), graph.Mul(graph.OneMinus(d), fast)) // d·φ + (1−d)·θ
		newSlow := graph.Where(sync, pulled, slow)
		slowVar.SetNodeValue(newSlow)
		v.SetNodeValue(graph.Where(sync, newSlow, fast))
	}
}

// Clear implements optimizer.Interface: plain SGD and LinearDecay keep no state besides the global
// step (Momentum overrides it).
func (c *sgdConfig) Clear(_ *model.Scope) error { return nil }

// updateVariable applies the update rule to one trainable variable.
func (c *sgdConfig) updateVariable(scope *model.Scope, v *model.Variable, grad, rate *graph.Node) {
	g := grad.Graph()
	value := v.NodeValue(g)
	if rate.DType() != grad.DType() {
		rate = graph.ConvertDType(rate, grad.DType())
	}
	optimizer.TraceNaNInGradients(scope, v, grad)
	grad = optimizer.ClipNaNsInGradients(scope, grad)
	if c.weightDecay > 0 {
		grad = graph.Add(grad, graph.MulScalar(value, c.weightDecay))
	}
	if c.decoupledDecay > 0 {
		value = graph.Sub(value, graph.Mul(rate, graph.MulScalar(value, c.decoupledDecay))) // θ·(1 − ε_k·λ_d)
	}
	step := graph.Neg(graph.Mul(rate, grad)) // −ε_k·g
	if c.momentum > 0 && c.nesterov {
		bufferVar := velocityVariable(scope, v)
		buffer := graph.Add(graph.MulScalar(bufferVar.NodeValue(g), c.momentum), grad) // b ← μb + g
		bufferVar.SetNodeValue(buffer)
		step = graph.Neg(graph.Mul(rate, graph.Add(grad, graph.MulScalar(buffer, c.momentum)))) // −ε_k(g + μb)
	} else if c.momentum > 0 {
		velocityVar := velocityVariable(scope, v)
		step = graph.Add(graph.MulScalar(velocityVar.NodeValue(g), c.momentum), step) // μv − ε_k·g
		velocityVar.SetNodeValue(step)
	}
	step = optimizer.ClipStepByValue(scope, step)
	updated := optimizer.ClipNaNsInUpdates(scope, value, graph.Add(value, step))
	v.SetNodeValue(updated)
}

// velocityVariable returns (creating it with zeros if needed) the velocity of the trainable v.
func velocityVariable(scope *model.Scope, v *model.Variable) *model.Variable {
	scopePath := path.Join("/", MomentumScope, v.Scope())
	return scope.Store().Scope(scopePath).
		WithInitializer(initializer.Zero).
		VariableWithShape(v.Name()+"_velocity", v.Shape()).
		SetTrainable(false)
}

// SGD is stochastic gradient descent with a constant learning rate ε: θ ← θ − ε·g. Unlike GoMLX's
// StochasticGradientDescent it does not decay the rate by default. It implements
// optimizer.Interface.
type SGD struct {
	sgdConfig
}

// NewSGD returns plain SGD with learning rate lr > 0, configured by opts (e.g. WithWeightDecay).
func NewSGD(lr float64, opts ...OptimizerOption) (*SGD, error) {
	c, err := newSGDConfig(lr, opts)
	if err != nil {
		return nil, errors.WithMessage(err, "SGD")
	}
	if c.nesterov {
		return nil, errors.New("SGD: WithNesterov needs momentum (NewMomentum)")
	}
	return &SGD{sgdConfig: c}, nil
}

// String describes the optimizer for logs.
func (o *SGD) String() string {
	return fmt.Sprintf("SGD(ε=%g%s)", o.eps0, o.describeOptions())
}

// LinearDecay is SGD with the slides' linear learning-rate decay:
//
//	ε_k = (1−α)·ε₀ + α·ε_τ with α = k/τ, and ε_k = ε_τ for k ≥ τ;  θ ← θ − ε_k·g
//
// where k is the number of updates already made: 0 for the first update, i.e. GoMLX's global step
// before the update (train.Trainer's GlobalStep() − 1 after it). It implements
// optimizer.Interface.
type LinearDecay struct {
	sgdConfig
}

// NewLinearDecay returns SGD whose rate decays linearly from eps0 to epsTau over tau updates and
// stays at epsTau afterwards. It needs eps0, epsTau > 0 and tau ≥ 1 (the slides advise ε_τ ≈ ε₀/100
// and τ of a few hundred epochs' steps).
func NewLinearDecay(eps0, epsTau float64, tau int, opts ...OptimizerOption) (*LinearDecay, error) {
	c, err := newSGDConfig(eps0, append([]OptimizerOption{WithLinearDecay(epsTau, tau)}, opts...))
	if err != nil {
		return nil, errors.WithMessage(err, "LinearDecay")
	}
	if c.nesterov {
		return nil, errors.New("LinearDecay: WithNesterov needs momentum (NewMomentum)")
	}
	return &LinearDecay{sgdConfig: c}, nil
}

// String describes the optimizer for logs.
func (o *LinearDecay) String() string {
	return fmt.Sprintf("LinearDecay(ε₀=%g, ε_τ=%g, τ=%d%s)", o.eps0, o.epsTau, o.tau,
		o.describeOptions())
}

// Momentum is SGD with momentum as on the slides:
//
//	v ← α·v − ε·g;  θ ← θ + v
//
// with the velocity v starting at zero. The velocities are non-trainable variables of the
// model.Store under MomentumScope, so a checkpoint restores them. With WithLinearDecay, ε is the
// decaying ε_k of LinearDecay. It implements optimizer.Interface.
type Momentum struct {
	sgdConfig
}

// NewMomentum returns SGD with momentum, learning rate lr > 0 and momentum coefficient alpha in
// [0, 1) (the slides use α = 0.9), configured by opts (WithLinearDecay, WithWeightDecay).
func NewMomentum(lr, alpha float64, opts ...OptimizerOption) (*Momentum, error) {
	c, err := newSGDConfig(lr, opts)
	if err != nil {
		return nil, errors.WithMessage(err, "Momentum")
	}
	if alpha < 0 || alpha >= 1 {
		return nil, errors.Errorf("Momentum: α must be in [0, 1), got %g", alpha)
	}
	c.momentum = alpha
	return &Momentum{sgdConfig: c}, nil
}

// Alpha returns the momentum coefficient α.
func (o *Momentum) Alpha() float64 { return o.momentum }

// String describes the optimizer for logs.
func (o *Momentum) String() string {
	return fmt.Sprintf("Momentum(ε=%g, α=%g%s)", o.eps0, o.momentum, o.describeOptions())
}

// Clear implements optimizer.Interface: it deletes the velocities (they restart from zero).
func (o *Momentum) Clear(scope *model.Scope) error {
	if err := scope.Store().DeleteVariablesInScope("/" + MomentumScope); err != nil {
		return errors.Wrap(err, "clearing the Momentum velocities")
	}
	return nil
}

// The SGD variants are GoMLX optimizers, with gradient accumulation, through the embedded sgdConfig.
var (
	_ optimizer.Interface         = (*SGD)(nil)
	_ optimizer.Interface         = (*LinearDecay)(nil)
	_ optimizer.Interface         = (*Momentum)(nil)
	_ train.OptimizeWithGradients = (*Momentum)(nil)
)

// describeOptions returns the optional settings as ", key=value" pairs for String.
func (c *sgdConfig) describeOptions() string {
	s := ""
	if c.tau > 0 && c.momentum > 0 {
		s += fmt.Sprintf(", ε_τ=%g, τ=%d", c.epsTau, c.tau)
	}
	if c.total > 0 {
		s += fmt.Sprintf(", warm-up %d of %d steps from %g·ε to %g·ε", c.warmup, c.total, c.startFactor, c.endFactor)
	}
	if c.nesterov {
		s += ", Nesterov"
	}
	if c.weightDecay > 0 {
		s += fmt.Sprintf(", λ=%g", c.weightDecay)
	}
	if c.decoupledDecay > 0 {
		s += fmt.Sprintf(", decoupled λ=%g", c.decoupledDecay)
	}
	if c.lookaheadEvery > 0 {
		s += fmt.Sprintf(", lookahead every %d steps (decay %g)", c.lookaheadEvery, c.lookaheadDecay)
	}
	return s
}

// NewAdam returns GoMLX's Adam optimizer (optimizer.Adam, β₁=0.9, β₂=0.999, ε=1e-7) with learning
// rate lr > 0, for comparison with the slides' optimizers. WithWeightDecay(λ) selects AdamW
// (weight decay decoupled from the gradient); WithLinearDecay is not supported.
func NewAdam(lr float64, opts ...OptimizerOption) (optimizer.Interface, error) {
	c, err := newSGDConfig(lr, opts)
	if err != nil {
		return nil, errors.WithMessage(err, "Adam")
	}
	if c.tau != 0 || c.total != 0 || c.nesterov || c.decoupledDecay != 0 || c.lookaheadEvery != 0 {
		return nil, errors.New("Adam: WithLinearDecay, WithWarmupLinear, WithNesterov, WithDecoupledWeightDecay and WithLookahead are not supported (WithWeightDecay selects AdamW)")
	}
	return optimizer.Adam().LearningRate(lr).WeightDecay(c.weightDecay).Done(), nil
}
