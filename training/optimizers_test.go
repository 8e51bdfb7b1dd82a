package training

import (
	"fmt"
	"math"
	"testing"

	"github.com/cnnlab/cnnlab/internal/testkit"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// The tests minimise loss = ½‖θ − c‖² from θ₀ = (3, −1) with c = (1, 1), whose gradient is θ − c,
// through train.Trainer as the training loop does. The second component mirrors the first around
// c = 1, so θ_k[1] = 2 − θ_k[0]; the expected values are computed by hand below.
var (
	quadTheta0 = []float32{3, -1}
	quadTarget = []float32{1, 1}
)

// float32Tolerance bounds the difference between float32 training and hand arithmetic: values
// are O(1) and each step adds a few float32 roundings (relative 6e-8 each), far below 1e-5.
const float32Tolerance = 1e-5

// quadModel returns θ, the model's only trainable variable; the input x only gives the graph.
func quadModel(scope *model.Scope, x *graph.Node) *graph.Node {
	_ = x
	return scope.VariableWithValue("theta", quadTheta0).NodeValue(x.Graph())
}

// quadLoss is ½‖θ − c‖² with c the label.
func quadLoss(labels, predictions []*graph.Node) *graph.Node {
	diff := graph.Sub(predictions[0], labels[0])
	return graph.MulScalar(graph.ReduceAllSum(graph.Square(diff)), 0.5)
}

// trainQuad makes steps updates of opt on the quadratic problem with store and returns θ.
func trainQuad(t *testing.T, b compute.Backend, store *model.Store, opt optimizer.Interface, steps int) []float32 {
	t.Helper()
	thetas := trainQuadSteps(t, b, store, opt, steps)
	return thetas[len(thetas)-1]
}

// trainQuadSteps makes steps updates of opt on the quadratic problem with store and returns θ
// after each of them.
func trainQuadSteps(t *testing.T, b compute.Backend, store *model.Store, opt optimizer.Interface,
	steps int) [][]float32 {
	t.Helper()
	trainer := train.NewTrainer(b, store, quadModel, quadLoss, opt, nil, nil)
	thetas := make([][]float32, 0, steps)
	for range steps {
		batch := train.Batch{
			Inputs: []*tensors.Tensor{tensors.FromScalar(float32(0))},
			Labels: []*tensors.Tensor{tensors.FromValue(quadTarget)},
		}
		if _, err := trainer.TrainStep(batch); err != nil {
			t.Fatalf("TrainStep: %v", err)
		}
		thetas = append(thetas, variableValue(t, store, "/theta"))
	}
	return thetas
}

// variableValue returns the float32 values of the variable at fullPath.
func variableValue(t *testing.T, store *model.Store, fullPath string) []float32 {
	t.Helper()
	v := store.GetVariable(fullPath)
	if v == nil {
		t.Fatalf("variable %q not in the store", fullPath)
	}
	value, err := v.Value()
	if err != nil {
		t.Fatalf("reading %q: %v", fullPath, err)
	}
	return tensors.MustCopyFlatData[float32](value)
}

// checkClose fails if got and want differ by more than float32Tolerance anywhere.
func checkClose(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > float32Tolerance {
			t.Errorf("%s: got %v, want %v (tolerance %g)", what, got, want, float32Tolerance)
			return
		}
	}
}

// mirror returns the expected θ from its first component: θ[1] = 2 − θ[0].
func mirror(theta0 float32) []float32 { return []float32{theta0, 2 - theta0} }

// mustOpt returns a function that fails the test on the constructor's error or returns the
// optimizer: mustOpt(t)(NewSGD(0.1)).
func mustOpt(t *testing.T) func(optimizer.Interface, error) optimizer.Interface {
	return func(opt optimizer.Interface, err error) optimizer.Interface {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return opt
	}
}

