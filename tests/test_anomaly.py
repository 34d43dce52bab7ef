"""detect_anomaly(): the first NaN/inf in a forward or backward names the op and the line
of user code that created it; outside the context nothing is checked."""

from __future__ import annotations

import os
import re
import threading

import numpy as np
import pytest

import minigrad as mg

# NumPy warns about log(-1), sqrt(-1), 1/0; here those are the point
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def where(make) -> str:
    """'test_anomaly.py:N' where N is the line of the body of ``make`` (one line long)."""
    return f"{os.path.basename(__file__)}:{make.__code__.co_firstlineno + 1}"


def test_log_of_a_negative_number_names_log_and_the_line():
    x = mg.tensor([1.0, -1.0], requires_grad=True)

    def make():
        return x.log()

    with mg.detect_anomaly(), pytest.raises(FloatingPointError, match=r"forward of Log\b") as info:
        make()
    assert where(make) in str(info.value)


def test_sqrt_of_minus_one_names_sqrt_and_the_line():
    x = mg.tensor([4.0, -1.0])  # no grad needed: forward is always checked

    def make():
        return x.sqrt()

    with mg.detect_anomaly(), pytest.raises(FloatingPointError, match=r"forward of Sqrt\b") as info:
        make()
    assert where(make) in str(info.value)


@pytest.mark.parametrize(
    ("op", "fn"),
    [("Exp", lambda x: x.exp() * 100), ("Div", lambda x: 1.0 / (x - x))],
)
def test_inf_in_forward_is_an_anomaly_too(op, fn):
    x = mg.tensor([100.0], requires_grad=True)  # exp(100) overflows float32
    with mg.detect_anomaly(), pytest.raises(FloatingPointError, match=rf"forward of {op}\b.*inf"):
        fn(x)


def test_sqrt_at_zero_fails_in_backward_and_names_sqrt_and_where_it_was_created():
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    with mg.detect_anomaly():

        def make():
            return x.sqrt()  # forward: sqrt(0) = 0 is fine; backward: 1 / (2 * 0) = inf

        y = make().sum()
        with pytest.raises(FloatingPointError, match=r"backward of Sqrt\b") as info:
            y.backward()
    message = str(info.value)
    assert where(make) in message
    # the inf comes out of a division inside Sqrt's backward; the error must blame Sqrt
    assert "Div" not in message


@pytest.mark.parametrize(
    ("op", "fn"),
    [
        ("PowScalar|Pow", lambda x, y: x**0.5),  # d/dx x^0.5 = 0.5 / sqrt(x): inf at 0
        ("Div", lambda x, y: x / y),  # dz/dy = -x / y^2 overflows float32 for y = 1e-30
    ],
)
def test_backward_producing_inf_names_the_op(op, fn):
    x = mg.tensor([0.0, 1.0], requires_grad=True)
    y = mg.tensor([1.0, 1e-30], requires_grad=True)
    with mg.detect_anomaly():
        out = fn(x, y)
        assert np.isfinite(out.numpy()).all()  # the forward is fine
        with pytest.raises(FloatingPointError, match=rf"backward of ({op})\b.*test_anomaly\.py:\d+"):
            out.sum().backward()


def test_outside_the_context_nothing_is_checked_and_nan_propagates():
    x = mg.tensor([-1.0, 0.0], requires_grad=True)
    y = x.log()  # no error
    assert np.isnan(y.numpy()[0]) and np.isneginf(y.numpy()[1])
    z = (y * 2).sum()
    assert np.isnan(z.item())
    s = mg.tensor([0.0], requires_grad=True)
    s.sqrt().sum().backward()  # no error either
    assert np.isinf(s.grad.numpy()).all()


def test_finite_computations_give_the_same_results_under_detect_anomaly():
    data = np.random.default_rng(0).uniform(0.5, 2.0, (3, 4))

    def run():
        x = mg.tensor(data, requires_grad=True)
        loss = (x.log() * x.sqrt()).tanh().sum()
        (g,) = mg.grad(loss, [x], create_graph=True)
        g.sum().backward()  # a second derivative: backward of backward
        return loss.item(), g.numpy(), x.grad.numpy()

    plain = run()
    with mg.detect_anomaly():
        checked = run()
    assert plain[0] == checked[0]
    np.testing.assert_array_equal(plain[1], checked[1])
    np.testing.assert_array_equal(plain[2], checked[2])


def test_an_op_created_before_the_context_is_still_named_in_backward():
    x = mg.tensor([0.0], requires_grad=True)
    y = x.sqrt().sum()  # created outside: no line was recorded
    with mg.detect_anomaly(), pytest.raises(FloatingPointError, match=r"backward of Sqrt\b"):
        y.backward()


def _raises_on_nan() -> bool:
    try:
        mg.tensor([-1.0]).log()
    except FloatingPointError:
        return True
    return False


def test_the_context_restores_the_previous_state_when_nested():
    assert not _raises_on_nan()
    with mg.detect_anomaly():
        assert _raises_on_nan()
        with mg.detect_anomaly():
            assert _raises_on_nan()
        assert _raises_on_nan()  # leaving the inner context keeps the outer one on
    assert not _raises_on_nan()


def test_the_context_restores_the_previous_state_after_an_exception():
    with pytest.raises(FloatingPointError), mg.detect_anomaly():
        mg.tensor([-1.0]).sqrt()
    assert not _raises_on_nan()
    with pytest.raises(KeyError), mg.detect_anomaly():
        raise KeyError("unrelated")
    assert not _raises_on_nan()


def test_checks_stay_on_after_an_anomaly_in_backward():
    x = mg.tensor([0.0], requires_grad=True)
    with mg.detect_anomaly():
        y = x.sqrt().sum()
        with pytest.raises(FloatingPointError):
            y.backward()
        assert _raises_on_nan()
    assert not _raises_on_nan()


def test_anomaly_mode_is_per_thread():
    seen = {}

    def other_thread():
        seen["raises"] = _raises_on_nan()

    with mg.detect_anomaly():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert seen == {"raises": False}


def test_integer_ops_are_not_checked():
    with mg.detect_anomaly():
        out = mg.tensor([1, 2]) + mg.tensor([3, 4])
    assert out.dtype == mg.int64


def test_the_message_says_what_happened():
    with mg.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        mg.tensor([-1.0]).log()
    assert re.search(r"NaN|nan", str(info.value))
