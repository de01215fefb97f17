"""Trained-network experiments of the GD family: the papers' data settings,
presets, and the comparisons each theorem asks for.  The runner and the
metrics are generic (``numeric.training``); the settings and the theory each
experiment is compared with are stated here, once, with their sources.

Every theory value is computed, not copied: the one-step optimum from the
population loss the engine derives for the construction's own prediction
(``symbolic.population``), Gamma^{-1} from the relation of Ahn et al.'s
Theorem 1 claim, the looped minimiser from the engine's F_L(a).  The
"GD" a trained model is compared with is the construction itself, exported
at the comparison's step size.
"""
from __future__ import annotations

import functools

import sympy as sp

from numeric.training import compare
from numeric.training.data import Distribution
from numeric.training.experiment import Experiment
from numeric.training.model import export, letter_estimate
from numeric.training.train import Preset

# ---------------------------------------------------------------- data settings
GAUSS = Distribution("Gaussian: x ~ N(0, I), w* ~ N(0, I), noiseless")
UNIFORM_CODE = Distribution("uniform U(-0.5, 0.5)^d, w* ~ N(0, I) (von Oswald et al.'s code, src/data.py)",
                            inputs="uniform", alpha=0.5)
UNIFORM_TEXT = Distribution("uniform U(-1, 1)^d, w* ~ N(0, I) (von Oswald et al.'s text and docstring)",
                            inputs="uniform", alpha=1.0)

AHN_D = (1.0, 1.0, 0.5, 0.25, 1.0)     # Sigma = U D^2 U', D = diag(1, 1, 1/2, 1/4, 1) (rotation demonstration)


def ahn_sigma():
    """Ahn et al.'s non-isotropic covariance: U D^2 U' with U the left singular vectors of a U(-1, 1)^{5x5}
    matrix (their notebook draws it unseeded; ours is seed 0 of torch's generator)."""
    import torch
    g = torch.Generator().manual_seed(0)
    U, _, _ = torch.linalg.svd(torch.rand(5, 5, generator=g, dtype=torch.float64) * 2 - 1)
    D2 = torch.diag(torch.tensor(AHN_D, dtype=torch.float64) ** 2)
    S = U @ D2 @ U.T
    S = (S + S.T) / 2
    return tuple(tuple(float(v) for v in row) for row in S.tolist())


def ahn_distribution(prior: str) -> Distribution:
    what = "N(0, I)" if prior == "identity" else "N(0, Sigma^-1)"
    return Distribution(f"Ahn et al.'s Sigma = U diag(1, 1, 1/4, 1/16, 1) U', w* ~ {what}, noiseless",
                        cov=ahn_sigma(), prior=prior)


def presets(ci: dict, cpu: dict, paper: dict, paper_source: str) -> dict:
    base = dict(eval_batch=20000)
    return {"ci": Preset("ci", **{**base, "seeds": (0, 1), "eval_batch": 4000, **ci},
                         source="a few seconds, for the test suite"),
            "cpu": Preset("cpu", **{**base, **cpu}, source="minutes on a 2-core CPU"),
            "paper": Preset("paper", **{**base, **paper}, source=paper_source)}


# ---------------------------------------------------------------- theory, from the engine
def _sizes(d, n):
    from symbolic import gaussian as g
    return {g.NSAMP: n, g.DIM: d}


def one_step_optimum(d: int, n: int, noise_var: float = 0.0, query_noise: bool = False) -> dict:
    """eta* and the loss of one GD step at eta*, for x ~ N(0, I), w* ~ N(0, I): the population loss the
    engine derives for the one-step construction's prediction, minimised over eta exactly."""
    from symbolic import population as pop
    from theorems import one_step_gd_optimal as mod
    from theorems.population_claims import _prediction
    pred = _prediction(mod, "one-step-gd", steps=0)
    f = pop.population_loss(pred, pop.Prior(noise=sp.nsimplify(noise_var), query_noise=query_noise))
    c = sp.expand(f.constant().subs(_sizes(d, n)))
    eta = mod.eta
    root = sp.solve(sp.diff(c, eta), eta)[0]
    return {"eta_star": float(root), "eta_star_exact": str(root), "optimum": float(c.subs(eta, root)),
            "optimum_exact": str(sp.nsimplify(c.subs(eta, root)))}


