package cnn

import (
	"github.com/gomlx/compute/distributed"
	"github.com/pkg/errors"
)

// ReplicateOn gives every variable of t's store — weights, buffers, optimizer state, global step
// and random state — mesh's replicated sharding, so that every distributed graph of the store
// (data-parallel training steps, sharded evaluation) runs on mesh: GoMLX requires the meshes of a
// graph's sharded parameters to be the graph's own. A variable already sharded on mesh is left as
// it is (its copies stay on the devices); one sharded on another mesh (from training the same
// model on another number of devices) is brought back to the host first, then replicated on mesh
// when next used.
//
// It is also what makes Dropout work on several devices. GoMLX v0.28.16 creates the store's
// random state (model.RNGStateVariableName, seeded by NewTrained) without a pointer to its store
// (ml/model/random.go:33-40, Store.getRNGStateVar), and a variable with no sharding spec of its
// own looks the store's default up through that pointer when a distributed graph uses it
// (ml/model/variable.go:589-591, Variable.paramNode): a nil pointer dereference, "graphFn for
// "Trainer" panicked", for the random state only. Replicated here, the random state is an input
// of the distributed graph like the weights, XLA draws the same random numbers on every device,
// and its copies stay identical.
func (t *Trained) ReplicateOn(mesh *distributed.DeviceMesh) error {
	if mesh == nil {
		return errors.New("replicating the variables: no mesh")
	}
	replicated := distributed.NewReplicatedShardingSpec(mesh)
	for v := range t.store.IterVariables() {
		spec := v.ShardingSpec()
		if spec != nil && spec.Mesh == mesh {
			continue
		}
		if spec != nil && v.HasValue() {
			value, err := v.Value() // The merged copies, owned by v.
			if err != nil {
				return errors.WithMessagef(err, "variable %s, sharded on mesh %s", v.Path(), spec.Mesh)
			}
			host, err := value.LocalClone()
			if err != nil {
				return errors.WithMessagef(err, "copying variable %s to the host", v.Path())
			}
			if err := v.SetValue(host); err != nil {
				return errors.WithMessagef(err, "variable %s", v.Path())
			}
		}
		if err := v.SetShardingSpec(replicated); err != nil {
			return errors.WithMessagef(err, "replicating variable %s on mesh %s", v.Path(), mesh)
		}
	}
	return nil
}
