"""A random NAS tuner written for NNI (as NNI v1.1's examples/tuners/random_nas_tuner): it imports
`nni.tuner`, which nasctl provides when NNI is not installed."""

import numpy as np
from nni.tuner import Tuner


def random_archi_generator(nas_ss, random_state):
    """One architecture of an NNI NAS search space (only `mutable_layer` blocks), drawn at random."""
    chosen_archi = {}
    for block_name, block_value in nas_ss.items():
        if block_value['_type'] != 'mutable_layer':
            raise ValueError(f"RandomNASTuner only takes NAS search spaces: {block_name} is a {block_value['_type']}")
        chosen_block = {}
        for layer_name, layer in block_value['_value'].items():
            chosen_layer = {'chosen_layer': layer['layer_choice'][random_state.randint(len(layer['layer_choice']))],
                            'chosen_inputs': []}
            inputs = layer.get('optional_inputs', [])
            if inputs:
                size = layer['optional_input_size']
                count = size if isinstance(size, int) else random_state.randint(size[0], size[1] + 1)
                picked = sorted(random_state.choice(len(inputs), count, replace=False))
                chosen_layer['chosen_inputs'] = [inputs[i] for i in picked]
            chosen_block[layer_name] = chosen_layer
        chosen_archi[block_name] = chosen_block
    return chosen_archi


class RandomNASTuner(Tuner):
    """Proposes architectures at random."""

    def __init__(self):
        self.searchspace_json = None
        self.random_state = None

    def update_search_space(self, search_space):
        self.searchspace_json = search_space
        self.random_state = np.random.RandomState(0)

    def generate_parameters(self, parameter_id, **kwargs):
        return random_archi_generator(self.searchspace_json, self.random_state)

    def receive_trial_result(self, parameter_id, parameters, value, **kwargs):
        pass
