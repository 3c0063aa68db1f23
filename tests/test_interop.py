"""zg.interop: zerograd MLP <-> torch.nn.Sequential, same function to 1e-12."""

from __future__ import annotations

import random

import pytest
from conftest import needs

import zerograd as zg
from zerograd import interop, nn

torch = needs("torch", "zg.interop converts to and from it")  # else: skip the module


def outputs(model, xs):
    out = []
    for x in xs:
        y = model(x)
        out.append([v.data for v in y] if isinstance(y, list) else [y.data])
    return out


def torch_outputs(seq, xs):
    with torch.no_grad():
        return seq(torch.tensor(xs, dtype=torch.float64)).tolist()


def close(a, b, tol=1e-12):
    return all(abs(u - v) <= tol * max(1.0, abs(v)) for ra, rb in zip(a, b, strict=True)
               for u, v in zip(ra, rb, strict=True))


def inputs(n, nin, seed=0):
    rnd = random.Random(seed)
    return [[rnd.uniform(-3, 3) for _ in range(nin)] for _ in range(n)]


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("out_act", [None, "tanh", "sigmoid"])
def test_to_torch_computes_the_same_function(act, out_act):
    random.seed(3)
    model = nn.MLP(3, [5, 4, 2], activation=act, output_activation=out_act)
    for p in model.parameters():  # nonzero biases too
        p.data += 0.1
    seq = interop.to_torch(model)
    assert all(p.dtype == torch.float64 for p in seq.parameters())
    xs = inputs(20, 3)
    assert close(torch_outputs(seq, xs), outputs(model, xs))


def test_to_torch_gradients_match():
    random.seed(4)
    model = nn.MLP(2, [6, 1], activation="tanh")
    seq = interop.to_torch(model)
    x = [0.3, -1.2]
    model(x).backward()
    seq(torch.tensor(x, dtype=torch.float64)).sum().backward()
    torch_grads = [g for lin in seq if isinstance(lin, torch.nn.Linear)
                   for g in torch.cat([lin.weight.grad, lin.bias.grad[:, None]], 1).flatten()]
    zg_grads = [v.grad for layer in model.layers for n in layer.neurons for v in [*n.w, n.b]]
    assert len(torch_grads) == len(zg_grads)
    assert all(abs(a - b) <= 1e-12 for a, b in zip(torch_grads, zg_grads, strict=True))


def test_single_output_and_layer_and_neuron():
    random.seed(5)
    model = nn.MLP(2, [1])
    seq = interop.to_torch(model)
    assert list(seq(torch.zeros(2, dtype=torch.float64)).shape) == [1]
    layer = nn.Layer(2, 3, activation="tanh")
    neuron = nn.Neuron(3)
    xs = inputs(5, 2)
    assert close(torch_outputs(interop.to_torch(layer), xs), outputs(layer, xs))
    assert close(torch_outputs(interop.to_torch(neuron), inputs(5, 3)),
                 outputs(neuron, inputs(5, 3)))


def test_the_lectures_classes_go_to_torch_as_tanh_layers():
    from zerograd import lecture

    random.seed(6)
    model = lecture.MLP(3, [4, 4, 1])
    seq = interop.to_torch(model)
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh"] * 3
    xs = inputs(10, 3)
    assert close(torch_outputs(seq, xs), outputs(model, xs))
    layer, neuron = lecture.Layer(2, 3), lecture.Neuron(3)
    assert close(torch_outputs(interop.to_torch(layer), inputs(5, 2)),
                 outputs(layer, inputs(5, 2)))
    assert close(torch_outputs(interop.to_torch(neuron), inputs(5, 3)),
                 outputs(neuron, inputs(5, 3)))


def test_to_torch_refuses_other_modules():
    class Custom(nn.Module):
        pass

    with pytest.raises(TypeError, match="MLP, Layer or Neuron"):
        interop.to_torch(Custom())


def test_round_trip_zerograd_torch_zerograd_is_bitwise():
    random.seed(6)
    model = nn.MLP(3, [4, 4, 1], activation="tanh", output_activation="sigmoid")
    back = interop.from_torch(interop.to_torch(model))
    assert back.state_dict() == model.state_dict()
    assert repr(back) == repr(model)
    xs = inputs(10, 3)
    assert outputs(back, xs) == outputs(model, xs)


def test_from_torch_computes_the_same_function_and_leaves_random_alone():
    torch.manual_seed(0)
    seq = torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
        torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.Identity()),
        torch.nn.Linear(4, 2), torch.nn.Sigmoid(),
    ).double()
    random.seed(7)
    state = random.getstate()
    model = interop.from_torch(seq)
    assert random.getstate() == state
    assert [n.activation for layer in model.layers for n in layer.neurons[:1]] == [
        "relu", "tanh", "linear", "sigmoid"]
    xs = inputs(20, 3)
    assert close(outputs(model, xs), torch_outputs(seq, xs))
    again = interop.to_torch(model)
    assert close(torch_outputs(again, xs), torch_outputs(seq, xs))
    assert zg.interop is interop


def test_from_torch_accepts_float32_and_a_single_linear():
    lin = torch.nn.Linear(2, 3)
    model = interop.from_torch(lin)
    assert model.layers[0].neurons[1].w[0].data == lin.weight.detach()[1, 0].item()
    assert model.layers[0].neurons[2].b.data == lin.bias.detach()[2].item()


@pytest.mark.parametrize(
    "modules, match",
    [
        (lambda: [torch.nn.Linear(2, 3), torch.nn.LeakyReLU()], r"module 1 \(LeakyReLU\)"),
        (lambda: [torch.nn.Linear(2, 3), torch.nn.Dropout()], r"module 1 \(Dropout\)"),
        (lambda: [torch.nn.ReLU(), torch.nn.Linear(2, 3)], "before any Linear"),
        (lambda: [torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Tanh()], "right after"),
        (lambda: [torch.nn.Linear(2, 3), torch.nn.Linear(4, 1)], "takes 4 inputs"),
        (lambda: [torch.nn.Linear(2, 3, bias=False)], "without bias"),
        (lambda: [], "empty"),
    ],
)
def test_from_torch_refuses_what_it_cannot_express(modules, match):
    with pytest.raises(ValueError, match=match) as info:
        interop.from_torch(torch.nn.Sequential(*modules()))
    assert "ReLU, Tanh, Sigmoid or Identity" in str(info.value)


def test_from_torch_refuses_other_types():
    with pytest.raises(ValueError, match=r"a Conv1d; it supports"):
        interop.from_torch(torch.nn.Conv1d(1, 1, 1))
