"""Optimizers and schedules against torch.optim (float64), state_dict round trips, the
forgotten-zero_grad warning, and argument checks."""

from __future__ import annotations

import copy
import json
import math
import random
import warnings

import pytest
from conftest import needs

import zerograd as zg
from zerograd import optim
from zerograd.engine import Value
from zerograd.nn import MLP

try:
    import torch
except ImportError:  # the tests that use it start with needs("torch"): skipped without it
    torch = None

START = [0.8, -1.3, 0.4, 2.1, -0.6, 1.7]
TARGET = [0.1, 0.9, -0.7, 1.2, 0.3, -1.1]
XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]


def objective(w):
    """A fixed non-quadratic function of the parameters; works on Values and on tensors."""
    loss = 0.0
    for i, wi in enumerate(w):
        loss = loss + (i + 1) * (wi - TARGET[i]) ** 2
    for a, b in zip(w, w[1:], strict=False):
        loss = loss + 0.5 * (a * b).tanh()
    return loss


def _train(ws, opt, steps, sched=None, read=None):
    """``steps`` steps of ``objective`` on ``ws``: (params read after each step, lrs)."""
    traj, lrs = [], [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.zero_grad()
        objective(ws).backward()
        opt.step()
        if sched is not None:
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
        if read is not None:
            traj.append([read(w) for w in ws])
    return traj, lrs


def run_zg(opt_cls, kw, steps=20, sched=None, start=START):
    """Train ``objective`` with a zerograd optimizer: (params after each step, lrs)."""
    ws = [Value(x) for x in start]
    opt = opt_cls(ws, **kw)
    return _train(ws, opt, steps, sched and sched[0](opt, **sched[1]), lambda w: w.data)


def run_torch(opt_cls, kw, steps=20, sched=None, start=START):
    ws = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in start]
    opt = opt_cls(ws, **kw, foreach=False)
    return _train(ws, opt, steps, sched and sched[0](opt, **sched[1]), lambda w: w.item())


def max_diff(a, b):
    return max(abs(x - y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True))


CONFIGS = {
    "sgd": ("SGD", dict(lr=0.05)),
    "sgd_momentum": ("SGD", dict(lr=0.05, momentum=0.9)),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    "sgd_weight_decay": ("SGD", dict(lr=0.05, weight_decay=0.3)),
    "sgd_dampening": ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    "adam": ("Adam", dict(lr=0.1)),
    "adam_amsgrad": ("Adam", dict(lr=0.1, amsgrad=True)),
    "adam_weight_decay": ("Adam", dict(lr=0.1, weight_decay=0.2)),
    "adam_all": (
        "Adam",
        dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True),
    ),
    "adamw": ("AdamW", dict(lr=0.1)),
    "adamw_amsgrad": ("AdamW", dict(lr=0.1, weight_decay=0.2, amsgrad=True)),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_optimizer_matches_torch_for_20_steps(name):
    needs("torch", "torch.optim, the reference")
    cls, kw = CONFIGS[name]
    ours, _ = run_zg(getattr(optim, cls), kw)
    ref, _ = run_torch(getattr(torch.optim, cls), kw)
    assert max_diff(ours, ref) < 1e-10
    assert max(abs(a - b) for a, b in zip(ours[-1], START, strict=True)) > 0.1  # it did move


def test_each_option_changes_the_trajectory():
    # Otherwise matching torch would say nothing about the option.
    finals = {
        name: tuple(run_zg(getattr(optim, c), kw)[0][-1]) for name, (c, kw) in CONFIGS.items()
    }
    assert len(set(finals.values())) == len(finals)


def test_adam_without_weight_decay_equals_adamw_without_weight_decay():
    a, _ = run_zg(optim.Adam, dict(lr=0.1))
    b, _ = run_zg(optim.AdamW, dict(lr=0.1, weight_decay=0))
    assert a == b