func TestOptimizersOnQuadratic(t *testing.T) {
	tests := []struct {
		name  string
		opt   func(t *testing.T) optimizer.Interface
		theta [][]float32 // θ after updates 1, 2, 3, ...
	}{
		{"SGD ε=0.1", func(t *testing.T) optimizer.Interface { return mustOpt(t)(NewSGD(0.1)) },
			[][]float32{
				mirror(3 - 0.1*2),     // g₀ = 3 − 1 = 2 → 2.8
				mirror(2.8 - 0.1*1.8), // g₁ = 1.8 → 2.62
			}},
		{"LinearDecay ε₀=0.4 ε_τ=0.1 τ=2", func(t *testing.T) optimizer.Interface {
			return mustOpt(t)(NewLinearDecay(0.4, 0.1, 2))
		}, [][]float32{
			mirror(3 - 0.4*2),       // k=0: ε₀ = 0.4 → 2.2
			mirror(2.2 - 0.25*1.2),  // k=1: α=½, ε₁ = ½·0.4 + ½·0.1 = 0.25 → 1.9
			mirror(1.9 - 0.1*0.9),   // k=2: α=1, ε₂ = ε_τ = 0.1 → 1.81
			mirror(1.81 - 0.1*0.81), // k=3 ≥ τ: ε₃ = ε_τ → 1.729
		}},
		{"Momentum ε=0.1 α=0.9", func(t *testing.T) optimizer.Interface {
			return mustOpt(t)(NewMomentum(0.1, 0.9))
		}, [][]float32{
			mirror(3 + (0.9*0 - 0.1*2)),           // v₁ = −0.2 → 2.8
			mirror(2.8 + (0.9*-0.2 - 0.1*1.8)),    // v₂ = −0.36 → 2.44
			mirror(2.44 + (0.9*-0.36 - 0.1*1.44)), // v₃ = −0.468 → 1.972
		}},
		{"Momentum with linear decay ε₀=0.2 ε_τ=0.1 τ=1 α=0.5", func(t *testing.T) optimizer.Interface {
			return mustOpt(t)(NewMomentum(0.2, 0.5, WithLinearDecay(0.1, 1)))
		}, [][]float32{
			mirror(3 + (0.5*0 - 0.2*2)),        // ε₀ = 0.2, v₁ = −0.4 → 2.6
			mirror(2.6 + (0.5*-0.4 - 0.1*1.6)), // ε₁ = 0.1, v₂ = −0.36 → 2.24
		}},
		{"SGD ε=0.1 weight decay λ=0.5", func(t *testing.T) optimizer.Interface {
			return mustOpt(t)(NewSGD(0.1, WithWeightDecay(0.5)))
		}, [][]float32{
			// g = (θ−c) + λθ; no longer symmetric around c.
			{3 - 0.1*(2+0.5*3), -1 - 0.1*(-2+0.5*-1)},                   // g = (3.5, −2.5) → (2.65, −0.75)
			{2.65 - 0.1*(1.65+0.5*2.65), -0.75 - 0.1*(-1.75+0.5*-0.75)}, // → (2.3525, −0.5375)
		}},
		{"Nesterov ε=0.1 μ=0.9 (PyTorch's form)", func(t *testing.T) optimizer.Interface {
			return mustOpt(t)(NewMomentum(0.1, 0.9, WithNesterov()))
		}, [][]float32{
			mirror(3 - 0.1*(2+0.9*2)),                // b₁ = 2, d = g + μb = 3.8 → 2.62
			mirror(2.62 - 0.1*(1.62+0.9*3.42)),       // b₂ = 0.9·2 + 1.62 = 3.42, d = 4.698 → 2.1502
			mirror(2.1502 - 0.1*(1.1502+0.9*4.2282)), // b₃ = 0.9·3.42 + 1.1502 = 4.2282 → 1.654642
		}},
		{"Momentum ε=0.1 α=0.9 decoupled weight decay λ=0.5", func(t *testing.T) optimizer.Interface {
			return mustOpt(t)(NewMomentum(0.1, 0.9, WithDecoupledWeightDecay(0.5)))
		}, [][]float32{
			// θ ← θ·(1 − ελ) + v, v ← αv − εg with g = θ − c: the decay does not enter v.
			{3*0.95 - 0.1*2, -1*0.95 + 0.1*2},                                      // v₁ = (−0.2, 0.2) → (2.65, −0.75)
			{2.65*0.95 + (0.9*-0.2 - 0.1*1.65), -0.75*0.95 + (0.9*0.2 + 0.1*1.75)}, // v₂ = (−0.345, 0.355) → (2.1725, −0.3575)
		}},
		{"SGD ε₀=0.4, warm-up 2 of 4 steps from ¼ε₀, down to ½ε₀", func(t *testing.T) optimizer.Interface {
			return mustOpt(t)(NewSGD(0.4, WithWarmupLinear(2, 4, 0.25, 0.5)))
		}, [][]float32{
			mirror(3 - 0.1*2),           // k=0: ε = 0.4·¼ = 0.1 → 2.8
			mirror(2.8 - 0.25*1.8),      // k=1: ε = 0.4·(¼ + ¾·½) = 0.25 → 2.35
			mirror(2.35 - 0.4*1.35),     // k=2 = W: ε = ε₀ → 1.81
			mirror(1.81 - 0.3*0.81),     // k=3: ε = 0.4·(1 − ½·½) = 0.3 → 1.567
			mirror(1.567 - 0.2*0.567),   // k=4 = T: ε = ½ε₀ = 0.2 → 1.4536
			mirror(1.4536 - 0.2*0.4536), // k=5 > T: stays 0.2
		}},
	}
	testkit.ForEachBackend(t, func(t *testing.T, b compute.Backend) {
		for _, tc := range tests {
			got := trainQuadSteps(t, b, model.NewStore(), tc.opt(t), len(tc.theta))
			for k := range got {
				checkClose(t, fmt.Sprintf("%s, update %d", tc.name, k+1), got[k], tc.theta[k])
			}
		}
	})
}