def gamma_inverse(d: int, n: int, Sigma):
    """Gamma^{-1} from the relation of the Theorem 1 claim, G (a Sigma + b I) = I, at this n and Sigma
    (a a scalar in n, b a trace polynomial: both evaluated here, not retyped); and the claim's spec."""
    import torch

    from theorems.population_claims import ahn_claims
    spec = ahn_claims()[0].spec
    rel = spec.relations[0]
    S = torch.as_tensor(Sigma, dtype=torch.float64)
    sizes = _sizes(d, n)
    a = float(sp.sympify(rel.a).subs(sizes))
    b = float(rel.b.evaluate({rel.Sigma[0]: sp.Matrix(S.tolist())}, sizes))
    return torch.linalg.inv(a * S + b * torch.eye(d, dtype=torch.float64)), spec


def population_loss_at(spec, d, n, Sigma, A) -> float:
    """The engine's exact population loss of the claim's prediction at A (floats)."""
    from symbolic import population as pop
    f = pop.population_loss(spec.prediction, spec.prior)
    mats = {"Sigma": sp.Matrix(Sigma.tolist()), spec.variable: sp.Matrix(A.tolist())}
    return float(f.evaluate(mats, _sizes(d, n)))


@functools.lru_cache(maxsize=None)
def _looped_loss(L: int):
    from theorems.population_kinds import looped_loss
    a = sp.Symbol("a")
    return looped_loss(L, a), a


@functools.lru_cache(maxsize=None)
def looped_minimiser(d: int, n: int, L: int) -> dict:
    """a* and F_L(a*) of L tied steps with A = a I (x, w* ~ N(0, I)): the engine's F_L, minimised exactly."""
    from theorems.population_kinds import global_minimiser_1d
    F, a = _looped_loss(L)
    F = sp.expand(F.subs(_sizes(d, n)))
    (root, x, val), _ = global_minimiser_1d(F, a)
    return {"a_star": float(x), "optimum": float(val), "F": F, "symbol": a}


# ---------------------------------------------------------------- shared evaluation pieces
def loss_figure(model, batch):
    import torch
    X, y, xq, yq = batch
    with torch.no_grad():
        e = (model(X, y, xq) - yq) ** 2
    return compare.mc_mean(e)


def relative_gap(loss, optimum):
    return (loss[0] - optimum) / optimum, loss[1] / optimum


def _sym(con, name):
    return next(s for s in con.params if s.name == name)