def test_torch_default_hyperparameters():
    needs("torch", "torch.optim, the reference")
    for cls in ("SGD", "Adam", "AdamW"):
        ours = getattr(optim, cls)([Value(1.0)]).param_groups[0]
        ref = getattr(torch.optim, cls)([torch.zeros(1, requires_grad=True)]).param_groups[0]
        for k, v in ours.items():
            if k != "params":
                assert ref[k] == v, (cls, k)


# -- an MLP, as in the lecture ------------------------------------------------------------
def mlp_forward(flat, x, sizes=(3, 4, 4, 1)):
    """micrograd's MLP with tanh everywhere, on a flat list of weights (w..., b per neuron)."""
    it = iter(flat)
    for nin, nout in zip(sizes, sizes[1:], strict=False):
        out = []
        for _ in range(nout):
            ws = [next(it) for _ in range(nin)]
            b = next(it)
            act = b
            for w, xi in zip(ws, x, strict=True):
                act = act + w * xi
            out.append(act.tanh())
        x = out
    return x[0]


@pytest.mark.parametrize(
    "cls, kw",
    [("Adam", dict(lr=0.05, amsgrad=True)), ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True))],
)
def test_mlp_training_matches_torch(cls, kw):
    needs("torch", "torch.optim, the reference")
    random.seed(1337)
    model = MLP(3, [4, 4, 1], activation="tanh", output_activation="tanh")
    tw = [torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for p in model.parameters()]
    opt = getattr(optim, cls)(model.parameters(), **kw)
    topt = getattr(torch.optim, cls)(tw, **kw, foreach=False)
    for _ in range(20):
        loss = sum((model(x) - y) ** 2 for x, y in zip(XS, YS, strict=True))
        opt.zero_grad()
        loss.backward()
        opt.step()
        tloss = sum((mlp_forward(tw, x) - y) ** 2 for x, y in zip(XS, YS, strict=True))
        topt.zero_grad()
        tloss.backward()
        topt.step()
        assert abs(loss.data - tloss.item()) < 1e-10
    assert max(abs(p.data - t.item()) for p, t in zip(model.parameters(), tw, strict=True)) < 1e-10
    assert loss.data < 1.0


