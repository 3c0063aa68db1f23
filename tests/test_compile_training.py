"""compile/'s training interface: the executors' declared capabilities, the run
``compile.training.start`` picks from them, ``CompiledFunction.flatten``, and the
optimizer's state accessors that compiled training uses."""

from __future__ import annotations

import random

import pytest

import zerograd as zg
from zerograd import losses, nn, optim
from zerograd.compile import EXECUTORS, training
from zerograd.compile.executors import Executor

XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def lecture(executor: str):
    random.seed(3)
    model = nn.MLP(3, [4, 4, 1])
    compiled = zg.compile(lambda X, y: losses.mse([model(x) for x in X], y), executor=executor)
    return model, compiled, optim.SGD(model.parameters(), lr=0.05)


def test_every_executor_offers_the_interface_and_says_it_has_no_device():
    for name in ("python", "numpy", "scalar"):
        cls = EXECUTORS[name]
        assert issubclass(cls, Executor), name
        assert cls.trains_on_device is False and cls.fused_value_and_grad is False
    _, compiled, _ = lecture("numpy")
    compiled.prepare(XS, YS)
    with pytest.raises(NotImplementedError, match="'numpy' executor does not train"):
        compiled.executor.training_step(None, None, False, None)


@pytest.mark.needs("jax", "the jax executor")
def test_the_jax_executor_says_it_trains_on_its_device():
    cls = EXECUTORS["jax"]
    assert issubclass(cls, Executor) and cls.trains_on_device and cls.fused_value_and_grad


@pytest.mark.parametrize("executor", ["python", "numpy", "scalar"])
def test_start_runs_the_update_in_numpy_where_the_executor_has_no_device(executor):
    model, compiled, opt = lecture(executor)
    run = training.start(compiled, lambda: (XS, YS), opt, device=True)
    assert type(run) is training.ArrayRun
    eager_model, eager_compiled, eager_opt = lecture(executor)
    loss = eager_compiled(XS, YS)
    eager_opt.zero_grad()
    loss.backward()
    eager_opt.step()
    value, size = run.evaluate()
    run.update()
    run.write_back()
    assert value == pytest.approx(loss.data, rel=1e-12)
    assert size == max(abs(p.grad) for p in eager_model.parameters())
    assert [p.data for p in model.parameters()] == pytest.approx(
        [p.data for p in eager_model.parameters()], rel=1e-12, abs=1e-15)


@pytest.mark.needs("jax", "the jax executor")
def test_start_trains_on_the_device_of_an_executor_that_says_it_can():
    _, compiled, opt = lecture("jax")
    assert type(training.start(compiled, lambda: (XS, YS), opt)) is training.DeviceRun
    assert type(training.start(compiled, lambda: (XS, YS), opt, device=False)) is (
        training.ArrayRun)


def test_flatten_gives_the_inputs_numbers_in_order_and_refuses_another_shape():
    _, compiled, _ = lecture("python")
    flat = compiled.flatten(XS, YS)
    assert flat == [x for row in XS for x in row] + YS
    assert compiled.n_ops > 0  # the first call traced the function
    with pytest.raises(ValueError, match="compiled for arguments of another structure"):
        compiled.flatten(XS[:3], YS[:3])


def test_set_state_refuses_bad_state_before_changing_anything():
    ps = [zg.Value(0.5), zg.Value(-1.0)]
    opt = optim.Adam(ps, lr=0.1)
    for p in ps:
        p.grad = 0.25
    opt.step()
    before = opt.state_dict()
    with pytest.raises(TypeError, match="needs a dict"):
        opt.set_state([1.0, 2.0])
    with pytest.raises(ValueError, match="'momentum_buffer' is no state of this optimizer"):
        opt.set_state({"exp_avg": [0.0, 0.0], "momentum_buffer": [0.0, 0.0]})
    with pytest.raises(ValueError, match=r"'exp_avg_sq' needs one number per parameter \(2\), "
                                         r"got 3 numbers"):
        opt.set_state({"exp_avg_sq": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="got float"):
        opt.set_state({"exp_avg": 1.0})
    assert opt.state_dict() == before
    opt.set_state({"exp_avg": [1.0, 2.0]})
    assert opt.get_state()["exp_avg"] == [1.0, 2.0]
    assert [e["exp_avg"] for e in opt.state_dict()["state"].values()] == [1.0, 2.0]
    assert opt.state_dict()["state"][0]["step"] == 1  # no step counted


@pytest.mark.needs("jax", "the jax executor")
def test_a_device_run_takes_a_hyperparameter_changed_between_steps():
    """A callback changes the momentum, then back, then the weight decay: the device run
    makes a program for each new set of hyperparameters (the first one is taken again), with
    the eager loop's numbers."""
    changes = {2: ("momentum", 0.9), 4: ("momentum", 0.5), 6: ("weight_decay", 0.01)}

    def run(compile):
        model, compiled, opt = lecture("jax")
        opt.param_groups[0]["momentum"] = 0.5

        def change(step, loss):
            if step in changes:
                key, value = changes[step]
                opt.param_groups[0][key] = value

        loss = compiled if compile else compiled.fn
        hist = zg.train.fit(model, loss, opt, 9, batch=lambda: (XS, YS), callbacks=[change],
                            progress=False)
        return hist["loss"], [p.data for p in model.parameters()], opt.state_dict()

    (h0, d0, s0), (h1, d1, s1) = run(False), run(True)
    assert h1 == pytest.approx(h0, rel=1e-12) and d1 == pytest.approx(d0, rel=1e-12)
    assert [e["momentum_buffer"] for e in s1["state"].values()] == pytest.approx(
        [e["momentum_buffer"] for e in s0["state"].values()], rel=1e-12, abs=1e-15)

    _, compiled, opt = lecture("jax")
    opt.param_groups[0]["momentum"] = 0.5
    device = training.start(compiled, lambda: (XS, YS), opt)
    for k in range(8):
        device.evaluate()
        device.update()
        if k in changes:
            key, value = changes[k]
            opt.param_groups[0][key] = value
    assert len(device.programs) == 3  # momentum, weight decay: (0.5, 0), (0.9, 0), (0.5, 0.01)