func TestWarmupLinearRate(t *testing.T) {
	opt, err := NewSGD(0.4, WithWarmupLinear(2, 4, 0.25, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range []float64{0.1, 0.25, 0.4, 0.3, 0.2, 0.2} {
		if got := opt.Rate(k); math.Abs(got-want) > 1e-15 {
			t.Errorf("Rate(%d) = %g, want %g", k, got, want)
		}
	}
	for _, bad := range []struct {
		name string
		opts []OptimizerOption
	}{
		{"warm-up ≥ total", []OptimizerOption{WithWarmupLinear(4, 4, 0, 0)}},
		{"negative warm-up", []OptimizerOption{WithWarmupLinear(-1, 4, 0, 0)}},
		{"factor > 1", []OptimizerOption{WithWarmupLinear(1, 4, 1.5, 0)}},
		{"NaN factor", []OptimizerOption{WithWarmupLinear(1, 4, 0, math.NaN())}},
		{"with linear decay", []OptimizerOption{WithWarmupLinear(1, 4, 0, 0), WithLinearDecay(0.1, 3)}},
		{"NaN decoupled decay", []OptimizerOption{WithDecoupledWeightDecay(math.NaN())}},
		{"negative decoupled decay", []OptimizerOption{WithDecoupledWeightDecay(-1)}},
	} {
		if _, err := NewMomentum(0.1, 0.9, bad.opts...); err == nil {
			t.Errorf("%s: want an error", bad.name)
		}
	}
	if _, err := NewSGD(0.1, WithNesterov()); err == nil {
		t.Error("SGD with Nesterov and no momentum: want an error")
	}
}

func TestOptimizerRateAndGlobalStep(t *testing.T) {
	opt, err := NewLinearDecay(0.4, 0.1, 2)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range []float64{0.4, 0.25, 0.1, 0.1, 0.1} {
		if got := opt.Rate(k); math.Abs(got-want) > 1e-15 {
			t.Errorf("Rate(%d) = %g, want %g", k, got, want)
		}
	}
	testkit.ForEachBackend(t, func(t *testing.T, b compute.Backend) {
		store := model.NewStore()
		trainQuad(t, b, store, opt, 2)
		if got := optimizer.GetGlobalStep(store); got != 2 {
			t.Errorf("global step after 2 updates = %d, want 2", got)
		}
		// The learning-rate variable holds the rate of the last update, k = 1.
		lr := variableValue(t, store, "/"+optimizer.Scope+"/"+optimizer.ParamLearningRate)
		checkClose(t, "learning rate variable", lr, []float32{float32(opt.Rate(1))})
	})
}

func TestMomentumVelocityInStore(t *testing.T) {
	testkit.ForEachBackend(t, func(t *testing.T, b compute.Backend) {
		store := model.NewStore()
		opt := mustOpt(t)(NewMomentum(0.1, 0.9))
		trainQuad(t, b, store, opt, 3)
		velocityPath := "/" + MomentumScope + "/theta_velocity"
		v := store.GetVariable(velocityPath)
		if v == nil {
			t.Fatalf("velocity %q not in the store", velocityPath)
		}
		if v.Trainable {
			t.Errorf("velocity %q is trainable", velocityPath)
		}
		// v₃ = −0.468 (see TestOptimizersOnQuadratic), mirrored for θ[1].
		checkClose(t, "velocity", variableValue(t, store, velocityPath), []float32{-0.468, 0.468})
		if err := opt.Clear(store.RootScope()); err != nil {
			t.Fatal(err)
		}
		if store.GetVariable(velocityPath) != nil {
			t.Errorf("Clear left the velocity %q in the store", velocityPath)
		}
	})
}

func TestMomentumCheckpointResume(t *testing.T) {
	testkit.ForEachBackend(t, func(t *testing.T, b compute.Backend) {
		dir := t.TempDir()
		// One update, then save: θ₁ = 2.8 and v₁ = −0.2 go to the checkpoint.
		store := model.NewStore()
		handler, err := checkpoint.Build(store).Dir(dir).Done()
		if err != nil {
			t.Fatal(err)
		}
		trainQuad(t, b, store, mustOpt(t)(NewMomentum(0.1, 0.9)), 1)
		if err := handler.Save(); err != nil {
			t.Fatal(err)
		}
		// A fresh store and optimizer restored from the checkpoint continue with the saved
		// velocity: two more updates reach θ₃ = 1.972, as without interruption. Had the velocity
		// restarted from zero, θ₃ would be 2.8 − 0.18 − 0.324 = 2.296.
		restored := model.NewStore()
		if _, err := checkpoint.Load(restored).Dir(dir).Done(); err != nil {
			t.Fatal(err)
		}
		got := trainQuad(t, b, restored, mustOpt(t)(NewMomentum(0.1, 0.9)), 2)
		checkClose(t, "θ after resuming", got, mirror(1.972))
		if step := optimizer.GetGlobalStep(restored); step != 3 {
			t.Errorf("global step after resuming = %d, want 3", step)
		}
	})
}

func TestOptimizerErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"SGD zero rate", second(NewSGD(0))},
		{"SGD negative weight decay", second(NewSGD(0.1, WithWeightDecay(-1)))},
		{"LinearDecay τ=0", second(NewLinearDecay(0.1, 0.01, 0))},
		{"LinearDecay ε_τ=0", second(NewLinearDecay(0.1, 0, 10))},
		{"Momentum α=1", second(NewMomentum(0.1, 1))},
		{"Momentum α<0", second(NewMomentum(0.1, -0.1))},
		{"Adam with linear decay", second(NewAdam(0.001, WithLinearDecay(0.0001, 10)))},
	}
	for _, tc := range tests {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// second returns the error of a two-valued call.
func second[T any](_ T, err error) error { return err }

func TestAdamTrains(t *testing.T) {
	// Adam's first step moves every component by ε (the debiased m/√v is ±1): θ₁ = θ₀ ∓ ε.
	// The tolerance absorbs Adam's ε̂ = 1e-7 in the denominator (relative 5e-8 here).
	testkit.ForEachBackend(t, func(t *testing.T, b compute.Backend) {
		opt := mustOpt(t)(NewAdam(0.01))
		got := trainQuad(t, b, model.NewStore(), opt, 1)
		checkClose(t, "Adam θ₁", got, []float32{3 - 0.01, -1 + 0.01})
	})
}

// TestLabelSmoothingLoss checks the smoothed cross-entropy against values computed by hand in
// float64 (the formula of PyTorch's CrossEntropyLoss(label_smoothing=s)):
// −(1−s)·log p_y − (s/C)·Σ log p_c, averaged over the batch. Logits (1, 2, 3) with label 0:
// 2.40760596444438 (s = 0), 2.30760596444438 (s = 0.1); logits (0.5, −1, 2) with label 2:
// 0.24131129665715711 (s = 0), 0.39131129665715714 (s = 0.1).
func TestLabelSmoothingLoss(t *testing.T) {
	testkit.ForEachBackend(t, func(t *testing.T, b compute.Backend) {
		for _, tc := range []struct {
			s    float64
			want float64
		}{
			{0, (2.40760596444438 + 0.24131129665715711) / 2},
			{0.1, (2.30760596444438 + 0.39131129665715714) / 2},
		} {
			logits := tensors.FromValue([][]float32{{1, 2, 3}, {0.5, -1, 2}})
			labels := tensors.FromValue([]int32{0, 2})
			out, err := graph.ExecOnce(b, func(l, x *graph.Node) *graph.Node {
				return crossEntropyLoss(tc.s)([]*graph.Node{l}, []*graph.Node{x})
			}, labels, logits)
			if err != nil {
				t.Fatal(err)
			}
			if got := float64(out.Value().(float32)); math.Abs(got-tc.want) > 1e-6 {
				t.Errorf("smoothing %g: loss %.9f, want %.9f", tc.s, got, tc.want)
			}
		}
	})
}

// lookaheadModel is the quadratic problem's θ under the model scope (/model/theta), plus a
// non-trainable buffer /model/count that the forward pass increments, like BatchNorm's running
// statistics: lookahead averages both.
func lookaheadModel(scope *model.Scope, x *graph.Node) *graph.Node {
	g := x.Graph()
	m := scope.In("model")
	count := m.WithInitializer(initializer.Zero).VariableWithShape("count", shapes.Make(dtypes.Float32)).SetTrainable(false)
	count.SetNodeValue(graph.AddScalar(count.NodeValue(g), 1))
	return m.VariableWithValue("theta", quadTheta0).NodeValue(g)
}

func TestLookahead(t *testing.T) {
	const (
		every, total = 2, 6
		decay, lr    = 0.5, 0.1
	)
	// By hand: SGD steps θ ← θ − 0.1(θ − 1) on the first component (the second mirrors it), and the
	// count +1 per step; synchronisations at s = 2 (the slow weights start there), s = 4 with
	// d = 0.5²·(4/6)³ = 2/27, and s = 6 (the last: d = 1, the weights become the slow ones).
	wantTheta := []float64{2.8, 2.62, 2.458, 0, 0, 0}
	d4 := 0.25 * 8.0 / 27
	wantTheta[3] = d4*2.62 + (1-d4)*(2.458-0.1*1.458) // sync at 4: d·φ + (1−d)·θ₄
	wantTheta[4] = wantTheta[3] - 0.1*(wantTheta[3]-1)
	wantTheta[5] = wantTheta[3] // the last update returns to the slow weights of s = 4
	wantCount := []float64{1, 2, 3, d4*2 + (1-d4)*4, 0, 0}
	wantCount[4] = wantCount[3] + 1
	wantCount[5] = wantCount[3]

	for name, b := range testkit.Backends(t) {
		t.Run(name, func(t *testing.T) {
			store := model.NewStore()
			opt := mustOpt(t)(NewSGD(lr, WithLookahead(every, decay, total)))
			trainer := train.NewTrainer(b, store, lookaheadModel, quadLoss, opt, nil, nil)
			for s := 1; s <= total; s++ {
				batch := train.Batch{Inputs: []*tensors.Tensor{tensors.FromScalar(float32(0))},
					Labels: []*tensors.Tensor{tensors.FromValue(quadTarget)}}
				if _, err := trainer.TrainStep(batch); err != nil {
					t.Fatalf("TrainStep %d: %v", s, err)
				}
				checkClose(t, fmt.Sprintf("θ after update %d", s), variableValue(t, store, "/model/theta"), mirror(float32(wantTheta[s-1])))
				checkClose(t, fmt.Sprintf("count after update %d", s), variableValue(t, store, "/model/count"), []float32{float32(wantCount[s-1])})
			}
			if v := store.GetVariable("/" + LookaheadScope + "/model/theta_slow"); v == nil {
				t.Errorf("no slow weights at /%s/model/theta_slow (checkpoints would not save them)", LookaheadScope)
			}
		})
	}
}

func TestLookaheadDecay(t *testing.T) {
	tests := []struct {
		s        int
		wantD    float64
		wantSync bool
	}{
		{1, 0, false},
		{2, 0.25 * math.Pow(2.0/6, 3), true},
		{3, 0, false},
		{4, 0.25 * math.Pow(4.0/6, 3), true},
		{6, 1, true},
		{7, 1, false},
	}
	for _, tt := range tests {
		d, sync := LookaheadDecay(2, 0.5, tt.s, 6)
		if sync != tt.wantSync || math.Abs(d-tt.wantD) > 1e-15 {
			t.Errorf("LookaheadDecay(2, 0.5, %d, 6) = %g, %v; want %g, %v", tt.s, d, sync, tt.wantD, tt.wantSync)
		}
	}
}

func TestLookaheadOptionErrors(t *testing.T) {
	for _, opt := range []OptimizerOption{WithLookahead(0, 0.5, 10), WithLookahead(5, 1, 10), WithLookahead(5, 0, 10), WithLookahead(5, 0.5, 0)} {
		if _, err := NewSGD(0.1, opt); err == nil {
			t.Errorf("NewSGD with a bad WithLookahead: no error")
		}
	}
	if _, err := NewAdam(0.1, WithLookahead(5, 0.5, 10)); err == nil {
		t.Error("NewAdam(WithLookahead): no error, want unsupported")
	}
}
