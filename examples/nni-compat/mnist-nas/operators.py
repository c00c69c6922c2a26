"""Candidate operations in the style of NNI's mnist-nas `operators.py` (TF1 graph code).

Each operation takes NNI's `inputs = [fixed_inputs, chosen_optional_inputs]` and makes its weights
with `tf.Variable(<initial tensor>)` every time it is called, as NNI's operators do.
"""

import math

import tensorflow.compat.v1 as tf


def weight_variable(shape):
    """A weight variable of the given shape."""
    initial = tf.truncated_normal(shape, stddev=0.1)
    return tf.Variable(initial)


def bias_variable(shape):
    """A bias variable of the given shape."""
    initial = tf.constant(0.1, shape=shape)
    return tf.Variable(initial)


def sum_op(inputs):
    """The fixed input plus the first chosen optional input, pooled to its size and projected by 1x1."""
    fixed_input = inputs[0][0]
    optional_input = inputs[1][0]
    fixed_shape = fixed_input.get_shape().as_list()
    optional_shape = optional_input.get_shape().as_list()
    pool_size = math.ceil(optional_shape[1] / fixed_shape[1])
    pooled = tf.nn.avg_pool(optional_input, ksize=[1, pool_size, pool_size, 1],
                            strides=[1, pool_size, pool_size, 1], padding='SAME')
    projection = weight_variable([1, 1, optional_shape[3], fixed_shape[3]])
    return fixed_input + tf.nn.conv2d(pooled, projection, strides=[1, 1, 1, 1], padding='SAME')


def _input(inputs):
    return inputs[0][0] if not inputs[1] else sum_op(inputs)


def conv2d(inputs, size=-1, in_ch=-1, out_ch=-1):
    """A size x size convolution."""
    w_matrix = weight_variable([size, size, in_ch, out_ch])
    return tf.nn.conv2d(_input(inputs), w_matrix, strides=[1, 1, 1, 1], padding='SAME')


def twice_conv2d(inputs, size=-1, in_ch=-1, out_ch=-1):
    """A 1 x size convolution followed by a size x 1 one."""
    w_matrix1 = weight_variable([1, size, in_ch, int(out_ch / 2)])
    out = tf.nn.conv2d(_input(inputs), w_matrix1, strides=[1, 1, 1, 1], padding='SAME')
    w_matrix2 = weight_variable([size, 1, int(out_ch / 2), out_ch])
    return tf.nn.conv2d(out, w_matrix2, strides=[1, 1, 1, 1], padding='SAME')


def dilated_conv(inputs, size=3, in_ch=-1, out_ch=-1):
    """A size x size convolution with dilation 2."""
    w_matrix = weight_variable([size, size, in_ch, out_ch])
    return tf.nn.atrous_conv2d(_input(inputs), w_matrix, rate=2, padding='SAME')


def separable_conv(inputs, size=-1, in_ch=-1, out_ch=-1):
    """A depthwise size x size convolution followed by a pointwise one."""
    depth_matrix = weight_variable([size, size, in_ch, 1])
    point_matrix = weight_variable([1, 1, 1 * in_ch, out_ch])
    return tf.nn.separable_conv2d(_input(inputs), depth_matrix, point_matrix, strides=[1, 1, 1, 1],
                                  padding='SAME')


def max_pool(inputs, size=-1):
    """Max pooling over size x size windows, stride 2."""
    return tf.nn.max_pool(_input(inputs), ksize=[1, size, size, 1], strides=[1, 2, 2, 1], padding='SAME')


def avg_pool(inputs, size=-1):
    """Average pooling over size x size windows, stride 2."""
    return tf.nn.avg_pool(_input(inputs), ksize=[1, size, size, 1], strides=[1, 2, 2, 1], padding='SAME')


def post_process(inputs, ch_size=-1):
    """A bias and a ReLU."""
    bias_matrix = bias_variable([ch_size])
    return tf.nn.relu(inputs[0][0] + bias_matrix)
