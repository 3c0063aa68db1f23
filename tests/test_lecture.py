"""zerograd.lecture is the lecture's network: its numbers, its graph, its gradients."""

from __future__ import annotations

import random
import warnings

import pytest
from conftest import needs
from test_nn import LECTURE_XS, LectureMLP

import zerograd as zg
from zerograd.engine import topological_order
from zerograd.lecture import MLP, Layer, Neuron, Value

YS = [1.0, -1.0, -1.0, 1.0]


def seeded(build, seed=1337):
    random.seed(seed)
    return build()


def squared_error(model):
    """The lecture's loss: sum((yout - ygt)**2 for ygt, yout in zip(ys, ypred))."""
    ypred = [model(x) for x in LECTURE_XS]
    return sum((yout - ygt) ** 2 for ygt, yout in zip(YS, ypred))


@pytest.mark.parametrize("seed", [0, 42, 1337])
def test_seeded_it_is_the_lecture_notebooks_network_bit_for_bit(seed, restore_random):
    ours, after_ours = seeded(lambda: (MLP(3, [4, 4, 1]), random.random()), seed)
    theirs, after_theirs = seeded(lambda: (LectureMLP(3, [4, 4, 1]), random.random()), seed)
    assert len(ours.parameters()) == 41
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    assert after_ours == after_theirs  # as many draws: the notebook's next cells agree too
    a, b = squared_error(ours), squared_error(theirs)
    assert a.data == b.data  # the same additions in the same order: equal to the last bit
    a.backward()
    b.backward()
    assert [p.grad for p in ours.parameters()] == [p.grad for p in theirs.parameters()]


def test_training_it_with_the_lectures_loop_gives_the_notebooks_losses(restore_random):
    def train(model):
        losses = []
        for _ in range(20):
            loss = squared_error(model)
            for p in model.parameters():
                p.grad = 0.0
            loss.backward()
            for p in model.parameters():
                p.data += -0.05 * p.grad
            losses.append(loss.data)
        return losses

    ours = train(seeded(lambda: MLP(3, [4, 4, 1])))
    theirs = train(seeded(lambda: LectureMLP(3, [4, 4, 1])))
    assert ours == theirs
    assert ours[-1] < ours[0] / 4


def test_a_neurons_graph_is_the_lectures_chain_of_times_and_plus_nodes(restore_random):
    n = seeded(lambda: Neuron(3))
    order = topological_order(n([2.0, 3.0, -1.0]))
    ops = [v._op for v in order if v._op]
    assert ops == ["*", "+", "*", "+", "*", "+", "tanh"]
    assert len(order) == 4 * 3 + 2  # b; per weight: w, x, *, +; tanh
    assert order[0] is n.b  # the sum starts from the bias, as sum(..., self.b) does


def test_the_compact_nn_mlp_lecture_draws_the_same_numbers(restore_random):
    ours = seeded(lambda: MLP(3, [4, 4, 1]))
    compact = seeded(lambda: zg.nn.MLP.lecture(3, [4, 4, 1]))
    assert [p.data for p in ours.parameters()] == [p.data for p in compact.parameters()]
    assert [p.label for p in ours.parameters()] == [p.label for p in compact.parameters()]
    for x in LECTURE_XS:  # one dot node adds in another order: equal to rounding
        assert ours(x).data == pytest.approx(compact(x).data, rel=1e-14, abs=1e-15)


def test_gradients_match_pytorch_float64(restore_random):
    torch = needs("torch", "the reference gradients")
    model = seeded(lambda: MLP(3, [4, 4, 1]))
    loss = squared_error(model)
    loss.backward()
    ws = {id(p): torch.tensor(p.data, dtype=torch.float64, requires_grad=True)
          for p in model.parameters()}

    def neuron(n, x):
        return (ws[id(n.b)] + sum(ws[id(wi)] * xi for wi, xi in zip(n.w, x))).tanh()

    total = 0
    for x, y in zip(LECTURE_XS, YS):
        h = x
        for layer in model.layers:
            h = [neuron(n, h) for n in layer.neurons]
        total = total + (h[0] - y) ** 2
    total.backward()
    assert loss.data == pytest.approx(total.item(), rel=1e-14)
    for p in model.parameters():
        assert p.grad == pytest.approx(ws[id(p)].grad.item(), rel=1e-12, abs=1e-14)


def test_it_trains_with_the_optimizers_fit_and_compile(restore_random):
    model = seeded(lambda: MLP(3, [4, 4, 1]))
    eager = seeded(lambda: MLP(3, [4, 4, 1]))
    opt = zg.optim.SGD(model.parameters(), lr=0.05)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a correct loop: no warning of any kind
        history = zg.train.fit(model, lambda: squared_error(model), opt, 20, progress=False)
        for _ in range(20):
            loss = squared_error(eager)
            eager.zero_grad()
            loss.backward()
            for p in eager.parameters():
                p.data -= 0.05 * p.grad
    assert [p.data for p in model.parameters()] == [p.data for p in eager.parameters()]
    assert history["loss"][-1] < history["loss"][0] / 4
    f = zg.compile(lambda: squared_error(model), executor="python")
    assert f().data == squared_error(model).data


def test_state_dict_names_and_labels_say_where_each_parameter_sits(restore_random):
    model = seeded(lambda: MLP(2, [3, 1]))
    assert [p.label for p in model.parameters()][:3] == ["L0.N0.w0", "L0.N0.w1", "L0.N0.b"]
    assert list(model.state_dict()) == [
        "layers.0.neurons.0.w", "layers.0.neurons.0.b", "layers.0.neurons.1.w",
        "layers.0.neurons.1.b", "layers.0.neurons.2.w", "layers.0.neurons.2.b",
        "layers.1.neurons.0.w", "layers.1.neurons.0.b"]
    assert isinstance(Layer(2, 1)([1.0, 2.0]), Value)
    assert len(Layer(2, 3)([1.0, 2.0])) == 3


@pytest.mark.parametrize("build, message", [
    (lambda: Neuron(0), "nin must be a whole number >= 1, got 0"),
    (lambda: Neuron(2.5), "nin must be a whole number >= 1, got 2.5"),
    (lambda: Layer(2, -1), "nout must be a whole number >= 1, got -1"),
    (lambda: MLP(3, 4), "nouts must be a non-empty list of layer sizes, got 4"),
    (lambda: MLP(3, [4, 0, 1]), "each layer size must be a whole number >= 1, got 0"),
])
def test_bad_sizes_are_refused_before_a_number_is_drawn(build, message, restore_random):
    random.seed(3)
    before = random.getstate()
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        build()
    assert random.getstate() == before


@pytest.mark.parametrize("x, got", [
    ([1.0, 2.0], r"got \[1.0, 2.0\]"),
    ([1.0, 2.0, 3.0, 4.0], r"got \[1.0, 2.0, 3.0, 4.0\]"),
    (2.0, "got 2.0"),
])
def test_a_wrong_input_is_an_error_not_a_silently_shorter_sum(x, got, restore_random):
    n = seeded(lambda: Neuron(3))
    with pytest.raises(ValueError, match=f"takes a list of 3 inputs, {got}"):
        n(x)
