package training

import (
	"fmt"
	"math"

	"github.com/cnnlab/cnnlab/cnn"
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/distributed"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/dtensor"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/pkg/errors"
)

// DataAxis is the name of the one axis of the device mesh of data-parallel training: the batch
// axis of the inputs and labels is sharded along it.
const DataAxis = "data"

// dataParallel splits every global batch across the devices of a one-axis mesh for GoMLX's
// AutoSharding (XLA's Shardy partitioner): the graph is the single-device graph over the global
// batch, the images and labels are sharded along their batch axis, and the weights, the optimizer
// state, the random state and the outputs are replicated; XLA inserts the all-reduces of the gradients and of every
// other reduction over the batch axis (the loss, the metrics and BatchNorm's statistics).
type dataParallel struct {
	mesh      *distributed.DeviceMesh
	batchSpec *distributed.ShardingSpec
	devices   []compute.DeviceNum
}

// CheckDevices checks that devices (of TrainConfig.Devices) can run batches of batchSize on a
// backend with available devices: the error names both numbers of the first check that fails.
func CheckDevices(devices, available, batchSize int) error {
	switch {
	case devices < 0:
		return errors.Errorf("devices %d: want ≥ 1 (0: one device)", devices)
	case devices > available:
		return errors.Errorf("devices %d: the backend has only %d device(s)", devices, available)
	case devices > 1 && batchSize%devices != 0:
		return errors.Errorf("batch size %d is not divisible by devices %d (each device takes an equal share of the global batch)",
			batchSize, devices)
	}
	return nil
}

// newDataParallel returns the data-parallel set-up of n devices (0…n−1) of b for batches of
// batchSize, or nil for n ≤ 1 (the single-device path), and replicates t's variables on its mesh
// (cnn.Trained.ReplicateOn; what makes Dropout work). The set-up reuses the mesh of t's variables
// when they are already replicated on n devices (a second Train of the same model, or its
// evaluation after training).
func newDataParallel(b compute.Backend, t *cnn.Trained, n, batchSize int) (*dataParallel, error) {
	if err := CheckDevices(n, b.NumDevices(), batchSize); err != nil {
		return nil, errors.WithMessagef(err, "data-parallel training on %s", b.Name())
	}
	if n <= 1 {
		return nil, nil
	}
	mesh := storeMesh(t.Store(), n)
	if mesh == nil {
		var err error
		if mesh, err = distributed.NewDeviceMesh([]int{n}, []string{DataAxis}); err != nil {
			return nil, errors.WithMessagef(err, "mesh of %d devices", n)
		}
	}
	spec, err := distributed.BuildSpec(mesh).S(DataAxis).Done()
	if err != nil {
		return nil, errors.WithMessagef(err, "sharding spec of the batch axis over %d devices", n)
	}
	devices := make([]compute.DeviceNum, n)
	for i := range devices {
		devices[i] = compute.DeviceNum(i)
	}
	if err := t.ReplicateOn(mesh); err != nil {
		return nil, errors.WithMessagef(err, "data-parallel set-up of %s on %d devices", t.Model.Name, n)
	}
	return &dataParallel{mesh: mesh, batchSpec: spec, devices: devices}, nil
}

// storeMesh returns the one-axis mesh of n devices along DataAxis that a variable of store is
// sharded on, or nil if there is none.
func storeMesh(store *model.Store, n int) *distributed.DeviceMesh {
	for v := range store.IterVariables() {
		spec := v.ShardingSpec()
		if spec == nil {
			continue
		}
		if m := spec.Mesh; m != nil && m.NumDevices() == n && m.Rank() == 1 && m.AxesNames()[0] == DataAxis {
			return m
		}
	}
	return nil
}

// NewEvaluator returns the evaluator Train uses with cfg for t on b (the per-epoch figures), and
// Experiment.Run for its final reports: cnn.NewEvaluator with cfg.TTAMode() on one device, and with
// cfg.Devices = N > 1 sharded over devices 0…N−1 on the mesh of data-parallel training (each
// evaluation batch split in N equal shares, the last one padded; cnn.Evaluator.Sharded).
func NewEvaluator(b compute.Backend, t *cnn.Trained, cfg TrainConfig) (*cnn.Evaluator, error) {
	ev := cnn.NewEvaluator(b, t).WithTTA(cfg.TTAMode())
	if cfg.Devices <= 1 {
		return ev, nil
	}
	d, err := newDataParallel(b, t, cfg.Devices, cfg.Devices)
	if err != nil {
		return nil, errors.WithMessage(err, "sharded evaluation")
	}
	return d.evaluator(ev)
}