# ---------------------------------------------------------------- one layer vs one GD step
def one_step_experiment(mod, variant: str, exp_id: str, title: str, dist: Distribution, d: int, n: int,
                        presets_: dict, step: str = "eta", exact: bool = True, targets=(), paper=(),
                        support: str = "full", notes=()) -> Experiment:
    """A one-layer model trained on ``dist``, compared with the construction at eta* (the engine's optimum
    for Gaussian data when ``exact``, else the line search over the evaluation tasks), by von Oswald et
    al.'s metrics, and with the population optimum when the engine has one."""
    build = mod.THEOREM.variant(variant).build

    def theory(d_, n_):
        if not exact:
            return {"optimum_label": None}
        t = one_step_optimum(d_, n_, dist.noise ** 2, dist.query_noise)
        return {**t, "optimum_label": "exact one-step optimum (engine)", "figure:eta_line": t["eta_star"],
                "figure:loss": t["optimum"]}

    def gd_at(con, eta_value):
        return export(con, d, n, 1, values={_sym(con, step): eta_value})

    def evaluate(model, batch, th):
        import torch
        X, y, xq, yq = batch
        con = model.con
        with torch.no_grad():
            base = gd_at(con, 1.0)(X, y, xq)                     # the construction at eta = 1
            pred = model(X, y, xq)
        eta_ls = compare.least_squares_scale(yq, base)           # the line search, solved exactly
        eta_cmp = th.get("eta_star", eta_ls)
        gd = gd_at(con, eta_cmp)
        with torch.no_grad():
            pgd = gd(X, y, xq)
        s_tf = compare.sensitivity(model, X, y, xq)
        s_gd = compare.sensitivity(gd, X, y, xq)
        loss = compare.mc_mean((pred - yq) ** 2)
        loss_gd = compare.mc_mean((pgd - yq) ** 2)
        heads = [w for s in model.attention_sites() for w in model.head_weights(s)]
        ref = [w for s in gd.attention_sites() for w in gd.head_weights(s)]
        out = {"loss": loss, "loss_gd": loss_gd,
               "loss_ratio": (loss[0] / loss_gd[0], None),
               "preds_diff": compare.mc_mean((pred - pgd).abs()),
               "cosine": compare.mc_mean(compare.cosine(s_tf, s_gd)),
               "model_diff": compare.mc_mean((s_tf - s_gd).norm(dim=-1)),
               "product_distance": (compare.product_distance([(K.detach(), P.detach()) for K, P in heads], ref), None),
               "implied_step": (compare.least_squares_scale(pred, base), None),
               "eta_line": (eta_ls, None)}
        if "optimum" in th:
            out["gap"] = relative_gap(loss, th["optimum"])
        return out

    def matrices(model, th):
        import torch
        site = model.attention_sites()[0]
        (K, P), = model.head_weights(site)
        eta_cmp = th.get("eta_star")
        gd = gd_at(model.con, eta_cmp if eta_cmp is not None else 1.0)
        (K0, P0), = gd.head_weights(gd.attention_sites()[0])
        x = model.offsets["x"]
        Kn, Pn, m = compare.normalised_products(K.detach(), P.detach(), x)
        K0n, P0n, _ = compare.normalised_products(K0, P0, x)
        keep = [i for i in range(model.D) if any(i in range(s.start, s.stop) for b, s in model.offsets.items()
                                                if b in ("x", "y"))]
        sel = lambda M: M[keep][:, keep]
        learned = torch.cat([sel(Kn), sel(Pn)], 1)
        theo = torch.cat([sel(K0n), sel(P0n)], 1)
        cap = ("left: W_KQ / m, right: m W_PV (m: the mean of W_KQ's x-diagonal, von Oswald et al.'s normalisation), "
               "over the blocks x, y; the construction at " + ("the engine's eta*" if eta_cmp is not None else "eta = 1"))
        return learned, theo, cap

    figs = (("loss", "trained loss E(y_hat - y)^2", None, None),
            ("loss_gd", "loss of one GD step at eta*", None, None),
            ("loss_ratio", "trained loss / GD loss", None, None),
            ("gap", "relative gap to the exact optimum", None, None),
            ("cosine", "sensitivity cosine with GD", None, None),
            ("preds_diff", "preds diff mean|y_TF - y_GD|", None, None),
            ("model_diff", "model diff mean|dy_TF/dx_q - dy_GD/dx_q|", None, None),
            ("product_distance", "weights: relative distance of W_KQ (x) W_PV to the construction's", None, None),
            ("implied_step", "implied step (least squares on the GD direction)", None, None),
            ("eta_line", "line-searched eta on the evaluation tasks", None, None))
    paper_map = {k: (v, src) for k, v, src in paper}
    figs = tuple((k, lab, *paper_map.get(k, (None, None))) for k, lab, _, _ in figs if exact or k != "gap")
    return Experiment(exp_id, title, build, d, n, 1, dist, presets_, evaluate, theory, figs, support=support,
                      targets=tuple(targets), matrices=matrices, notes=tuple(notes))


# ---------------------------------------------------------------- learned preconditioners
def _sqrt_sym(S):
    import torch
    lam, U = torch.linalg.eigh(S)
    return (U * lam.sqrt()) @ U.T