# -- schedules ------------------------------------------------------------------------------
SCHEDULES = {
    "lambda_micrograd": (
        "SGD",
        dict(lr=0.05),
        "LambdaLR",
        dict(lr_lambda=lambda k: 1.0 - 0.9 * k / 100),
    ),
    "lambda_exp": ("Adam", dict(lr=0.1), "LambdaLR", dict(lr_lambda=lambda k: 0.9**k)),
    "step": ("SGD", dict(lr=0.05, momentum=0.9), "StepLR", dict(step_size=3, gamma=0.5)),
    "step_default_gamma": ("Adam", dict(lr=0.2), "StepLR", dict(step_size=7)),
    "cosine": ("Adam", dict(lr=0.1), "CosineAnnealingLR", dict(T_max=7, eta_min=0.005)),
    "cosine_zero_min": ("AdamW", dict(lr=0.1), "CosineAnnealingLR", dict(T_max=10)),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_matches_torch(name):
    needs("torch", "torch.optim, the reference")
    cls, kw, sname, skw = SCHEDULES[name]
    ours, lrs = run_zg(getattr(optim, cls), kw, steps=25, sched=(getattr(optim, sname), skw))
    ref, tlrs = run_torch(
        getattr(torch.optim, cls),
        kw,
        steps=25,
        sched=(getattr(torch.optim.lr_scheduler, sname), skw),
    )
    assert max(abs(a - b) for a, b in zip(lrs, tlrs, strict=True)) < 1e-12
    assert len(set(lrs)) > 3  # the schedule did change the lr
    assert max_diff(ours, ref) < 1e-10


def test_cosine_closed_form_tracks_torch_over_several_periods():
    needs("torch", "torch.optim, the reference")
    for t_max, eta_min, lr in [(8, 0.01, 0.1), (3, 0.2, 0.1), (1, 0.0, 0.5), (10, 0.0, 1.0)]:
        p, tp = Value(0.0), torch.zeros(1, requires_grad=True)
        opt, topt = optim.SGD([p], lr=lr), torch.optim.SGD([tp], lr=lr)
        s = optim.CosineAnnealingLR(opt, t_max, eta_min)
        ts = torch.optim.lr_scheduler.CosineAnnealingLR(topt, t_max, eta_min)
        for _ in range(60):
            opt.step()
            topt.step()
            s.step()
            ts.step()
            assert abs(s.get_last_lr()[0] - ts.get_last_lr()[0]) < 1e-12
            assert s.last_epoch == ts.last_epoch


def test_micrograd_demo_decay_is_one_lambdalr():
    def lecture_model():
        random.seed(7)
        return MLP(3, [4, 4, 1])

    blown = "the updates blow it up"  # lr ~1 on this net and data: both loops warn alike
    by_hand = lecture_model()
    with pytest.warns(optim.TrainingWarning, match=blown):
        for k in range(15):
            loss = sum((by_hand(x) - y) ** 2 for x, y in zip(XS, YS, strict=True))
            by_hand.zero_grad()
            loss.backward()
            learning_rate = 1.0 - 0.9 * k / 100
            for p in by_hand.parameters():
                p.data -= learning_rate * p.grad

    model = lecture_model()
    opt = optim.SGD(model.parameters(), lr=1.0)
    sched = optim.LambdaLR(opt, lambda k: 1.0 - 0.9 * k / 100)
    with pytest.warns(optim.TrainingWarning, match=blown):
        for _ in range(15):
            loss = sum((model(x) - y) ** 2 for x, y in zip(XS, YS, strict=True))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    assert [p.data for p in model.parameters()] == [p.data for p in by_hand.parameters()]
    assert sched.last_epoch == 15 and sched.get_last_lr() == [1.0 - 0.9 * 15 / 100]


def test_lr_attribute_and_param_groups_are_the_same_setting():
    p = Value(1.0)
    opt = optim.SGD([p], lr=0.1)
    opt.lr = 0.5
    assert opt.param_groups[0]["lr"] == 0.5
    opt.param_groups[0]["lr"] = 0.25
    assert opt.lr == 0.25
    p.grad = 2.0
    opt.step()
    assert p.data == 1.0 - 0.25 * 2.0


def test_scheduler_sets_lr_at_creation_like_torch():
    opt = optim.SGD([Value(1.0)], lr=0.2)
    s = optim.LambdaLR(opt, lambda k: 0.5 * (k + 1))
    assert s.last_epoch == 0 and opt.lr == 0.1 and s.get_last_lr() == [0.1]
    assert opt.param_groups[0]["initial_lr"] == 0.2
    assert s.lr_at(3) == [0.2 * 0.5 * 4]


# -- state_dict -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_state_dict_round_trip_continues_bit_identically(name):
    cls, kw = CONFIGS[name]
    cls = getattr(optim, cls)
    ws = [Value(x) for x in START]
    opt = cls(ws, **kw)
    _train(ws, opt, 7)
    saved = opt.state_dict()
    frozen = copy.deepcopy(saved)

    ws2 = [Value(w.data) for w in ws]
    opt2 = cls(ws2, lr=0.9)  # other hyperparameters: the loaded ones must win
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0] == {**opt.param_groups[0], "params": ws2}
    _train(ws, opt, 8)
    _train(ws2, opt2, 8)
    assert [w.data for w in ws] == [w.data for w in ws2]
    assert saved == frozen  # state_dict() is a snapshot, not a view


@pytest.mark.parametrize("name", ["sgd_dampening", "adam_all"])
def test_state_dict_survives_json(name):
    cls, kw = CONFIGS[name]
    cls = getattr(optim, cls)
    ws = [Value(x) for x in START]
    opt = cls(ws, **kw)
    _train(ws, opt, 5)
    ws2 = [Value(w.data) for w in ws]
    opt2 = cls(ws2)
    opt2.load_state_dict(json.loads(json.dumps(opt.state_dict())))
    _train(ws, opt, 5)
    _train(ws2, opt2, 5)
    assert [w.data for w in ws] == [w.data for w in ws2]


