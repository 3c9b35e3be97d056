import numpy as np
import pytest

from pipelines import synthetic


def test_same_seed_same_data_and_other_seed_other_data():
    x1, y1 = synthetic.make_order(20, seed=3)
    x2, y2 = synthetic.make_order(20, seed=3)
    x3, y3 = synthetic.make_order(20, seed=4)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3)


def test_shapes_and_dtypes():
    x, y = synthetic.make_order(10, timesteps=7, features=3, seed=0)
    assert x.shape == (10, 7, 3) and x.dtype == np.float32
    assert y.shape == (10,) and y.dtype == np.int32
    assert set(np.unique(y)) <= {0, 1}


@pytest.mark.parametrize("n", [2, 9, 40])
def test_labels_are_balanced(n):
    _, y = synthetic.make_order(n, seed=0)
    assert int(y.sum()) == n // 2


def test_label_is_the_order_of_the_two_events():
    x, y = synthetic.make_order(30, timesteps=6, features=3, noise=0.0, seed=1)
    assert np.all(x[:, :, 2] == 0.0)
    assert np.all(x[:, :, :2].sum(axis=1) == 1.0)  # exactly one A and one B per sequence
    a_step = x[:, :, 0].argmax(axis=1)
    b_step = x[:, :, 1].argmax(axis=1)
    assert np.all(a_step != b_step)
    np.testing.assert_array_equal(y, (a_step < b_step).astype(np.int32))


def test_order_blind_summary_carries_no_label_information():
    x, _ = synthetic.make_order(30, timesteps=6, noise=0.0, seed=2)
    summaries = x.sum(axis=1)  # what a bag-of-steps model sees
    assert np.all(summaries == summaries[0])


@pytest.mark.parametrize(
    "kwargs, received",
    [
        ({"n": -1}, "n=-1"),
        ({"n": 1}, "n=1"),
        ({"n": 2.5}, "n=2.5"),
        ({"n": True}, "n=True"),
        ({"n": 4, "timesteps": 1}, "timesteps=1"),
        ({"n": 4, "features": 1}, "features=1"),
        ({"n": 4, "noise": -0.5}, "noise=-0.5"),
    ],
)
def test_invalid_arguments_raise(kwargs, received):
    with pytest.raises(ValueError, match=f"Received: {received}$"):
        synthetic.make_order(**kwargs)


def test_to_dataset_batches_every_example():
    x, y = synthetic.make_order(10, timesteps=5, features=2, seed=0)
    batches = list(synthetic.to_dataset(x, y, batch_size=4, seed=0).as_numpy_iterator())
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert batches[0][0].shape == (4, 5, 2)
    assert sorted(np.concatenate([b[1] for b in batches])) == sorted(y)


def test_to_dataset_without_shuffle_keeps_order():
    x, y = synthetic.make_order(6, timesteps=3, features=2, seed=0)
    (xb, yb), *_ = synthetic.to_dataset(x, y, batch_size=6, shuffle=False).as_numpy_iterator()
    np.testing.assert_array_equal(xb, x)
    np.testing.assert_array_equal(yb, y)


def test_to_dataset_rejects_bad_arguments():
    x, y = synthetic.make_order(4, seed=0)
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        synthetic.to_dataset(x, y, batch_size=0)
    with pytest.raises(ValueError, match="len"):
        synthetic.to_dataset(x, y[:3], batch_size=2)
