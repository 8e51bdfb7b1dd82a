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
// state and the outputs are replicated; XLA inserts the all-reduces of the gradients and of every
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

// CheckParallelModel fails if m has a layer that data-parallel training cannot run: Dropout,
// whose random numbers GoMLX v0.28.16 cannot draw in a distributed (AutoSharding) step — building
// the step's graph panics (docs/distributed.md). The error names the layer.
func CheckParallelModel(m *cnn.Model) error {
	return m.Walk(func(n cnn.Node) error {
		if _, ok := n.Layer.(cnn.Dropout); ok {
			return errors.Errorf("model %s: layer %s (Dropout) cannot train on several devices yet (GoMLX's random numbers "+
				"in a distributed step); train it on one device", m.Name, n.Path)
		}
		return nil
	})
}

// newDataParallel returns the data-parallel set-up of n devices (0…n−1) of b for model m, or nil
// for n ≤ 1 (the single-device path).
func newDataParallel(b compute.Backend, m *cnn.Model, n, batchSize int) (*dataParallel, error) {
	if err := CheckDevices(n, b.NumDevices(), batchSize); err != nil {
		return nil, errors.WithMessagef(err, "data-parallel training on %s", b.Name())
	}
	if n <= 1 {
		return nil, nil
	}
	if err := CheckParallelModel(m); err != nil {
		return nil, errors.WithMessagef(err, "data-parallel training on %d devices", n)
	}
	mesh, err := distributed.NewDeviceMesh([]int{n}, []string{DataAxis})
	if err != nil {
		return nil, errors.WithMessagef(err, "mesh of %d devices", n)
	}
	spec, err := distributed.BuildSpec(mesh).S(DataAxis).Done()
	if err != nil {
		return nil, errors.WithMessagef(err, "sharding spec of the batch axis over %d devices", n)
	}
	devices := make([]compute.DeviceNum, n)
	for i := range devices {
		devices[i] = compute.DeviceNum(i)
	}
	return &dataParallel{mesh: mesh, batchSpec: spec, devices: devices}, nil
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
// when every copy is identical, or when nothing is distributed). The random state is left out:
// GoMLX keeps one per device. Data-parallel training keeps the copies identical only if each
// update uses the gradient reduced over all devices: a step without the all-reduce would update
// each copy with its own share's gradient.
func ReplicaDivergence(store *model.Store) (maxDiff float64, where string, err error) {
	for v := range store.IterVariables() {
		if !v.HasValue() || v.ShardingSpec() == nil || v.Name() == model.RNGStateVariableName {
			continue // Not distributed, or the random state (each device draws its own numbers).
		}
		dv, err := v.DistributedValue()
		if err != nil {
			return 0, "", errors.WithMessagef(err, "variable %s", v.Path())
		}
		shards := dv.Shards()
		if len(shards) < 2 {
			continue
		}
		first, err := flatFloat64(shards[0])
		if err != nil {
			return 0, "", errors.WithMessagef(err, "variable %s on device 0", v.Path())
		}
		for i, s := range shards[1:] {
			other, err := flatFloat64(s)
			if err != nil {
				return 0, "", errors.WithMessagef(err, "variable %s on device %d", v.Path(), i+1)
			}
			if len(other) != len(first) {
				return math.Inf(1), fmt.Sprintf("%s (device %d holds %d values, device 0 %d)", v.Path(), i+1, len(other), len(first)), nil
			}
			for j := range first {
				if d := math.Abs(other[j] - first[j]); d > maxDiff || math.IsNaN(d) {
					maxDiff, where = d, fmt.Sprintf("%s[%d] on device %d", v.Path(), j, i+1)
				}
			}
		}
	}
	return maxDiff, where, nil
}

// flatFloat64 returns the values of a float or integer tensor as float64 (nil for other types).
func flatFloat64(t *tensors.Tensor) ([]float64, error) {
	switch t.DType() {
	case dtypes.Float32:
		return convertFlat[float32](t)
	case dtypes.Float64:
		return convertFlat[float64](t)
	case dtypes.Int64:
		return convertFlat[int64](t)
	case dtypes.Int32:
		return convertFlat[int32](t)
	}
	return nil, nil
}

// convertFlat copies the values of a tensor of Go type T as float64.
func convertFlat[T float32 | float64 | int64 | int32](t *tensors.Tensor) ([]float64, error) {
	var out []float64
	err := tensors.ConstFlatData(t, func(flat []T) {
		out = make([]float64, len(flat))
		for i, v := range flat {
			out[i] = float64(v)
		}
	})
	return out, err
}
