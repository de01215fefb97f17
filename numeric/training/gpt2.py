"""Garg et al.'s in-context regression model on a Hugging Face GPT2Model backbone
(built from a config: nothing is downloaded), and a layer-wise LSTM baseline.

Token format (Garg et al.'s ``_combine``): the prompt x_1, y_1, x_2, y_2, ...
as a sequence of 2P tokens of width d, the label token (y_j, 0, ..., 0) with y
in coordinate 0; a linear read-in to the width, the causal GPT-2 backbone
(learned positions, pre-LayerNorm, GELU MLP, dropout 0), a linear read-out;
the prediction of y_j is read at the x_j token (even positions), so one pass
predicts every prefix t = 0 .. P-1.

The modules keep Garg et al.'s attribute names (``_read_in``, ``_backbone``,
``_read_out``), so a state dict in the layout of their released checkpoints
loads directly (:func:`load_garg_state_dict`).

Hidden states for probing (:meth:`InContextGPT2.hidden`): layer l = 1 .. L is
the residual stream after block l, before the final LayerNorm, except the
last, which is after it (the Hugging Face ``hidden_states`` tuple, which the
paper's code probes).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass


def _torch():
    import torch
    return torch


@dataclass(frozen=True)
class Spec:
    """A model's shape.  ``kind`` is "gpt2" or "lstm"; ``points`` is the longest prompt (x, y pairs)."""
    kind: str = "gpt2"
    layers: int = 12
    heads: int = 8
    width: int = 256
    d: int = 20
    points: int = 41

    def describe(self) -> str:
        if self.kind == "lstm":
            return f"{self.layers}-layer LSTM, width {self.width}, d = {self.d}, up to {self.points} points"
        return (f"GPT-2, {self.layers} layers, {self.heads} heads, width {self.width}, d = {self.d}, "
                f"up to {self.points} points")


