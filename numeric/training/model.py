"""A construction exported to a trainable torch module, from its one definition.

The export walks the construction's layers and ops exactly as the evaluators
do (:meth:`symbolic.layers.Construction.layers`): every attention head's score
``W_KQ`` and value map ``W_PV`` become dense D x D matrices of the residual
stream (block entries placed by :meth:`symbolic.layout.Layout.offsets`, the
only index arithmetic), every MLP a fixed dense map.  Nothing is retyped: the
proven weights are the construction's entries evaluated at parameter values,
and a trained model is the same module with its attention weights free.

Semantics (those of :mod:`symbolic.layers`, on a batch): the hidden state is
``H`` of shape (B, D, N), one column per token in the construction's token
order; an attention op adds ``c sum_j act(h_t' W_KQ h_j) W_PV h_j`` to every
query token t, over the key tokens j, with ``c = 1/n`` or 1; a linear MLP adds
``W2 W1 h`` to its query tokens.

Which attention entries train (``support``):

* ``"full"``: every entry between the blocks the tokens carry (for the GD
  family, x and y): the full linear self-attention of the papers;
* ``"sparse"``: only the block entries the construction itself uses, each as a
  full block (a letter A becomes a free d x d block, a scalar entry c I a free
  block): the paper's sparse family.

``looped=True`` shares one set of step weights across the k repetitions of
the step (a looped transformer); otherwise each repetition owns its weights.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import sympy as sp

from symbolic.layers import MLP, Attention, BlockMap, Construction, split_entry
from symbolic.layout import d as d_sym, m as m_sym


class ExportError(ValueError):
    """The construction holds an op that has no trainable torch form."""


def _torch():
    import torch
    return torch


def _scalar(c, values: Mapping) -> float:
    v = sp.sympify(c).subs({k: x for k, x in values.items() if isinstance(k, sp.Symbol) and k.is_commutative})
    if v.free_symbols:
        raise ExportError(f"no value for {sorted(map(str, v.free_symbols))} in the entry {c}")
    return float(v)


def _letter_matrix(name: str, values: Mapping, iteration: int, untied: bool):
    torch = _torch()
    base, tr = (name[:-1], True) if name.endswith("'") else (name, False)
    v = values.get(sp.Symbol(base, commutative=False), values.get(base))
    if v is None:
        raise ExportError(f"no value for the matrix letter {base}")
    if untied:
        v = v[iteration - 1]
    t = torch.as_tensor(v, dtype=torch.float64)
    return t.T if tr else t


def dense(bm: BlockMap, rows_at: Mapping[str, slice], cols_at: Mapping[str, slice], values: Mapping,
          iteration: int = 0, untied=frozenset()):
    """A block map as a dense matrix: entry (o, i) -> c I or c L at rows o, columns i."""
    torch = _torch()
    R = max((s.stop for s in rows_at.values()), default=0)
    C = max((s.stop for s in cols_at.values()), default=0)
    M = torch.zeros(R, C, dtype=torch.float64)
    for o, i, c in bm:
        s, L = split_entry(c)
        ro, ci = rows_at[o], cols_at[i]
        val = _scalar(s, values)
        if L is None:
            M[ro, ci] += val * torch.eye(ro.stop - ro.start, dtype=torch.float64)
        else:
            base = L[:-1] if L.endswith("'") else L
            M[ro, ci] += val * _letter_matrix(L, values, iteration, base in untied)
    return M


def support(bm: BlockMap, rows_at, cols_at):
    """The 0/1 mask of the blocks a block map touches (each touched block in full)."""
    torch = _torch()
    R = max((s.stop for s in rows_at.values()), default=0)
    C = max((s.stop for s in cols_at.values()), default=0)
    M = torch.zeros(R, C, dtype=torch.float64)
    for o, i, _ in bm:
        M[rows_at[o], cols_at[i]] = 1.0
    return M


@dataclass(frozen=True)
class Site:
    """One op of the unrolled network: where it sits and which weights it reads."""
    stage: str
    iteration: int
    layer: str
    index: int          # position of the op inside its layer
    op: object
    key: str            # weights shared by sites with the same key


def sites(con: Construction, k: int, looped: bool) -> list[Site]:
    out = []
    for stage, it, layer in con.layers(k):
        for j, op in enumerate(layer.ops):
            share = stage == "step" and looped
            key = f"{stage}.{layer.name}.{j}" + ("" if share or stage != "step" else f".{it}")
            out.append(Site(stage, it, layer.name, j, op, key.replace(".", "_")))
    return out


def _module_class():
    torch = _torch()
    nn = torch.nn

    class ExportedTransformer(nn.Module):
        """The construction's network on a batch.  Attention weights are parameters
        (masked to their support); MLP weights are fixed buffers."""

        def __init__(self, con: Construction, d: int, n: int, k: int, m: int = 1, looped: bool = False,
                     support_kind: str = "full", values: Mapping | None = None, init_std: float | None = None,
                     generator=None):
            super().__init__()
            if support_kind not in ("full", "sparse"):
                raise ExportError(f"support must be 'full' or 'sparse', not {support_kind!r}")
            self.con, self.d, self.n, self.k, self.m = con, d, n, k, m
            self.looped, self.support_kind = looped, support_kind
            self.sizes = {d_sym: d, m_sym: m}
            self.offsets = con.layout.offsets(self.sizes)
            self.D = con.layout.concrete_width(self.sizes)
            self.seq = con.tokens.sequence(n, d)
            self.N = len(self.seq)
            vals = {s: n for s in con.params if s.name == "n"}
            vals.update(values or {})
            self.untied = frozenset(L.name for L in con.letters if L.untied)
            stream = [b for kind in con.tokens.kinds for b, _ in kind.inputs]
            stream_mask = torch.zeros(self.D, self.D, dtype=torch.float64)
            for a in stream:
                for b in stream:
                    stream_mask[self.offsets[a], self.offsets[b]] = 1.0
            self.sites = sites(con, k, looped)
            self.weights = nn.ParameterDict()
            self.fixed = {}
            self.masks = {}
            seen = set()
            for s in self.sites:
                op = s.op
                if isinstance(op, Attention):
                    if op.activation not in ("linear",) or op.causal:
                        raise ExportError(f"layer {s.layer}: only non-causal linear attention trains here "
                                          f"(got {op.activation}{', causal' if op.causal else ''})")
                    if s.key in seen:
                        continue
                    seen.add(s.key)
                    for h, head in enumerate(op.heads):
                        for name, bm in (("KQ", head.W_KQ), ("PV", head.W_PV)):
                            key = f"{s.key}_h{h}_{name}"
                            sup = support(bm, self.offsets, self.offsets)
                            mask = stream_mask if support_kind == "full" else sup
                            if values is not None:
                                W = dense(bm, self.offsets, self.offsets, vals, max(s.iteration, 1), self.untied)
                                if bool(((W != 0) & (mask == 0)).any()):
                                    raise ExportError(f"{key}: the construction has entries outside the "
                                                      f"'{support_kind}' support")
                            else:
                                g = torch.randn(self.D, self.D, dtype=torch.float64, generator=generator)
                                W = g * (init_std if init_std is not None else 1.0)
                            self.weights[key] = nn.Parameter(W * mask)
                            self.register_buffer(f"mask_{key}", mask.clone(), persistent=False)
                            self.masks[key] = f"mask_{key}"
                elif isinstance(op, MLP):
                    if s.key in seen:
                        continue
                    seen.add(s.key)
                    hid = op.hidden.offsets(self.sizes)
                    W1 = dense(op.W1, hid, self.offsets, vals, max(s.iteration, 1), self.untied)
                    W2 = dense(op.W2, self.offsets, hid, vals, max(s.iteration, 1), self.untied)
                    self.register_buffer(f"fixed_{s.key}_W1", W1)
                    self.register_buffer(f"fixed_{s.key}_W2", W2)
                else:
                    raise ExportError(f"layer {s.layer}: the op {type(op).__name__} has no trainable torch form")
            q = lambda kinds: torch.tensor([1.0 if kinds is None or kk in kinds else 0.0 for kk, _ in self.seq],
                                           dtype=torch.float64)
            self._qmask = q
            out_kind, out_block = con.output
            self.out_col = max(t for t, (kk, _) in enumerate(self.seq) if kk == out_kind)
            self.out_rows = self.offsets[out_block]
            for s in self.sites:
                op = s.op
                if isinstance(op, Attention):
                    mq, mk = q(op.queries), q(op.keys)
                    self.register_buffer(f"amask_{s.stage}_{s.iteration}_{s.layer}_{s.index}",
                                         mq[:, None] * mk[None, :], persistent=False)
                else:
                    self.register_buffer(f"qmask_{s.stage}_{s.iteration}_{s.layer}_{s.index}", q(op.queries),
                                         persistent=False)
            # the token format as index lists: the embedding is one scatter per (block, input)
            groups: dict = {}
            for t, (kind, j) in enumerate(self.seq):
                for block, inp in con.tokens.kind(kind).inputs:
                    if inp not in ("x", "y", "x_test", "one"):
                        raise ExportError(f"token input {inp!r} has no torch embedding")
                    cols, ex = groups.setdefault((block, inp), ([], []))
                    cols.append(t)
                    ex.append(j if j is not None else 0)
            def as_index(v):
                """A regular progression as a slice (a view, no scatter), else an index tensor."""
                if len(v) == 1:
                    return slice(v[0], v[0] + 1)
                step = v[1] - v[0]
                if step > 0 and all(b - a == step for a, b in zip(v, v[1:])):
                    return slice(v[0], v[-1] + 1, step)
                return torch.tensor(v)

            self.inputs = [(self.offsets[b], inp, as_index(c), as_index(e)) for (b, inp), (c, e) in groups.items()]

        # ---------------------------------------------------------------- weights
        def weight(self, key: str):
            return self.weights[key] * getattr(self, self.masks[key])

        def head_weights(self, site: Site):
            """[(W_KQ, W_PV)] of an attention site, masked."""
            return [(self.weight(f"{site.key}_h{h}_KQ"), self.weight(f"{site.key}_h{h}_PV"))
                    for h in range(len(site.op.heads))]

        def attention_sites(self) -> list[Site]:
            out, seen = [], set()
            for s in self.sites:
                if isinstance(s.op, Attention) and s.key not in seen:
                    seen.add(s.key)
                    out.append(s)
            return out

        # ---------------------------------------------------------------- forward
        def embed(self, X, y, xq):
            """X (B, n, d), y (B, n) or (B, n, m), xq (B, d) -> H (B, D, N)."""
            B = X.shape[0]
            H = X.new_zeros(B, self.D, self.N)
            yv = y if y.dim() == 3 else y[..., None]
            for rows, inp, cols, ex in self.inputs:
                if inp == "x":
                    H[:, rows, cols] = X[:, ex, :].transpose(1, 2)
                elif inp == "y":
                    H[:, rows, cols] = yv[:, ex, :].transpose(1, 2)
                elif inp == "x_test":
                    H[:, rows, cols] = xq[:, :, None]
                else:
                    H[:, rows, cols] = 1.0
            return H

        def forward(self, X, y, xq, k: int | None = None, return_hidden: bool = False):
            """The prediction (B,) (or (B, m)); ``k`` repetitions of the step (default the model's).
            After the last attention op only the output token is computed (the later ops are
            token-wise), unless ``return_hidden`` asks for the whole state."""
            H = self.embed(X, y, xq)
            c_n = 1.0 / self.n
            sites_ = self.sites if k is None or k == self.k else sites(self.con, k, self.looped)
            last = max((i for i, s in enumerate(sites_) if isinstance(s.op, Attention)), default=-1)
            cols = slice(None)
            for i, s in enumerate(sites_):
                op = s.op
                tag = f"{s.stage}_{min(s.iteration, self.k) if s.stage == 'step' else s.iteration}_{s.layer}_{s.index}"
                if isinstance(op, Attention):
                    M = getattr(self, f"amask_{tag}")
                    c = c_n if op.normalizer == "n" else 1.0
                    if i == last and not return_hidden:
                        cols = slice(self.out_col, self.out_col + 1)
                    Hq = H[:, :, cols]
                    upd = 0
                    for WKQ, WPV in self.head_weights(s):
                        S = Hq.transpose(1, 2) @ WKQ @ H                    # S[t, j] = h_t' W_KQ h_j
                        A = S * (M[cols] * c)
                        upd = upd + WPV @ (H @ A.transpose(1, 2))         # sum_j A[t, j] W_PV h_j
                    H = Hq + upd
                else:
                    W1, W2 = getattr(self, f"fixed_{s.key}_W1"), getattr(self, f"fixed_{s.key}_W2")
                    Z = W1 @ H
                    if op.activation == "relu":
                        Z = Z.clamp_min(0)
                    H = H + (W2 @ Z) * getattr(self, f"qmask_{tag}")[cols]
            out = H[:, self.out_rows, self.out_col if cols == slice(None) else 0]
            out = out[:, 0] if out.shape[-1] == 1 else out
            return (out, H) if return_hidden else out

    return ExportedTransformer


_CLASS = None


def export(con: Construction, d: int, n: int, k: int, values: Mapping | None = None, m: int = 1,
           looped: bool = False, support: str = "full", init_std: float | None = None, generator=None):
    """The construction's network as a torch module (float64).  With ``values`` (each parameter symbol
    and matrix letter mapped to its value) the attention weights are the construction's; without, they are
    drawn N(0, init_std^2) on the support (a model to train)."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _module_class()
    return _CLASS(con, d, n, k, m, looped, support, values, init_std, generator)