def test_state_dict_layout_is_torchs():
    needs("torch", "torch.optim, the reference")
    for cls in ("SGD", "Adam"):
        kw = dict(lr=0.1, momentum=0.9) if cls == "SGD" else dict(lr=0.1, amsgrad=True)
        ws = [Value(x) for x in START]
        opt = getattr(optim, cls)(ws, **kw)
        tws = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in START]
        topt = getattr(torch.optim, cls)(tws, **kw, foreach=False)
        assert opt.state_dict()["state"] == {} and topt.state_dict()["state"] == {}
        _train(ws, opt, 3)
        _train(tws, topt, 3)
        ours, ref = opt.state_dict(), topt.state_dict()
        assert ours["param_groups"][0]["params"] == ref["param_groups"][0]["params"]
        assert set(ours["state"]) == set(ref["state"])
        for i, entry in ours["state"].items():
            assert set(entry) == set(ref["state"][i])
            for k, v in entry.items():
                assert abs(v - float(ref["state"][i][k])) < 1e-12


def _adam_after_steps(n=4, params=START, **kw):
    ws = [Value(x) for x in params]
    opt = optim.Adam(ws, lr=0.1, **kw)
    _train(ws, opt, n)
    return opt


def _corrupt(sd, how):
    sd = copy.deepcopy(sd)
    if how == "missing_state_key":
        del sd["state"][2]["exp_avg_sq"]
    elif how == "string_value":
        sd["state"][1]["exp_avg"] = "0.5"
    elif how == "unequal_steps":
        sd["state"][0]["step"] = 99
    elif how == "missing_param_state":
        del sd["state"][5]
    elif how == "extra_hyper":
        sd["param_groups"][0]["foo"] = 1
    elif how == "bad_lr":
        sd["param_groups"][0]["lr"] = -1.0
    elif how == "two_groups":
        sd["param_groups"].append(sd["param_groups"][0])
    elif how == "amsgrad_without_max":
        sd["param_groups"][0]["amsgrad"] = True
    elif how == "not_a_dict":
        sd = [sd]
    return sd


@pytest.mark.parametrize(
    "how",
    [
        "missing_state_key",
        "string_value",
        "unequal_steps",
        "missing_param_state",
        "extra_hyper",
        "bad_lr",
        "two_groups",
        "amsgrad_without_max",
        "not_a_dict",
    ],
)
def test_bad_state_dict_raises_and_changes_nothing(how):
    good = _adam_after_steps().state_dict()
    target = _adam_after_steps(n=2)
    before = copy.deepcopy(target.state_dict())
    with pytest.raises((ValueError, TypeError), match="load_state_dict"):
        target.load_state_dict(_corrupt(good, how))
    assert target.state_dict() == before


def test_state_dict_of_other_optimizer_or_model_size_is_refused():
    adam = _adam_after_steps()
    before = copy.deepcopy(adam.state_dict())
    ws = [Value(x) for x in START]
    sgd = optim.SGD(ws, lr=0.1, momentum=0.9)
    _train(ws, sgd, 2)
    with pytest.raises(ValueError, match="another optimizer"):
        adam.load_state_dict(sgd.state_dict())
    with pytest.raises(ValueError, match="same model"):
        adam.load_state_dict(_adam_after_steps(params=START[:4]).state_dict())
    assert adam.state_dict() == before


