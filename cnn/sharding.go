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
// random state (model.RNGStateVariableName) without a pointer to its store (ml/model/random.go:32-38,
// Store.getRNGStateVar: the Variable literal has no store field), with the store's default
// sharding of the moment as its own — none when NewTrained seeds it, before any distributed
// graph. A distributed graph then looks the default up through the missing pointer
// (ml/model/variable.go:590, Variable.paramNode: v.store.defaultShardingSpec): a nil pointer
// dereference, "graphFn for "Trainer" panicked", for the random state only (the other variables
// have their store). With its sharding set here the random state is replicated like the weights,
// and its copies stay identical: every device draws the dropout masks one device would.
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
