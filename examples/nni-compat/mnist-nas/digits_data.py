"""A local stand-in for `tensorflow.examples.tutorials.mnist.input_data` (gone in TensorFlow 2):
scikit-learn's 8x8 digits with the same `read_data_sets(...).train.next_batch(n)`, `.test.images`
and `.test.labels`."""

import numpy as np
from sklearn.datasets import load_digits


class _DataSet:
    def __init__(self, images, labels, seed):
        self.images = images
        self.labels = labels
        self._rng = np.random.RandomState(seed)

    def next_batch(self, batch_size):
        index = self._rng.randint(0, len(self.images), batch_size)
        return self.images[index], self.labels[index]


class _DataSets:
    def __init__(self, train, test):
        self.train = train
        self.test = test


def read_data_sets(data_dir=None, one_hot=True, seed=0):
    """The digits, 1500 for training and the rest for testing; images flattened to 64 values in [0, 1]."""
    digits = load_digits()
    images = (digits.data / 16.0).astype('float32')
    labels = np.eye(10, dtype='float32')[digits.target] if one_hot else digits.target
    order = np.random.RandomState(seed).permutation(len(images))
    train, test = order[:1500], order[1500:]
    return _DataSets(_DataSet(images[train], labels[train], seed), _DataSet(images[test], labels[test], seed))
