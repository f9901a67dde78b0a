"""Forward models y = A x as TF ops, each with an explicit adjoint."""

from rim_tf.operators.base import LinearOperator
from rim_tf.operators.bicubic import BicubicDownsample
from rim_tf.operators.bicubic import imresize
from rim_tf.operators.blur import Blur
from rim_tf.operators.identity import Identity
from rim_tf.operators.projections import BinaryProjection
from rim_tf.operators.projections import FourierProjection
from rim_tf.operators.projections import GaussianProjection
from rim_tf.operators.projections import MatrixProjection
from rim_tf.operators.projections import RandomProjection