@pytest.mark.parametrize("name", ["step", "cosine", "lambda_exp"])
def test_scheduler_state_dict_round_trip(name):
    cls, kw, sname, skw = SCHEDULES[name]
    cls, scls = getattr(optim, cls), getattr(optim, sname)
    ws = [Value(x) for x in START]
    opt = cls(ws, **kw)
    sched = scls(opt, **skw)
    _train(ws, opt, 6, sched)
    osd, ssd = opt.state_dict(), sched.state_dict()

    ws2 = [Value(w.data) for w in ws]
    opt2 = cls(ws2, **kw)
    sched2 = scls(opt2, **skw)  # as in torch: create the scheduler, then load both states
    opt2.load_state_dict(osd)
    sched2.load_state_dict(ssd)
    assert sched2.last_epoch == 6 and sched2.get_last_lr() == sched.get_last_lr()
    lrs, lrs2 = [], []
    for _ in range(6):
        _train(ws, opt, 1, sched)
        _train(ws2, opt2, 1, sched2)
        lrs.append(sched.get_last_lr())
        lrs2.append(sched2.get_last_lr())
    assert lrs == lrs2
    assert [w.data for w in ws] == [w.data for w in ws2]


def test_scheduler_load_state_dict_mismatch_raises_and_changes_nothing():
    opt = optim.SGD([Value(1.0)], lr=0.1)
    cos = optim.CosineAnnealingLR(opt, T_max=5)
    step = optim.StepLR(optim.SGD([Value(1.0)], lr=0.1), step_size=2)
    before = cos.state_dict()
    with pytest.raises(ValueError, match="another scheduler"):
        cos.load_state_dict(step.state_dict())
    bad = dict(before, T_max=0)
    with pytest.raises(ValueError, match="T_max"):
        cos.load_state_dict(bad)
    bad = dict(before, last_epoch="3")
    with pytest.raises(TypeError, match="last_epoch"):
        cos.load_state_dict(bad)
    assert cos.state_dict() == before


# -- the forgotten zero_grad ------------------------------------------------------------------
def _lecture_loop(opt_factory, zeroing, steps=6, accumulate=False):
    """The lecture's loop; ``zeroing`` is how (or whether) grads are zeroed."""
    random.seed(1)
    model = MLP(3, [4, 4, 1])
    opt = opt_factory(model.parameters(), accumulate=accumulate)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(steps):
            loss = sum((model(x) - y) ** 2 for x, y in zip(XS, YS, strict=True))
            if zeroing == "optimizer":
                opt.zero_grad()
            elif zeroing == "model":
                model.zero_grad()
            elif zeroing == "manual":
                for p in model.parameters():
                    p.grad = 0.0
            loss.backward()
            opt.step()
            if zeroing == "after_step":
                opt.zero_grad()
    return [w for w in caught if issubclass(w.category, zg.TrainingWarning)]


FACTORIES = {
    "SGD": lambda ps, **kw: optim.SGD(ps, lr=0.05, **kw),
    "Adam": lambda ps, **kw: optim.Adam(ps, lr=0.01, **kw),
    "AdamW": lambda ps, **kw: optim.AdamW(ps, **kw),
}


@pytest.mark.parametrize("opt", sorted(FACTORIES))
def test_forgotten_zero_grad_warns_once(opt):
    caught = _lecture_loop(FACTORIES[opt], zeroing=None)
    assert len(caught) == 1  # backward() warns at step 2; step() does not repeat it
    msg = str(caught[0].message)
    assert "backward() added new gradients to old ones" in msg and "updated since" in msg
    assert "optimizer.zero_grad()" in msg and "accumulate=True" in msg
    assert caught[0].filename == __file__  # points at the user's loss.backward() line


@pytest.mark.parametrize("opt", sorted(FACTORIES))
def test_summing_passes_without_updates_warns_at_step(opt):
    """Several backward() with no update between, then step(): the optimizer warns."""
    random.seed(1)
    model = MLP(3, [4, 1])
    o = FACTORIES[opt](model.parameters())
    with pytest.warns(zg.TrainingWarning, match="2 backward\\(\\) passes") as caught:
        for x, y in zip(XS[:2], YS[:2], strict=True):
            ((model(x) - y) ** 2).backward()
        o.step()
    assert len(caught) == 1 and caught[0].filename == __file__


