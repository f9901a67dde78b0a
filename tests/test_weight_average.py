"""Tests of rim_tf.weight_average against the recursion written out."""

import numpy as np
import pytest
import tensorflow as tf

from rim_tf import weight_average


def test_update_is_the_exponential_moving_average():
  variables = [tf.Variable([1.0, 2.0]), tf.Variable([[4.0]])]
  average = weight_average.WeightAverage(variables, decay=0.75)
  variables[0].assign([3.0, 2.0])
  variables[1].assign([[0.0]])
  average.update()
  # 0.75 * start + 0.25 * new
  np.testing.assert_allclose(average.shadows[0].numpy(), [1.5, 2.0])
  np.testing.assert_allclose(average.shadows[1].numpy(), [[3.0]])
  average.update()
  np.testing.assert_allclose(average.shadows[0].numpy(), [1.875, 2.0])
  np.testing.assert_allclose(average.shadows[1].numpy(), [[2.25]])
  average.reset()
  np.testing.assert_array_equal(average.shadows[0].numpy(), [3.0, 2.0])


def test_applied_swaps_the_averages_in_and_restores_even_on_error():
  variable = tf.Variable([1.0])
  average = weight_average.WeightAverage([variable], decay=0.5)
  variable.assign([3.0])
  average.update()  # shadow 2.0
  with average.applied():
    assert variable.numpy().tolist() == [2.0]
  assert variable.numpy().tolist() == [3.0]
  with pytest.raises(RuntimeError, match="inside"):
    with average.applied():
      raise RuntimeError("inside")
  assert variable.numpy().tolist() == [3.0]
  assert average.shadows[0].numpy().tolist() == [2.0]


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1, 2.0])
def test_decay_outside_the_open_unit_interval_is_refused(decay):
  with pytest.raises(ValueError, match="decay must be in"):
    weight_average.WeightAverage([tf.Variable([1.0])], decay=decay)