def letter_estimate(model, site: Site, letter: str, head: int = 0):
    """Read a matrix letter back from a model's weights, through the construction's own entry.

    The head's effect on the value it writes is the product of its score and value
    maps: for a score entry (q, k) = c_KQ L (or L') and a single value entry
    (o, i) = c_PV I, the products scale together (the rescaling symmetry), so
    L = (W_KQ[q, k] * W_PV[o, i]) / (c_KQ c_PV), transposed back where the entry
    carries L'.  The construction's coefficients are evaluated at the model's n."""
    op = site.op
    h = op.heads[head]
    kq = [(o, i, c) for o, i, c in h.W_KQ if split_entry(c)[1] in (letter, letter + "'")]
    pv = list(h.W_PV)
    if len(kq) != 1 or len(pv) != 1:
        raise ExportError(f"letter {letter}: the head needs one score entry carrying it and one value entry")
    (q, kb, c), (o, i, cpv) = kq[0], pv[0]
    s_kq, L = split_entry(c)
    s_pv, L2 = split_entry(cpv)
    if L2 is not None:
        raise ExportError(f"letter {letter}: the value entry carries a letter")
    vals = {s: model.n for s in model.con.params if s.name == "n"}
    WKQ, WPV = model.head_weights(site)[head]
    off = model.offsets
    ro, co = off[o], off[i]
    pv_val = WPV[ro, co]
    if pv_val.numel() != 1:
        pv_val = pv_val.diagonal().mean()
    est = WKQ[off[q], off[kb]] * pv_val.reshape(()) / (_scalar(s_kq, vals) * _scalar(s_pv, vals))
    return est.T if L.endswith("'") else est