@dataclass(frozen=True)
class Curriculum:
    """Garg et al.'s curriculum: the active dimension and the number of points grow by ``inc`` every
    ``every`` steps, from ``start`` to ``end``."""
    dims: tuple = (5, 20, 1, 2000)            # (start, end, inc, every)
    points: tuple = (11, 41, 2, 2000)

    @staticmethod
    def _at(rule, step):
        start, end, inc, every = rule
        return min(end, start + inc * (step // every))

    def at(self, step: int) -> tuple[int, int]:
        return self._at(self.dims, step), self._at(self.points, step)

    @staticmethod
    def fixed(d: int, points: int) -> "Curriculum":
        return Curriculum((d, d, 0, 1), (points, points, 0, 1))


def combine(xs, ys):
    """Interleave (B, P, d) inputs and (B, P) labels into (B, 2P, d) tokens, y in coordinate 0."""
    torch = _torch()
    B, P, d = xs.shape
    yw = torch.cat([ys[..., None], xs.new_zeros(B, P, d - 1)], -1)
    return torch.stack([xs, yw], 2).reshape(B, 2 * P, d)


def seeded_init(seed: int, stream: str = "init"):
    """A context in which torch's global generator is seeded from (seed, stream) and restored after."""
    torch = _torch()
    h = int.from_bytes(hashlib.sha256(f"{stream}:{seed}".encode()).digest()[:8], "little") & ((1 << 63) - 1)
    ctx = torch.random.fork_rng(devices=[])
    ctx.__enter__()
    torch.manual_seed(h)
    return ctx


def _classes():
    torch = _torch()
    nn = torch.nn

    class InContextGPT2(nn.Module):
        def __init__(self, spec: Spec):
            super().__init__()
            from transformers import GPT2Config, GPT2Model
            self.spec = spec
            cfg = GPT2Config(vocab_size=1, bos_token_id=0, eos_token_id=0, n_positions=2 * spec.points,
                             n_embd=spec.width, n_layer=spec.layers, n_head=spec.heads, resid_pdrop=0.0,
                             embd_pdrop=0.0, attn_pdrop=0.0, use_cache=False)
            self._read_in = nn.Linear(spec.d, spec.width)
            self._backbone = GPT2Model(cfg)
            self._read_out = nn.Linear(spec.width, 1)

        @property
        def n_layers(self):
            return self.spec.layers

        def forward(self, xs, ys):
            h = self._backbone(inputs_embeds=self._read_in(combine(xs, ys))).last_hidden_state
            return self._read_out(h)[:, ::2, 0]

        def hidden(self, xs, ys):
            """[H_1, ..., H_L] at the x tokens, each (B, P, width) (H_L after the final LayerNorm)."""
            out = self._backbone(inputs_embeds=self._read_in(combine(xs, ys)), output_hidden_states=True)
            return [h[:, ::2] for h in out.hidden_states[1:]]

    class InContextLSTM(nn.Module):
        """A stack of one-layer LSTMs (so each layer's output can be probed) on the same tokens."""

        def __init__(self, spec: Spec):
            super().__init__()
            self.spec = spec
            self._read_in = nn.Linear(spec.d, spec.width)
            self._layers = nn.ModuleList(nn.LSTM(spec.width, spec.width, batch_first=True)
                                         for _ in range(spec.layers))
            self._read_out = nn.Linear(spec.width, 1)

        @property
        def n_layers(self):
            return self.spec.layers

        def _run(self, xs, ys):
            h = self._read_in(combine(xs, ys))
            outs = []
            for lstm in self._layers:
                h = lstm(h)[0]
                outs.append(h)
            return outs

        def forward(self, xs, ys):
            return self._read_out(self._run(xs, ys)[-1])[:, ::2, 0]

        def hidden(self, xs, ys):
            return [h[:, ::2] for h in self._run(xs, ys)]

    return InContextGPT2, InContextLSTM


_CLS = None


def build(spec: Spec, seed: int | None = None):
    """A fresh model of the spec; with ``seed`` its initial weights come from the seed's init stream."""
    global _CLS
    if _CLS is None:
        _CLS = _classes()
    cls = _CLS[0] if spec.kind == "gpt2" else _CLS[1]
    if spec.kind not in ("gpt2", "lstm"):
        raise ValueError(f"model kind must be gpt2 or lstm, not {spec.kind!r}")
    if seed is None:
        return cls(spec)
    ctx = seeded_init(seed)
    try:
        return cls(spec)
    finally:
        ctx.__exit__(None, None, None)


def load_garg_state_dict(blob, heads: int = 8, d: int | None = None):
    """A model from a state dict in Garg et al.'s layout: their ``state.pt`` ({"model_state_dict": ...}),
    their ``model.pt``, or the bare dict.  The shape is read from the tensors (the width and d from
    ``_read_in``, the layers from the block indices, the points from the position table); the number
    of heads is not in the tensors and is given (8 in their standard config), or read from the file's
    ``spec`` entry (the checkpoints this project ships carry one).  Their unused token table
    (``_backbone.wte``) and the attention-mask buffers of old transformers versions are dropped."""
    sd = blob.get("model_state_dict", blob) if isinstance(blob, dict) else blob
    if isinstance(blob, dict) and isinstance(blob.get("spec"), dict):     # our own checkpoints say their shape
        heads = int(blob["spec"].get("heads", heads))
    if not isinstance(sd, dict) or "_read_in.weight" not in sd:
        raise ValueError("not a state dict in Garg et al.'s layout (no _read_in.weight)")
    width, d_in = sd["_read_in.weight"].shape
    layers = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith("_backbone.h."))
    positions = sd["_backbone.wpe.weight"].shape[0]
    if positions % 2:
        raise ValueError(f"the position table has {positions} rows: Garg et al.'s model has 2 per point")
    if width % heads:
        raise ValueError(f"width {width} is not a multiple of {heads} heads")
    spec = Spec("gpt2", layers, heads, width, d if d is not None else d_in, positions // 2)
    model = build(spec)
    keep = {}
    for k, v in sd.items():
        if k == "_backbone.wte.weight" or k.endswith(".attn.bias") or k.endswith(".attn.masked_bias"):
            continue
        keep[k] = v
    missing, unexpected = model.load_state_dict(keep, strict=False)
    bad = [k for k in missing if not k.endswith("wte.weight")]
    if bad or unexpected:
        raise ValueError(f"state dict does not match Garg et al.'s layout: missing {bad[:3]}, "
                         f"unexpected {list(unexpected)[:3]}")
    return model


def training_fns(spec: Spec, batch: int, curriculum: Curriculum, dist, device: str, accel: dict):
    """``(draw, loss_fn)`` for the training loop: the prompts of each step (the curriculum's dimension and
    number of points at that step) and the loss on them, under bf16 autocast and torch.compile when ``accel``
    asks.  They live here, in a file the cache key hashes, because they determine the trained weights."""
    import contextlib

    torch = _torch()
    from .data import prompts

    def draw(g, step):
        d_act, pts = curriculum.at(step)
        return prompts(dist, batch, spec.d, pts, g, device, d_active=d_act)

    fwd = {"m": None}

    def loss_fn(m, xs, ys):
        if fwd["m"] is None:
            fwd["m"] = torch.compile(m) if accel["compile"] else m
        ctx = (torch.autocast(device.split(":")[0], dtype=torch.bfloat16) if accel["bf16"]
               else contextlib.nullcontext())
        with ctx:
            pred = fwd["m"](xs, ys)
        return ((pred.float() - ys) ** 2).mean()

    return draw, loss_fn
