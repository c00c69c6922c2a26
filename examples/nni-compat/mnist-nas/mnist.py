"""NNI v1.1's mnist-nas trial (classic and oneshot mode) as an NNI user runs it under nasctl.

Written the way NNI's example is: TF1 graph code, NNI's operators, `@nni.` annotations. The only
changes are the ones every TensorFlow 2 user makes: `tensorflow.compat.v1` with v2 behaviour off,
and a local data loader (`digits_data`, scikit-learn's 8x8 digits) instead of the removed
`tensorflow.examples.tutorials`.
"""

# Written as NNI's example is (`class X(object)`, its import order); the annotations define and use
# names that ruff cannot see until the file is compiled.
# ruff: noqa: F821, F841, I001, UP004

import argparse
import logging
import math

import tensorflow.compat.v1 as tf

import digits_data as input_data
import operators as op

tf.disable_v2_behavior()

logger = logging.getLogger('mnist_AutoML')


class MnistNetwork(object):
    '''MnistNetwork builds the network for the digits, with its search space.'''

    def __init__(self, channel_1_num, channel_2_num, hidden_size, learning_rate, x_dim=64, y_dim=10):
        self.channel_1_num = channel_1_num
        self.channel_2_num = channel_2_num
        self.hidden_size = hidden_size
        self.learning_rate = learning_rate
        self.x_dim = x_dim
        self.y_dim = y_dim
        self.images = tf.placeholder(tf.float32, [None, self.x_dim], name='input_x')
        self.labels = tf.placeholder(tf.float32, [None, self.y_dim], name='input_y')
        self.keep_prob = tf.placeholder(tf.float32, name='keep_prob')
        self.train_step = None
        self.accuracy = None

    def build_network(self):
        '''Build the network, with its neural architecture search space.'''
        with tf.name_scope('reshape'):
            input_dim = int(math.sqrt(self.x_dim))
            x_image = tf.reshape(self.images, [-1, input_dim, input_dim, 1])

        """@nni.mutable_layers(
            {
                layer_choice: [op.conv2d(size=1, in_ch=1, out_ch=self.channel_1_num),
                               op.conv2d(size=3, in_ch=1, out_ch=self.channel_1_num),
                               op.twice_conv2d(size=3, in_ch=1, out_ch=self.channel_1_num),
                               op.dilated_conv(in_ch=1, out_ch=self.channel_1_num),
                               op.separable_conv(size=3, in_ch=1, out_ch=self.channel_1_num)],
                fixed_inputs: [x_image],
                layer_output: conv1_out
            },
            {
                layer_choice: [op.post_process(ch_size=self.channel_1_num)],
                fixed_inputs: [conv1_out],
                layer_output: post1_out
            },
            {
                layer_choice: [op.max_pool(size=3), op.max_pool(size=2), op.avg_pool(size=3)],
                fixed_inputs: [post1_out],
                layer_output: pool1_out
            },
            {
                layer_choice: [op.conv2d(size=1, in_ch=self.channel_1_num, out_ch=self.channel_2_num),
                               op.conv2d(size=3, in_ch=self.channel_1_num, out_ch=self.channel_2_num),
                               op.twice_conv2d(size=3, in_ch=self.channel_1_num, out_ch=self.channel_2_num),
                               op.separable_conv(size=3, in_ch=self.channel_1_num, out_ch=self.channel_2_num)],
                fixed_inputs: [pool1_out],
                optional_inputs: [post1_out],
                optional_input_size: [0, 1],
                layer_output: conv2_out
            },
            {
                layer_choice: [op.post_process(ch_size=self.channel_2_num)],
                fixed_inputs: [conv2_out],
                layer_output: post2_out
            },
            {
                layer_choice: [op.max_pool(size=3), op.max_pool(size=2), op.avg_pool(size=3)],
                fixed_inputs: [post2_out],
                optional_inputs: [post1_out, pool1_out],
                optional_input_size: [0, 1],
                layer_output: pool2_out
            }
        )"""

        last_dim_list = pool2_out.get_shape().as_list()
        last_dim = last_dim_list[1]
        with tf.name_scope('fc1'):
            w_fc1 = op.weight_variable([last_dim * last_dim * self.channel_2_num, self.hidden_size])
            b_fc1 = op.bias_variable([self.hidden_size])
        h_pool2_flat = tf.reshape(pool2_out, [-1, last_dim * last_dim * self.channel_2_num])
        h_fc1 = tf.nn.relu(tf.matmul(h_pool2_flat, w_fc1) + b_fc1)
        with tf.name_scope('dropout'):
            h_fc1_drop = tf.nn.dropout(h_fc1, self.keep_prob)
        with tf.name_scope('fc2'):
            w_fc2 = op.weight_variable([self.hidden_size, self.y_dim])
            b_fc2 = op.bias_variable([self.y_dim])
            y_conv = tf.matmul(h_fc1_drop, w_fc2) + b_fc2
        with tf.name_scope('loss'):
            self.cross_entropy = tf.reduce_mean(
                tf.nn.softmax_cross_entropy_with_logits(labels=self.labels, logits=y_conv))
        with tf.name_scope('adam_optimizer'):
            self.train_step = tf.train.AdamOptimizer(self.learning_rate).minimize(self.cross_entropy)
        with tf.name_scope('accuracy'):
            correct_prediction = tf.equal(tf.argmax(y_conv, 1), tf.argmax(self.labels, 1))
            self.accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))


def main(params):
    '''Build the network, train it, and send the results to NNI.'''
    mnist = input_data.read_data_sets(params['data_dir'], one_hot=True)
    mnist_network = MnistNetwork(channel_1_num=params['channel_1_num'],
                                 channel_2_num=params['channel_2_num'],
                                 hidden_size=params['hidden_size'],
                                 learning_rate=params['learning_rate'])
    mnist_network.build_network()
    logger.debug('Mnist build network done.')

    test_acc = 0.0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(params['batch_num']):
            batch = mnist.train.next_batch(params['batch_size'])
            mnist_network.train_step.run(feed_dict={mnist_network.images: batch[0],
                                                    mnist_network.labels: batch[1],
                                                    mnist_network.keep_prob: 1 - params['dropout_rate']})

            if i % 20 == 0:
                test_acc = mnist_network.accuracy.eval(
                    feed_dict={mnist_network.images: mnist.test.images,
                               mnist_network.labels: mnist.test.labels,
                               mnist_network.keep_prob: 1.0})
                """@nni.report_intermediate_result(test_acc)"""

        test_acc = mnist_network.accuracy.eval(
            feed_dict={mnist_network.images: mnist.test.images,
                       mnist_network.labels: mnist.test.labels,
                       mnist_network.keep_prob: 1.0})
        """@nni.report_final_result(test_acc)"""
        logger.debug('Final result is %g', test_acc)


def get_params():
    '''Parameters from the command line.'''
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", type=str, default=None, help="unused: the digits come with scikit-learn")
    parser.add_argument("--dropout_rate", type=float, default=0.2, help="dropout rate")
    parser.add_argument("--channel_1_num", type=int, default=8)
    parser.add_argument("--channel_2_num", type=int, default=16)
    parser.add_argument("--hidden_size", type=int, default=64)
    parser.add_argument("--learning_rate", type=float, default=1e-2)
    parser.add_argument("--batch_num", type=int, default=200)
    parser.add_argument("--batch_size", type=int, default=32)
    args, _ = parser.parse_known_args()
    return args


if __name__ == '__main__':
    try:
        main(vars(get_params()))
    except Exception as exception:
        logger.exception(exception)
        raise
