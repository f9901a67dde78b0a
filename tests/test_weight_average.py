"""Tests of rim_tf.training.weight_average against the recursion written out."""

import numpy as np
import pytest
import tensorflow as tf

from rim_tf.training import weight_average


def test_update_is_the_exponential_moving_average_with_warm_up():
  variables = [tf.Variable([1.0, 2.0]), tf.Variable([[4.0]])]
  average = weight_average.WeightAverage(variables, decay=0.15)
  variables[0].assign([3.0, 2.0])
  variables[1].assign([[0.0]])
  # Update 0: d = min(0.15, 1 / 10) = 0.1.
  average.update()
  np.testing.assert_allclose(average.shadows[0].numpy(), [2.8, 2.0], rtol=1e-6)
  np.testing.assert_allclose(average.shadows[1].numpy(), [[0.4]], rtol=1e-6)
  # Update 1: d = min(0.15, 2 / 11) = 0.15.
  variables[1].assign([[1.0]])
  average.update()
  np.testing.assert_allclose(average.shadows[0].numpy(), [2.97, 2.0],
                             rtol=1e-6)
  np.testing.assert_allclose(average.shadows[1].numpy(), [[0.91]], rtol=1e-6)
  assert int(average.updates) == 2
  # A reset starts from trained weights: no warm-up, the full decay.
  average.reset()
  np.testing.assert_array_equal(average.shadows[0].numpy(), [3.0, 2.0])
  assert int(average.updates) == average.warm_updates == 1
  assert float(average.current_decay()) == pytest.approx(0.15)


def test_decay_warms_up_to_its_value():
  average = weight_average.WeightAverage([tf.Variable([0.0])], decay=0.999)
  decays = []
  for _ in range(3):
    decays.append(float(average.current_decay()))
    average.update()
  np.testing.assert_allclose(decays, [1 / 10, 2 / 11, 3 / 12], rtol=1e-6)
  assert average.warm_updates == 8990  # (1 + k) / (10 + k) = 0.999
  average.updates.assign(average.warm_updates - 1)
  assert float(average.current_decay()) < 0.999
  average.reset()
  assert float(average.current_decay()) == pytest.approx(0.999)


def test_applied_swaps_the_averages_in_and_restores_even_on_error():
  variable = tf.Variable([1.0])
  average = weight_average.WeightAverage([variable], decay=0.5)
  variable.assign([11.0])
  average.update()  # d = 0.1: shadow 10.0
  with average.applied():
    assert variable.numpy().tolist() == [10.0]
  assert variable.numpy().tolist() == [11.0]
  with pytest.raises(RuntimeError, match="inside"):
    with average.applied():
      raise RuntimeError("inside")
  assert variable.numpy().tolist() == [11.0]
  assert average.shadows[0].numpy().tolist() == [10.0]


def test_a_swap_failing_halfway_leaves_every_variable_as_it_was():
  variables = [tf.Variable([1.0]), tf.Variable([2.0])]
  average = weight_average.WeightAverage(variables, decay=0.5)
  variables[0].assign([5.0])
  average.update()
  average.shadows[1] = tf.Variable([1.0, 2.0, 3.0])  # cannot be assigned
  with pytest.raises((ValueError, tf.errors.InvalidArgumentError)):
    with average.applied():
      pass
  assert [v.numpy().tolist() for v in variables] == [[5.0], [2.0]]


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.1, 2.0])
def test_decay_outside_the_open_unit_interval_is_refused(decay):
  with pytest.raises(ValueError, match="decay must be in"):
    weight_average.WeightAverage([tf.Variable([1.0])], decay=decay)