// evaluator returns ev sharded over d's devices, on d's mesh.
func (d *dataParallel) evaluator(ev *cnn.Evaluator) (*cnn.Evaluator, error) {
	return ev.Sharded(d.mesh, d.devices)
}

// shard splits the inputs and labels of batch along their batch axis, one equal share per device,
// and takes ownership of batch (its tensors are finalized).
func (d *dataParallel) shard(batch train.Batch) (train.DistributedBatch, error) {
	db := train.DistributedBatch{Spec: batch.Spec}
	split := func(ts []*tensors.Tensor, what string) ([]*dtensor.Tensor, error) {
		out := make([]*dtensor.Tensor, len(ts))
		for i, t := range ts {
			dt, err := dtensor.ShardTensor(d.batchSpec, t)
			if err != nil {
				for _, done := range out[:i] {
					_ = done.FinalizeAll()
				}
				return nil, errors.WithMessagef(err, "sharding %s #%d %s over %d devices", what, i, t.Shape(), len(d.devices))
			}
			out[i] = dt
		}
		return out, nil
	}
	defer func() { _ = batch.Finalize() }()
	var err error
	if db.Inputs, err = split(batch.Inputs, "input"); err != nil {
		return db, err
	}
	if db.Labels, err = split(batch.Labels, "label"); err != nil {
		_ = db.Finalize()
		return db, err
	}
	return db, nil
}

// ReplicaDivergence returns the largest absolute difference, over every variable of store held
// on several devices, between a device's copy and the first device's, and where it is (0 and ""
// when every copy is identical, or when nothing is distributed). Data-parallel training keeps the
// copies identical only if each update uses the gradient reduced over all devices: a step without
// the all-reduce would update each copy with its own share's gradient. The random state (Dropout)
// is compared too: it is replicated, and every device must draw the same numbers. Integer
// variables are compared exactly (a difference is at least 1).
func ReplicaDivergence(store *model.Store) (maxDiff float64, where string, err error) {
	for v := range store.IterVariables() {
		if !v.HasValue() || v.ShardingSpec() == nil {
			continue // Not distributed.
		}
		dv, err := v.DistributedValue()
		if err != nil {
			return 0, "", errors.WithMessagef(err, "variable %s", v.Path())
		}
		shards := dv.Shards()
		for i, s := range shards[min(1, len(shards)):] {
			d, at, err := shardDiff(shards[0], s)
			if err != nil {
				return 0, "", errors.WithMessagef(err, "variable %s on device %d", v.Path(), i+1)
			}
			if at < 0 {
				return math.Inf(1), fmt.Sprintf("%s (device %d holds %s, device 0 %s)", v.Path(), i+1, s.Shape(), shards[0].Shape()), nil
			}
			if d > maxDiff || math.IsNaN(d) {
				maxDiff, where = d, fmt.Sprintf("%s[%d] on device %d", v.Path(), at, i+1)
			}
		}
	}
	return maxDiff, where, nil
}

// shardDiff returns the largest |b[j] − a[j]| of two copies of a variable and its index j (−1 if
// their shapes differ); 0, 0 for types it does not compare.
func shardDiff(a, b *tensors.Tensor) (float64, int, error) {
	if !a.Shape().Equal(b.Shape()) {
		return 0, -1, nil
	}
	switch a.DType() {
	case dtypes.Float32:
		return flatDiff(a, b, func(x, y float32) float64 { return math.Abs(float64(x) - float64(y)) })
	case dtypes.Float64:
		return flatDiff(a, b, func(x, y float64) float64 { return math.Abs(x - y) })
	case dtypes.Int64:
		return flatDiff(a, b, intDiff[int64])
	case dtypes.Int32:
		return flatDiff(a, b, intDiff[int32])
	case dtypes.Uint64:
		return flatDiff(a, b, intDiff[uint64])
	}
	return 0, 0, nil
}

// intDiff returns |x − y| of two integers, computed without rounding before the subtraction.
func intDiff[T int32 | int64 | uint64](x, y T) float64 {
	if x > y {
		return float64(x - y)
	}
	return float64(y - x)
}

// flatDiff returns the largest diff of the values of a and b, tensors of Go type T and one
// shape, and its index.
func flatDiff[T float32 | float64 | int32 | int64 | uint64](a, b *tensors.Tensor, diff func(x, y T) float64) (worst float64, at int, err error) {
	var inner error
	err = tensors.ConstFlatData(a, func(fa []T) {
		inner = tensors.ConstFlatData(b, func(fb []T) {
			for j := range fa {
				if d := diff(fa[j], fb[j]); d > worst || math.IsNaN(d) {
					worst, at = d, j
				}
			}
		})
	})
	if err == nil {
		err = inner
	}
	return worst, at, err
}