def test_warning_is_once_per_run_with_two_optimizers():
    random.seed(1)
    model = MLP(3, [4, 1])
    opts = [optim.SGD(model.parameters(), lr=0.01) for _ in range(2)]
    with pytest.warns(zg.TrainingWarning) as caught:
        for _ in range(4):
            sum((model(x) - y) ** 2 for x, y in zip(XS, YS, strict=True)).backward()
            for o in opts:
                o.step()
    assert len([w for w in caught if w.category is zg.TrainingWarning]) == 1


@pytest.mark.parametrize("zeroing", ["optimizer", "model", "manual", "after_step"])
@pytest.mark.parametrize("opt", sorted(FACTORIES))
def test_correct_loops_do_not_warn(opt, zeroing):
    assert _lecture_loop(FACTORIES[opt], zeroing) == []


def test_accumulate_true_is_silent_and_steps_on_the_summed_gradient():
    assert _lecture_loop(FACTORIES["SGD"], zeroing=None, accumulate=True) == []
    p = Value(3.0)
    opt = optim.SGD([p], lr=0.1, accumulate=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", zg.TrainingWarning)
        for _ in range(3):
            (p * p).backward()  # 3 micro-batches: grad = 3 * 2p
        opt.step()
    assert p.data == 3.0 - 0.1 * 18.0


def test_scheduler_stepped_before_optimizer_warns():
    opt = optim.SGD([Value(1.0)], lr=0.1)
    sched = optim.StepLR(opt, step_size=1)
    with pytest.warns(zg.TrainingWarning, match=r"before optimizer\.step\(\)"):
        sched.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error", zg.TrainingWarning)
        opt2 = optim.SGD([Value(1.0)], lr=0.1)
        sched2 = optim.StepLR(opt2, step_size=1)
        for _ in range(3):
            opt2.step()
            sched2.step()


# -- bad arguments ----------------------------------------------------------------------------
def _torch_sgd():
    torch = needs("torch", "a torch optimizer, which zerograd's schedulers refuse")
    return torch.optim.SGD([torch.zeros(1)])


def _ps():
    return [Value(1.0), Value(2.0)]


@pytest.mark.parametrize(
    "make, err, match",
    [
        (lambda: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
        (lambda: optim.SGD(iter([]), lr=0.1), ValueError, "empty parameter list"),
        (lambda: optim.Adam(MLP(2, [1])), TypeError, r"model\.parameters\(\)"),
        (lambda: optim.SGD(Value(1.0), lr=0.1), TypeError, "wrap it in a list"),
        (lambda: optim.SGD(5, lr=0.1), TypeError, "iterable of Values"),
        (lambda: optim.SGD([Value(1.0), 2.0], lr=0.1), TypeError, r"params\[1\] is float"),
        (lambda: optim.SGD([Value(1.0) * 2], lr=0.1), ValueError, "not a leaf"),
        (lambda: optim.SGD([p := Value(1.0), p], lr=0.1), ValueError, "more than once"),
        (lambda: optim.SGD(_ps(), lr=-0.1), ValueError, "invalid learning rate -0.1"),
        (lambda: optim.SGD(_ps(), lr=math.nan), ValueError, "invalid learning rate"),
        (lambda: optim.SGD(_ps(), lr="0.1"), TypeError, "lr|learning rate"),
        (lambda: optim.SGD(_ps(), lr=0.1, momentum=-0.9), ValueError, "momentum"),
        (lambda: optim.SGD(_ps(), lr=0.1, weight_decay=-1), ValueError, "weight_decay"),
        (lambda: optim.SGD(_ps(), lr=0.1, nesterov=True), ValueError, "Nesterov"),
        (lambda: optim.SGD(_ps(), 0.1, 0.9, 0.5, nesterov=True), ValueError, "zero dampening"),
        (lambda: optim.SGD(_ps(), 0.1, 0.9, 0, True), TypeError, "weight_decay"),
        (lambda: optim.SGD(_ps(), lr=0.1, accumulate=1), TypeError, "accumulate"),
        (lambda: optim.Adam(_ps(), betas=(1.0, 0.999)), ValueError, "beta parameter at index 0"),
        (lambda: optim.Adam(_ps(), betas=(0.9, -0.1)), ValueError, "beta parameter at index 1"),
        (lambda: optim.Adam(_ps(), betas=0.9), TypeError, "pair"),
        (lambda: optim.AdamW(_ps(), eps=-1e-8), ValueError, "epsilon"),
        (lambda: optim.AdamW(_ps(), weight_decay=-0.01), ValueError, "weight_decay"),
        (lambda: optim.Adam(_ps(), amsgrad="yes"), TypeError, "amsgrad"),
        (lambda: optim.StepLR(optim.SGD(_ps()), step_size=0), ValueError, "step_size"),
        (lambda: optim.StepLR(optim.SGD(_ps()), step_size=2.5), ValueError, "step_size"),
        (lambda: optim.CosineAnnealingLR(optim.SGD(_ps()), T_max=0), ValueError, "T_max"),
        (lambda: optim.LambdaLR(optim.SGD(_ps()), 0.95), TypeError, "function of the epoch"),
        (lambda: optim.StepLR(_torch_sgd(), 2), TypeError, "zerograd optim"),
        (lambda: optim.StepLR(optim.SGD(_ps()), 2, last_epoch=3), KeyError, "initial_lr"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_bad_lr_assignment_changes_nothing():
    opt = optim.Adam(_ps(), lr=0.01)
    with pytest.raises(ValueError, match="learning rate"):
        opt.lr = -1
    assert opt.lr == 0.01


def test_zero_grad_and_repr():
    ps = _ps()
    opt = optim.SGD(ps, lr=0.1, momentum=0.9)
    for p in ps:
        p.grad = 4.0
    opt.zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]
    assert repr(opt).startswith("SGD(2 parameters, lr=0.1, momentum=0.9")


def test_step_closure_returns_the_loss():
    p = Value(2.0)
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = p * p
        loss.backward()
        return loss

    assert opt.step(closure).data == 4.0
    assert p.data == 2.0 - 0.1 * 4.0


def test_schedulers_have_short_readable_reprs():
    opt = optim.SGD([Value(1.0)], lr=0.001)
    step = optim.StepLR(opt, step_size=10, gamma=0.1)
    for _ in range(3):
        opt.step()
        step.step()
    assert repr(step) == "StepLR(step_size=10, gamma=0.1, last_epoch=3, lr=[0.001])"
    cosine = optim.CosineAnnealingLR(optim.Adam([Value(1.0)], lr=0.1), T_max=4)
    cosine.optimizer.step()
    cosine.step()
    assert repr(cosine) == "CosineAnnealingLR(T_max=4, eta_min=0.0, last_epoch=1, lr=[0.0853553])"

    def decay(k):
        return 0.5**k

    assert repr(optim.LambdaLR(optim.SGD([Value(1.0)], lr=1.0), decay)) == (
        "LambdaLR(lr_lambda=decay, last_epoch=0, lr=[1])")
    assert "<lambda>" in repr(optim.LambdaLR(optim.SGD([Value(1.0)]), lambda k: 1.0))


def test_load_state_dict_errors_name_only_the_keys_that_differ():
    opt = optim.Adam([Value(1.0)], lr=0.1)
    sd = opt.state_dict()
    sd["param_groups"][0]["foo"] = 1
    with pytest.raises(ValueError, match=r"do not match Adam's \(unexpected 'foo'\);") as e:
        opt.load_state_dict(sd)
    assert "missing" not in str(e.value)
    del sd["param_groups"][0]["foo"], sd["param_groups"][0]["eps"]
    with pytest.raises(ValueError, match=r"\(missing 'eps'\);"):
        opt.load_state_dict(sd)
    sched = optim.StepLR(opt, step_size=2)
    ssd = sched.state_dict()
    del ssd["gamma"]
    ssd["extra"] = 1
    with pytest.raises(ValueError, match=r"the keys do not match \(missing 'gamma'; unexpected "
                                         r"'extra'\)"):
        sched.load_state_dict(ssd)