def preconditioner_experiment(mod, variant: str, exp_id: str, title: str, dist: Distribution, d: int, n: int,
                              presets_: dict, theory_fn, letter: str = "A", layers: int = 1, looped: bool = False,
                              targets=(), paper=(), support: str = "sparse", notes=(), extra_loops=(),
                              optimum: bool = True, as_set: bool = False) -> Experiment:
    """Models of the sparse family (or full), their preconditioner letters read back through the
    construction's entries and compared with ``theory_fn(d, n, Sigma)`` -> {"A": [matrix per layer],
    "optimum": loss floor or None, ...}."""
    build = mod.THEOREM.variant(variant).build
    Sigma = dist.sigma(d)

    def theory(d_, n_):
        return theory_fn(d_, n_, Sigma)

    def evaluate(model, batch, th):
        import torch
        X, y, xq, yq = batch
        out = {"loss": loss_figure(model, batch)}
        if th.get("optimum") is not None:
            out["gap"] = relative_gap(out["loss"], th["optimum"])
        R = _sqrt_sym(Sigma)
        sites_ = model.attention_sites()
        As = [letter_estimate(model, site, letter).detach() for site in sites_]
        scales = [float(torch.trace(R @ A @ R)) / d for A in As]
        theo = list(th["A"])
        if th.get("as_set") and len(theo) == len(As):
            # the theory gives the layers' scalars as a set: layer i meets the theory's value of the same rank
            rank = sorted(range(len(As)), key=lambda i: scales[i])
            theo = [None] * len(As)
            for r, i in enumerate(rank):
                theo[i] = th["A"][r]
        for i, A in enumerate(As):
            A0 = theo[min(i, len(theo) - 1)]
            tag = f"_{i + 1}" if layers > 1 and not looped else ""
            out[f"dist_mod_scale{tag}"] = (compare.rel_distance_mod_scale(A, A0)[0], None)
            out[f"dist{tag}"] = (compare.rel_distance(A, A0), None)
            out[f"identity{tag}"] = (compare.distance_to_identity(R @ A @ R), None)
            out[f"scale{tag}"] = (scales[i], None)
        if th.get("as_set"):
            for r, v in enumerate(sorted(scales)):
                out[f"sorted_scale_{r + 1}"] = (v, None)
        for L in extra_loops:
            with torch.no_grad():
                e = (model(X, y, xq, k=L) - yq) ** 2
            out[f"loss_loops_{L}"] = compare.mc_mean(e)
        return out

    def matrices(model, th):
        import torch
        sites_ = model.attention_sites()
        As = [letter_estimate(model, s, letter).detach() for s in sites_]
        A0 = [th["A"][min(i, len(th["A"]) - 1)] for i in range(len(As))]
        if th.get("as_set"):
            R = _sqrt_sym(Sigma)
            sc = [float(torch.trace(R @ A @ R)) for A in As]
            A0 = [None] * len(As)
            for r, i in enumerate(sorted(range(len(As)), key=lambda i: sc[i])):
                A0[i] = th["A"][r]
        return (torch.cat(As, 1), torch.cat(A0, 1),
                f"the learned {letter}" + ("_l, l = 1.." + str(len(As)) if len(As) > 1 else "")
                + f" (read back through the construction's entries) beside {th.get('A_label', 'the theory')}")

    per = [""] if layers == 1 or looped else [f"_{i + 1}" for i in range(layers)]
    figs = [("loss", "trained loss E(y_hat - y)^2", None, None)]
    if optimum:
        figs.append(("gap", "relative gap to the exact optimum", None, None))
    for t in per:
        lay = f" (layer {t[1:]})" if t else ""
        figs += [(f"dist_mod_scale{t}", f"|c A - A*|_F / |A*|_F, best c{lay}", None, None),
                 (f"dist{t}", f"|A - A*|_F / |A*|_F{lay}", None, None),
                 (f"identity{t}", f"distance to identity of Sigma^1/2 A Sigma^1/2{lay}", None, None),
                 (f"scale{t}", f"tr(Sigma^1/2 A Sigma^1/2) / d{lay}", None, None)]
    if as_set:
        figs += [(f"sorted_scale_{r + 1}", f"the layers' scales, sorted: {r + 1}", None, None) for r in range(layers)]
    for L in extra_loops:
        figs.append((f"loss_loops_{L}", f"loss with {L} loops at test time", None, None))
    paper_map = {k: (v, src) for k, v, src in paper}
    figs = tuple((k, lab, *paper_map.get(k, (None, None))) for k, lab, _, _ in figs)
    return Experiment(exp_id, title, build, d, n, layers, dist, presets_, evaluate, theory, figs, support=support,
                      looped=looped, targets=tuple(targets), matrices=matrices, notes=tuple(notes))


def critical_scalars(L: int, d: int, n: int) -> list[float] | None:
    """The optimal a_l of A_l = a_l Sigma^{-1} (Ahn et al.'s Theorem 3 set), from the engine's reduced loss
    phi(a) = f(a_l Sigma^{-1}) at these sizes, minimised exactly (None if the engine cannot)."""
    from theorems.population_claims import ahn_claims
    from theorems.population_kinds import reduced_gradients, symmetric_minimiser
    spec = next(c.spec for c in ahn_claims() if getattr(c.spec, "steps", None) == L)
    phi, _, a = reduced_gradients(L, spec.prior)
    ph = sp.expand(phi.constant().subs(_sizes(d, n)))
    sol = symmetric_minimiser(ph, a, 10)
    if not sol or "numeric" not in sol:
        return None
    return [float(v) for v in sol["numeric"]], float(sol["value"])
