"""zerograd.nn: micrograd's Module/Neuron/Layer/MLP, plus activations and state dicts."""

from __future__ import annotations

import copy
import math
import random

import numpy as np
import pytest
from conftest import needs

import zerograd as zg
from zerograd.engine import Value
from zerograd.nn import MLP, Layer, Module, Neuron

try:
    import micrograd.engine
    import micrograd.nn
except ImportError:  # the tests that use it start with needs("micrograd"): skipped without it
    micrograd = None
try:
    import torch
except ImportError:  # the tests that use it start with needs("torch"): skipped without it
    torch = None

INPUTS = [[0.5, -1.2], [2.0, 0.3], [-0.7, -0.7], [1.1, 2.4]]
LABELS = [1.0, -1.0, -1.0, 1.0]


def seeded(factory, seed=1337):
    import random

    random.seed(seed)
    return factory()


def svm_loss(model, xs, ys):
    """micrograd's demo loss, written once for both libraries: hinge mean + L2."""
    scores = [model(x) for x in xs]
    losses = [(1 + -y * s).relu() for y, s in zip(ys, scores, strict=True)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg = 1e-4 * sum(p * p for p in model.parameters())
    return data_loss + reg


def test_default_mlp_draws_micrographs_exact_weights(restore_random):
    needs("micrograd", "the original to compare with")
    ours = seeded(lambda: MLP(2, [16, 16, 1]))
    theirs = seeded(lambda: micrograd.nn.MLP(2, [16, 16, 1]))
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    assert repr(ours) == repr(theirs)


def test_default_mlp_gives_micrographs_outputs_and_grads(restore_random):
    needs("micrograd", "the original to compare with")
    ours = seeded(lambda: MLP(2, [16, 16, 1]))
    theirs = seeded(lambda: micrograd.nn.MLP(2, [16, 16, 1]))
    for x in INPUTS:
        assert math.isclose(ours(x).data, theirs(x).data, rel_tol=1e-12, abs_tol=1e-15)
    a, b = svm_loss(ours, INPUTS, LABELS), svm_loss(theirs, INPUTS, LABELS)
    ours.zero_grad()
    theirs.zero_grad()
    a.backward()
    b.backward()
    assert math.isclose(a.data, b.data, rel_tol=1e-12)
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert math.isclose(p.grad, q.grad, rel_tol=1e-12, abs_tol=1e-15)
    # one SGD step each, then the models still agree
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        p.data -= 0.1 * p.grad
        q.data -= 0.1 * q.grad
    assert math.isclose(
        svm_loss(ours, INPUTS, LABELS).data, svm_loss(theirs, INPUTS, LABELS).data, rel_tol=1e-12
    )


def test_neuron_and_layer_reprs_match_micrograd(restore_random):
    needs("micrograd", "the original to compare with")
    assert repr(Neuron(3)) == repr(micrograd.nn.Neuron(3)) == "ReLUNeuron(3)"
    assert repr(Neuron(3, nonlin=False)) == repr(micrograd.nn.Neuron(3, nonlin=False))
    assert repr(Layer(2, 3)) == repr(micrograd.nn.Layer(2, 3))
    assert repr(Neuron(2, activation="tanh")) == "TanhNeuron(2)"


def test_layer_of_one_neuron_returns_a_value_and_mlp_can_pass_it_on(restore_random):
    needs("micrograd", "the original to compare with")
    layer = Layer(3, 1)
    assert isinstance(layer([1.0, 2.0, 3.0]), Value)
    assert isinstance(Layer(3, 2)([1.0, 2.0, 3.0]), list)
    model = MLP(2, [16, 1, 1])
    out = model([0.5, -0.5])
    assert isinstance(out, Value)
    out.backward()
    assert any(p.grad != 0 for p in model.parameters()[-2:])
    # micrograd feeds the bare Value of the 1-neuron layer to the next layer and fails
    theirs = micrograd.nn.MLP(2, [16, 1, 1])
    with pytest.raises(TypeError):
        theirs([0.5, -0.5])


def test_parameters_and_named_parameters_agree(restore_random):
    model = MLP(3, [4, 2])
    params = model.parameters()
    named = model.named_parameters()
    assert len(params) == (3 + 1) * 4 + (4 + 1) * 2 == zg.nn.count_parameters(model)
    assert [v for _, v in named] == params
    names = [n for n, _ in named]
    assert len(set(names)) == len(names)
    assert names[0] == "layers.0.neurons.0.w.0" and names[3] == "layers.0.neurons.0.b"
    assert names[-1] == "layers.1.neurons.1.b"


def test_parameters_fast_cases_find_what_the_general_walk_finds(restore_random):
    class Sub(Value):
        pass

    class Odd(Module):
        def __init__(self):
            self.name, self.flag, self.count, self.none = "odd", True, 3, None
            self.pair = (Value(1.0), Value(2.0))  # a tuple vector
            self.mixed = [Value(3.0), Neuron(2)]  # neither a vector nor modules: no params
            self.empty = []
            self.sub = Sub(4.0)
            self.child = Neuron(1)
            self.kids = [Neuron(1), Layer(1, 2)]
            self.w = [Value(5.0)]

    m = Odd()
    m.late = m.pair  # reassigned attributes keep their (new) place in the order
    del m.pair
    m.pair = (Value(6.0),)
    expected = [m.sub, *m.child.parameters(), *m.kids[0].parameters(),
                *m.kids[1].parameters(), *m.w, *m.late, *m.pair]
    assert m.parameters() == expected
    assert [v for _, v in m.named_parameters()] == expected


def test_zero_grad_clears_every_parameter(restore_random):
    model = MLP(2, [3, 1])
    model([1.0, -2.0]).backward()
    assert any(p.grad for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())


def test_custom_module_finds_values_lists_and_children(restore_random):
    class Net(Module):
        def __init__(self):
            self.scale = Value(2.0)
            self.offsets = [Value(0.1), Value(0.2)]
            self.body = Layer(2, 2)
            self.heads = [Neuron(2), Neuron(2, nonlin=False)]
            self.name = "not a parameter"
            self.numbers = [1.0, 2.0]

    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names[:3] == ["scale", "offsets.0", "offsets.1"]
    assert "body.neurons.1.w.1" in names and names[-1] == "heads.1.b"
    assert len(names) == 3 + 6 + 6
    sd = net.state_dict()
    assert sd["scale"] == 2.0 and sd["offsets"] == [0.1, 0.2]


def test_state_dict_round_trip(restore_random):
    a = MLP(2, [4, 1], activation="tanh")
    b = MLP(2, [4, 1], activation="tanh")
    assert [p.data for p in a.parameters()] != [p.data for p in b.parameters()]
    sd = a.state_dict()
    b.load_state_dict(sd)
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    assert a([0.3, 0.4]).data == b([0.3, 0.4]).data
    # the dict is a copy: changing it or the model afterwards does not affect the other
    sd["layers.0.neurons.0.w"][0] = 123.0
    assert a.parameters()[0].data != 123.0
    a.parameters()[0].data = -5.0
    assert b.parameters()[0].data != -5.0


def _mismatches(sd):
    """(description, broken state dict, expected exception) for several kinds of misfit.
    Each breaks the dict as late as possible, so a non-atomic load would change something."""
    keys = list(sd)
    last_vec = [k for k in keys if isinstance(sd[k], list)][-1]
    last_scalar = [k for k in keys if not isinstance(sd[k], list)][-1]
    out = []

    d = copy.deepcopy(sd)
    del d[keys[-1]]
    out.append(("missing key", d, ValueError, keys[-1]))
    d = copy.deepcopy(sd)
    d["layers.9.neurons.0.b"] = 0.0
    out.append(("unexpected key", d, ValueError, "layers.9.neurons.0.b"))
    d = copy.deepcopy(sd)
    d[last_vec] = d[last_vec] + [0.0]
    out.append(("vector too long", d, ValueError, last_vec))
    d = copy.deepcopy(sd)
    d[last_vec] = d[last_vec][:-1]
    out.append(("vector too short", d, ValueError, last_vec))
    d = copy.deepcopy(sd)
    d[last_vec] = 1.0
    out.append(("scalar for a vector", d, ValueError, last_vec))
    d = copy.deepcopy(sd)
    d[last_scalar] = [1.0]
    out.append(("vector for a scalar", d, (ValueError, TypeError), last_scalar))
    d = copy.deepcopy(sd)
    d[last_vec][-1] = "0.5"
    out.append(("string entry", d, TypeError, last_vec))
    d = copy.deepcopy(sd)
    d[last_scalar] = None
    out.append(("None entry", d, TypeError, last_scalar))
    d = copy.deepcopy(sd)
    d[last_vec][-1] = True
    out.append(("bool entry", d, TypeError, last_vec))
    return out


def test_load_state_dict_changes_nothing_on_any_mismatch(restore_random):
    model = MLP(3, [4, 4, 1])
    sd = {
        k: (v * 0 + 0.5 if not isinstance(v, list) else [0.5] * len(v))
        for k, v in model.state_dict().items()
    }
    before = [p.data for p in model.parameters()]
    for what, broken, exc, name in _mismatches(sd):
        with pytest.raises(exc) as info:
            model.load_state_dict(broken)
        assert name in str(info.value), (what, str(info.value))
        assert [p.data for p in model.parameters()] == before, f"{what} changed the model"
    for bad in ([1.0, 2.0], None, "weights"):
        with pytest.raises(TypeError):
            model.load_state_dict(bad)
        assert [p.data for p in model.parameters()] == before
    model.load_state_dict(sd)  # the unbroken dict loads
    assert all(p.data == 0.5 for p in model.parameters())


@pytest.mark.parametrize("huge", [10**400, -(10**4000)])
def test_load_state_dict_refuses_a_number_no_float_holds_and_changes_nothing(
        huge, restore_random):
    model = MLP(2, [2, 1])
    sd = model.state_dict()
    before = [p.data for p in model.parameters()]
    sd["layers.1.neurons.0.w"] = [0.5, huge]
    with pytest.raises(ValueError, match=r"'layers.1.neurons.0.w\[1\]' is too large for a "
                                         r"float64 \(an int of about \d+ digits\)"):
        model.load_state_dict(sd)
    assert [p.data for p in model.parameters()] == before


TORCH_ACTS = {  # looked up when called: torch is optional
    "relu": lambda t: torch.relu(t),
    "tanh": lambda t: torch.tanh(t),
    "sigmoid": lambda t: torch.sigmoid(t),
    "linear": lambda t: t,
}


def test_every_activation_has_a_reference():
    assert set(TORCH_ACTS) == set(zg.nn.ACTIVATIONS)


@pytest.mark.parametrize("act", zg.nn.ACTIVATIONS)
def test_neuron_activation_matches_torch(act, restore_random):
    needs("torch", "the reference values and gradients")
    n = Neuron(3, activation=act)
    x = [0.4, -1.5, 0.9]
    out = n(x)
    out.backward()
    w = torch.tensor([p.data for p in n.w], dtype=torch.float64, requires_grad=True)
    tout = TORCH_ACTS[act](w @ torch.tensor(x, dtype=torch.float64) + n.b.data)
    tout.backward()
    assert math.isclose(out.data, tout.item(), rel_tol=1e-12, abs_tol=1e-15)
    for p, g in zip(n.w, w.grad.tolist(), strict=True):
        assert math.isclose(p.grad, g, rel_tol=1e-12, abs_tol=1e-15)


@pytest.mark.parametrize(
    "act, out_act", [("tanh", "sigmoid"), ("sigmoid", None), ("relu", "tanh"), ("linear", "relu")]
)
def test_mlp_matches_torch_with_activations(act, out_act, restore_random):
    needs("torch", "the reference values and gradients")
    model = MLP(3, [5, 4, 2], activation=act, output_activation=out_act)
    x = [0.3, -0.8, 1.7]
    outs = model(x)
    zg.vsum([o * (i + 1) for i, o in enumerate(outs)]).backward()
    h = torch.tensor(x, dtype=torch.float64)
    tparams = []
    for i, layer in enumerate(model.layers):
        W = torch.tensor(
            [[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64, requires_grad=True
        )
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64, requires_grad=True)
        tparams.append((W, b))
        f = TORCH_ACTS[act if i < len(model.layers) - 1 else (out_act or "linear")]
        h = f(W @ h + b)
    (h * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum().backward()
    assert [o.data for o in outs] == pytest.approx(h.tolist(), rel=1e-12, abs=1e-15)
    for layer, (W, b) in zip(model.layers, tparams, strict=True):
        for n, wrow, bg in zip(layer.neurons, W.grad.tolist(), b.grad.tolist(), strict=True):
            assert [w.grad for w in n.w] == pytest.approx(wrow, rel=1e-12, abs=1e-15)
            assert n.b.grad == pytest.approx(bg, rel=1e-12, abs=1e-15)


def test_bad_arguments_raise_clear_errors(restore_random):
    with pytest.raises(ValueError, match="activation"):
        Neuron(2, activation="gelu")
    with pytest.raises(ValueError, match="activation"):
        MLP(2, [3, 1], output_activation="softmax")
    with pytest.raises(ValueError, match="nin"):
        Neuron(0)
    with pytest.raises(ValueError, match="nout"):
        Layer(2, 0)
    with pytest.raises(ValueError, match="nouts"):
        MLP(2, 3)
    with pytest.raises(ValueError, match=r"ReLUNeuron\(2\) expects a list of 2 numbers or "
                                         r"Values, got 3 of them"):
        Neuron(2)([1.0, 2.0, 3.0])


BATCH = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]


@pytest.mark.parametrize(
    "batch",
    [BATCH, BATCH[:1], BATCH[:3], tuple(BATCH), np.array(BATCH), [np.array(r) for r in BATCH]],
    ids=["list", "one row", "three rows", "tuple", "2-D array", "list of arrays"],
)
def test_calling_a_model_on_a_batch_says_to_call_it_per_row(restore_random, batch):
    model = MLP(3, [4, 4, 1])
    with pytest.raises(TypeError, match=r"^MLP\(3, \[4, 4, 1\]\) takes one input .* batch of "
                                        r"\d+ rows?; call it on each row: \[model\(x\) for x"):
        model(batch)
    assert [model(x).data for x in batch]  # per row it works


@pytest.mark.parametrize(
    "x, exc, words",
    [
        ("abc", TypeError, "expects a list of 3 numbers or Values, got str 'abc'"),
        (5.0, TypeError, "expects a list of 3 numbers or Values, got float 5.0"),
        (None, TypeError, "got NoneType None"),
        ([1.0, 2.0], ValueError, "expects a list of 3 numbers or Values, got 2 of them"),
        ([1.0, "a", 2.0], TypeError, "item 1 is str 'a'"),
    ],
)
def test_a_wrong_input_error_names_the_models_call(restore_random, x, exc, words):
    with pytest.raises(exc) as e:
        MLP(3, [4, 4, 1])(x)
    assert str(e.value).startswith("MLP(3, [4, 4, 1]) ") and words in str(e.value)
    assert "dot" not in str(e.value)


def test_neuron_and_layer_name_themselves_in_input_errors(restore_random):
    with pytest.raises(TypeError, match=r"^TanhNeuron\(2\) expects a list of 2 numbers"):
        Neuron(2, activation="tanh")("ab")
    with pytest.raises(TypeError, match=r"^Layer\(2, 3\) takes one input .* batch of 2 rows"):
        Layer(2, 3)([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(TypeError, match=r"for one input write model\(\[x\]\)"):
        MLP(1, [2, 1])(0.5)


def test_the_input_check_runs_only_after_a_call_failed(restore_random, monkeypatch):
    """A good call pays nothing for the friendly errors: the check is never run."""
    model = MLP(2, [3, 1])
    calls = []
    original = zg.nn._input_error
    monkeypatch.setattr(zg.nn, "_input_error", lambda *a: calls.append(a) or original(*a))
    model([1.0, 2.0])
    model(np.array([1.0, 2.0]))
    assert calls == []
    with pytest.raises(TypeError):
        model("ab")
    assert calls and all(c[0] == "ab" for c in calls)


def test_mlp_summary_names_sizes_activations_and_parameter_count(restore_random):
    assert MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh").summary() == (
        "MLP(3, [4, 4, 1]), tanh, 41 parameters")
    assert MLP(2, [16, 16, 1]).summary() == "MLP(2, [16, 16, 1]), relu, linear output, " \
                                            "337 parameters"


def test_load_state_dict_error_lists_only_what_is_wrong(restore_random):
    model = MLP(2, [2, 1])
    sd = model.state_dict()
    missing = dict(sd)
    del missing["layers.1.neurons.0.b"]
    with pytest.raises(ValueError) as e:
        model.load_state_dict(missing)
    assert str(e.value) == "state_dict does not fit this MLP: missing keys: 'layers.1.neurons.0.b'"
    extra = {**sd, "layers.7.w": [1.0]}
    with pytest.raises(ValueError) as e:
        model.load_state_dict(extra)
    assert str(e.value) == "state_dict does not fit this MLP: unexpected keys: 'layers.7.w'"
    both = {**missing, "layers.0.neurons.0.w": [1.0, 2.0, 3.0], "junk": 1.0}
    with pytest.raises(ValueError) as e:
        model.load_state_dict(both)
    assert str(e.value) == (
        "state_dict does not fit this MLP: missing keys: 'layers.1.neurons.0.b'; unexpected "
        "keys: 'junk'; wrong shapes: 'layers.0.neurons.0.w' (size 3, the model needs 2)")


# The lecture notebook's classes, as the lecture types them (on zerograd's Value).
class LectureNeuron:
    def __init__(self, nin):
        import random

        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(random.uniform(-1, 1))

    def __call__(self, x):
        return sum((wi * xi for wi, xi in zip(self.w, x)), self.b).tanh()

    def parameters(self):
        return self.w + [self.b]


class LectureLayer:
    def __init__(self, nin, nout):
        self.neurons = [LectureNeuron(nin) for _ in range(nout)]

    def __call__(self, x):
        outs = [n(x) for n in self.neurons]
        return outs[0] if len(outs) == 1 else outs

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class LectureMLP:
    def __init__(self, nin, nouts):
        sz = [nin] + nouts
        self.layers = [LectureLayer(sz[i], sz[i + 1]) for i in range(len(nouts))]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


LECTURE_XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]


def outputs(model, x):
    """The model's outputs on ``x`` as a list, one output or several."""
    out = model(x)
    return out if isinstance(out, list) else [out]


@pytest.mark.parametrize("seed", [0, 1337, 2024])
@pytest.mark.parametrize("nouts", [[4, 4, 1], [1], [3, 2]])
def test_lecture_mlp_has_the_lecture_notebooks_exact_weights_biases_and_outputs(
        seed, nouts, restore_random):
    ours, after_ours = seeded(lambda: (MLP.lecture(3, nouts), restore_random.random()), seed)
    theirs, after_theirs = seeded(lambda: (LectureMLP(3, nouts), restore_random.random()), seed)
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    assert after_ours == after_theirs  # as many draws, so the lecture's next cells agree too
    assert all(n.b.data != 0 for layer in ours.layers for n in layer.neurons)
    for x in LECTURE_XS:
        assert [v.data for v in outputs(ours, x)] == [v.data for v in outputs(theirs, x)]

    def loss(model):  # the lecture's squared error, summed over every output
        ys = [1.0, -1.0, -1.0, 1.0]
        return sum((o - y) ** 2 for x, y in zip(LECTURE_XS, ys) for o in outputs(model, x))

    a, b = loss(ours), loss(theirs)
    a.backward()
    b.backward()
    assert a.data == b.data
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert p.grad == pytest.approx(q.grad, rel=1e-12, abs=1e-15)


def test_lecture_constructor_is_the_three_options(restore_random):
    a = seeded(lambda: MLP.lecture(2, [3, 1]))
    b = seeded(lambda: MLP(2, [3, 1], activation="tanh", output_activation="tanh",
                           bias="uniform"))
    assert a.state_dict() == b.state_dict()
    assert repr(a) == "MLP of [Layer of [TanhNeuron(2), TanhNeuron(2), TanhNeuron(2)], " \
                      "Layer of [TanhNeuron(3)]]"
    assert a.summary() == "MLP(2, [3, 1]), tanh, 13 parameters"


def test_uniform_bias_is_drawn_after_its_weights_and_zero_bias_draws_nothing(restore_random):
    import random

    random.seed(5)
    draws = [random.uniform(-1, 1) for _ in range(4)]
    after_four = random.random()
    n = seeded(lambda: Neuron(3, bias="uniform"), 5)
    assert [w.data for w in n.w] + [n.b.data] == draws
    assert random.random() == after_four
    n = seeded(lambda: Neuron(3), 5)
    assert [w.data for w in n.w] == draws[:3] and n.b.data == 0.0
    assert random.uniform(-1, 1) == draws[3]  # the default bias takes no draw (micrograd's)


@pytest.mark.parametrize("make", [
    lambda: Neuron(2, bias="normal"),
    lambda: Layer(2, 2, bias=0.0),
    lambda: MLP(2, [2, 1], bias="Uniform"),
])
def test_an_unknown_bias_option_is_refused_with_the_choices(make, restore_random):
    with pytest.raises(ValueError, match=r"unknown bias .*'zero'.*'uniform'"):
        make()


def _label_of(name):
    """state_dict name -> drawing label: layers.0.neurons.1.w.2 -> L0.N1.w2."""
    out = name.replace("layers.", "L").replace("neurons.", "N")
    return out.replace("w.", "w")


@pytest.mark.parametrize("make, first", [
    (lambda: Neuron(3), ["w0", "w1", "w2", "b"]),
    (lambda: Layer(2, 2), ["N0.w0", "N0.w1", "N0.b", "N1.w0", "N1.w1", "N1.b"]),
    (lambda: MLP(2, [3, 1]), ["L0.N0.w0", "L0.N0.w1", "L0.N0.b", "L0.N1.w0"]),
    (lambda: MLP.lecture(3, [4, 4, 1]), ["L0.N0.w0", "L0.N0.w1", "L0.N0.w2", "L0.N0.b"]),
])
def test_every_parameter_is_labelled_by_its_place_like_its_state_dict_name(
        make, first, restore_random):
    model = make()
    labels = [p.label for p in model.parameters()]
    assert labels[:len(first)] == first
    assert labels == [_label_of(n) for n, _ in model.named_parameters()]
    assert len(set(labels)) == len(labels)
    if isinstance(model, MLP):
        assert labels[-1] == f"L{len(model.layers) - 1}.N{len(model.layers[-1].neurons) - 1}.b"


def test_forward_pass_labels_nothing_and_user_labels_stay(restore_random):
    model = MLP(2, [2, 1])
    model.layers[1].neurons[0].b.label = "output bias"
    x = [Value(1.0), Value(-2.0)]
    out = model(x)
    assert [v.label for v in x] == ["", ""] and out.label == ""
    assert model.layers[1].neurons[0].b.label == "output bias"


@pytest.mark.parametrize("build", [
    lambda: zg.nn.MLP(2, [3, 0]),
    lambda: zg.nn.MLP(2, [3, 4, "5"]),
    lambda: zg.nn.MLP(2, [3, 1], activation="tanhh"),
    lambda: zg.nn.MLP(2, [3, 1], output_activation="softmax"),
    lambda: zg.nn.MLP(2, [3, 1], bias="normal"),
    lambda: zg.nn.MLP(0, [3]),
    lambda: zg.nn.Layer(3, 2, activation="bad"),
    lambda: zg.nn.Layer(3, 0),
    lambda: zg.nn.Neuron(3, activation="bad"),
    lambda: zg.nn.Neuron(3, bias="normal"),
])
def test_bad_arguments_are_refused_before_any_random_number_is_drawn(build):
    random.seed(5)
    state = random.getstate()
    with pytest.raises(ValueError):
        build()
    assert random.getstate() == state


def test_parameters_asks_a_child_that_overrides_parameters():
    """Module.parameters() walks children that keep it in the same call, and calls a
    child's own parameters() where its class overrides it (here: a frozen bias)."""

    class FrozenBias(Neuron):
        def parameters(self):
            return list(self.w)

    class Net(Module):
        def __init__(self):
            self.first = Neuron(2)
            self.rest = [FrozenBias(2), Neuron(2)]
            self.scale = Value(2.0)

    net = Net()
    frozen, plain = net.rest
    want = [*net.first.w, net.first.b, *frozen.w, *plain.w, plain.b, net.scale]
    assert [id(p) for p in net.parameters()] == [id(p) for p in want]


def test_parameters_follows_every_change_of_the_model_between_calls(restore_random):
    """parameters() reuses its last walk only while every object it read is the same: each
    change below (an item of a weight list replaced, a list grown or emptied, attributes
    set, replaced and deleted, a neuron swapped, a list of numbers turned into Values, a
    child's own parameters()) shows at once, as a fresh walk finds it."""
    from zerograd.nn import _collect

    class Frozen(Neuron):
        calls = 0

        def parameters(self):
            Frozen.calls += 1
            return list(self.w)

    model = MLP(2, [3, 2])
    model.extra = [0.5, 1.5]

    def same():
        first, second = model.parameters(), model.parameters()
        fresh = _collect(model, [])
        assert [id(p) for p in first] == [id(p) for p in second] == [id(p) for p in fresh]
        return first

    n0 = model.layers[0].neurons[0]
    before = same()
    changes = [
        lambda: n0.w.__setitem__(1, Value(9.0)),
        lambda: n0.w.append(Value(8.0)),
        lambda: setattr(n0, "scale", Value(2.0)),
        lambda: setattr(n0, "scale", Value(3.0)),
        lambda: delattr(n0, "scale"),
        lambda: setattr(n0, "b", 0.0),  # a bias that is a number: no parameter
        lambda: model.layers[1].neurons.__setitem__(0, Neuron(3)),
        lambda: model.extra.__setitem__(0, Value(7.0)),  # half numbers: still no vector
        lambda: model.extra.__setitem__(1, Value(6.0)),  # all Values: a vector
        lambda: model.layers[0].neurons[1].w.clear(),
        lambda: setattr(model, "layers", model.layers[::-1]),
    ]
    for i, change in enumerate(changes):
        change()
        after = same()
        assert ([id(p) for p in after] == [id(p) for p in before]) == (i == 7)
        before = after
    assert model.extra[0] in before and model.extra[1] in before
    model.layers.append(Frozen(2))
    calls = Frozen.calls
    same()
    assert Frozen.calls == calls + 3  # asked on every walk: none is reused


def test_a_model_freed_takes_its_remembered_walk_with_it(restore_random):
    """parameters()' memory of its last walk holds the model weakly: freed, it is gone."""
    import gc

    from zerograd.nn import _WALKS

    model = MLP(2, [4, 1])
    model.parameters()
    key = id(model)
    assert key in _WALKS
    del model
    gc.collect()
    assert key not in _WALKS
