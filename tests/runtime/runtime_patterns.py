"""User code patterns, buggy and correct, as data: each takes raw features `a`, `b` and the model.

A buggy pattern names the operand that must be reported, a phrase of the cause, and the ops
that must appear in the reported chain. Adding a case means adding one entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F


def unit(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x, dim=-1)


@dataclass(frozen=True)
class Pattern:
    name: str
    run: Callable[[Any, Any, Any], Any]
    operand: str = ""
    cause: str = ""
    chain: tuple[str, ...] = ()
    open_clip_only: bool = False
    needs_logit_scale: bool = False

    def __str__(self) -> str:
        return self.name


def _logit_scale(model: Any) -> torch.Tensor:
    return model.logit_scale.exp()


def _stack_rows(a):
    return torch.stack([a[0], a[1]])


def _zero_row_then_pow_idiom(a, b, m):
    padded = torch.cat([a, torch.zeros(1, a.shape[-1], dtype=a.dtype)])
    unit_rows = padded / padded.pow(2).sum(-1, keepdim=True).sqrt()  # 0 / 0 = NaN
    return unit_rows @ unit(b).T


def _in_place_wrong_dim(a, b, m):
    a = a.clone()
    a /= a.norm(dim=0, keepdim=True)
    return a @ unit(b).T


def _ensemble_without_renorm(a, b, m):
    prompts = unit(b)  # three prompts of one class
    class_embedding = prompts.mean(dim=0)
    return unit(a) @ class_embedding


def _ensembles_stacked(a, b, m):
    prompts = unit(b)
    classes = torch.stack([prompts[:2].mean(dim=0), prompts[1:].mean(dim=0)])
    return 100.0 * unit(a) @ classes.T


def _notebook_zero_shot(a, b, m, renormalize: bool = True):
    """The zero-shot recipe of OpenAI's CLIP notebook: per-class prompt ensembles, stack(dim=1)."""
    weights = []
    for prompts in (b[:2], b[1:]):
        class_embeddings = prompts.clone()
        class_embeddings /= class_embeddings.norm(dim=-1, keepdim=True)
        class_embedding = class_embeddings.mean(dim=0)
        if renormalize:
            class_embedding /= class_embedding.norm()
        weights.append(class_embedding)
    zeroshot_weights = torch.stack(weights, dim=1)
    image = a / a.norm(dim=-1, keepdim=True)
    return (100.0 * image @ zeroshot_weights).softmax(dim=-1)


def _as_many_rows_as_dims(x):
    """Repeat rows until the batch equals the feature dim, so a missing keepdim broadcasts silently."""
    return x[torch.arange(x.shape[-1]) % x.shape[0]]


def _missing_keepdim_left(a, b, m):
    square = _as_many_rows_as_dims(a)
    return (square / square.norm(dim=-1)) @ unit(b).T


def _missing_keepdim_right(a, b, m):
    square = _as_many_rows_as_dims(b)
    return unit(a) @ (square / square.norm(dim=-1)).T


def _open_clip_classifier_without_renorm(a, b, m):
    """open_clip's build_zero_shot_classifier body, final renormalization forgotten."""
    templates = unit(b[:2].repeat(3, 1))  # 2 classes x 3 templates, normalized per prompt
    weights = templates.reshape(2, 3, -1).mean(dim=1).T
    return unit(a) @ weights


def _sum_over_templates(a, b, m):
    prompts = unit(b)
    return unit(a) @ (prompts.sum(dim=0) / prompts.shape[0])


def _written_after_normalizing(a, b, m):
    image = unit(a).clone()
    image[:, 0] = 1.0
    return image @ unit(b).T


def _copied_into_after_normalizing(a, b, m):
    image = unit(a).clone()
    image.copy_(a)
    return image @ unit(b).T


def _added_in_place_after_normalizing(a, b, m):
    image = unit(a).clone()
    image += 1.0
    return image @ unit(b).T


BUGGY: list[Pattern] = [
    Pattern("no normalization", lambda a, b, m: a @ b.T, "left and right", "CLN001: it was never L2-normalized"),
    Pattern("one side only", lambda a, b, m: unit(a) @ b.T, "right", "CLN001", (".T",)),
    Pattern("wrong dim (F.normalize dim=0)", lambda a, b, m: F.normalize(a, dim=0) @ unit(b).T,
            "left", "CLN002: it was normalized along dim -2", ("F.normalize(dim=0)",)),
    Pattern("wrong dim (x / x.norm(dim=0))", lambda a, b, m: (a / a.norm(dim=0, keepdim=True)) @ unit(b).T,
            "left", "CLN002: it was normalized along dim -2"),
    Pattern("wrong dim on the transposed side", lambda a, b, m: unit(a) @ (b / b.norm(dim=0, keepdim=True)).T,
            "right", "CLN002: it was normalized along dim -1, but the similarity contracts dim -2"),
    Pattern("wrong dim, in place", _in_place_wrong_dim, "left", "CLN002: it was normalized along dim -2"),
    Pattern("no dim (x / x.norm())", lambda a, b, m: (a / a.norm()) @ unit(b).T, "left", "CLN002", ),
    Pattern("missing keepdim, left", _missing_keepdim_left, "left", "CLN003: it was divided by a norm taken "
            "without keepdim=True"),
    Pattern("missing keepdim, right", _missing_keepdim_right, "right", "CLN003"),
    Pattern("mean without renormalizing", _ensemble_without_renorm, "right", "CLN004: it is the mean of unit vectors",
            (".mean(dim=0)",)),
    Pattern("ensembles stacked without renormalizing", _ensembles_stacked, "right", "CLN004", ("stack",)),
    Pattern("notebook zero-shot without renormalizing",
            lambda a, b, m: _notebook_zero_shot(a, b, m, renormalize=False), "right", "CLN004",
            (".mean(dim=0)", "stack")),
    Pattern("open_clip classifier without renormalizing", _open_clip_classifier_without_renorm, "right", "CLN004",
            (".reshape()", ".mean(dim=1)", ".T")),
    Pattern("sum over templates / T", _sum_over_templates, "right", "CLN004"),
    Pattern("through .float()", lambda a, b, m: unit(a).float() @ b.float().T, "right", "CLN001",
            (".float()", ".T")),
    Pattern("through cat", lambda a, b, m: torch.cat([a, a]) @ unit(b).T, "left", "CLN001", ("cat",)),
    Pattern("through stack", lambda a, b, m: _stack_rows(a) @ unit(b).T, "left", "CLN001", ("[...]", "stack")),
    Pattern("through scaling", lambda a, b, m: 100.0 * a @ unit(b).T, "left", "CLN001", ("* scalar",)),
    Pattern("logit_scale on raw features", lambda a, b, m: _logit_scale(m) * a @ b.T, "left and right", "CLN001",
            ("* scalar",), needs_logit_scale=True),
    Pattern("einsum", lambda a, b, m: torch.einsum("bd,nd->bn", a, unit(b)), "left", "CLN001"),
    Pattern("einsum with ellipsis", lambda a, b, m: torch.einsum("...d,nd->...n", unit(a), b), "right", "CLN001"),
    Pattern("(a * b).sum(-1)", lambda a, b, m: (unit(a[:2]) * b[:2]).sum(-1), "right", "CLN001"),
    Pattern("(a * b).sum(dim=(-1,))", lambda a, b, m: (a[:2] * unit(b[:2])).sum(dim=(-1,)), "left", "CLN001"),
    Pattern("F.linear with features as weight", lambda a, b, m: F.linear(unit(a), b), "right", "CLN001"),
    Pattern("torch.dot", lambda a, b, m: torch.dot(a[0], unit(b)[0]), "left", "CLN001", ("[...]",)),
    Pattern("mm", lambda a, b, m: unit(a).mm(b.t()), "right", "CLN001", (".t()",)),
    Pattern("bmm", lambda a, b, m: torch.bmm(a.unsqueeze(0), unit(b).T.unsqueeze(0)), "left", "CLN001"),
    Pattern("addmm", lambda a, b, m: torch.addmm(torch.zeros(1, b.shape[0], dtype=a.dtype), a, unit(b).T),
            "left", "CLN001"),
    Pattern("baddbmm", lambda a, b, m: torch.baddbmm(torch.zeros(1, 1, b.shape[0], dtype=a.dtype), unit(a)[None],
                                                     b.T[None]), "right", "CLN001"),
    Pattern("addmv", lambda a, b, m: torch.addmv(torch.zeros(b.shape[0], dtype=a.dtype), unit(b), a[0]),
            "right", "CLN001"),
    Pattern("tensordot", lambda a, b, m: torch.tensordot(unit(a), b, dims=([1], [1])), "right", "CLN001"),
    Pattern("written into after normalizing", _written_after_normalizing, "left", "then changed by a later op",
            ("__setitem__",)),
    Pattern("copied into after normalizing", _copied_into_after_normalizing, "left", "then changed", (".copy_()",)),
    Pattern("+= after normalizing", _added_in_place_after_normalizing, "left", "then changed", (".add_()",)),
    Pattern("zero row then pow idiom gives NaN", _zero_row_then_pow_idiom, "left", "NaN"),
    Pattern("zero row joined to unit rows",
            lambda a, b, m: torch.cat([unit(a), torch.zeros(1, a.shape[-1], dtype=a.dtype)]) @ unit(b).T,
            "left", "all zeros"),
]


def _in_place_norm(a, b, m):
    a = a.clone()
    b = b.clone()
    a /= a.norm(dim=-1, keepdim=True)
    b /= b.norm(dim=-1, keepdim=True)
    return a @ b.T


def _pow_idiom(a, b, m):
    def normalize(x):  # transformers' own spelling: numerically settled, not recognized
        return x / x.pow(2).sum(dim=-1, keepdim=True).pow(0.5)

    return normalize(a) @ normalize(b).T


def _single_vector(a, b, m):
    query = a[0]
    query = query / query.norm()  # no dim is right for one vector
    return unit(b) @ query


def _renormalized_ensemble(a, b, m):
    class_embedding = unit(b).mean(dim=0)
    class_embedding = class_embedding / class_embedding.norm()
    return unit(a) @ class_embedding


def _renormalized_ensembles_stacked(a, b, m):
    prompts = unit(b)
    classes = torch.stack([prompts[:2].mean(dim=0), prompts[1:].mean(dim=0)])
    return unit(a) @ F.normalize(classes, dim=-1).T


def _linear_probe(a, b, m):
    head = torch.nn.Linear(a.shape[-1], 5).to(a.dtype)
    weight = torch.nn.Parameter(torch.randn(a.shape[-1], 4, dtype=a.dtype))
    return head(a), a @ head.weight.T, a @ weight


def _open_clip_classifier(a, b, m):
    templates = unit(b[:2].repeat(3, 1))
    weights = templates.reshape(2, 3, -1).mean(dim=1)
    weights = weights / weights.norm(dim=-1, keepdim=True)
    return unit(a) @ weights.T


def _add_products(a, b, m):
    bias = torch.zeros(1, b.shape[0], dtype=a.dtype)
    return (torch.addmm(bias, unit(a), unit(b).T), torch.baddbmm(bias[None], unit(a)[None], unit(b).T[None]),
            torch.addmv(bias[0], unit(b), unit(a)[0]))


def _written_before_normalizing(a, b, m):
    image = a.clone()
    image[:, 0] = 1.0
    image += 0.5
    return unit(image) @ unit(b).T


def _normalize_true(a, b, m):
    image = m.encode_image(torch.randn(2, 3, 32, 32, dtype=a.dtype), normalize=True)
    text = m.encode_text(torch.randint(1, 90, (3, 16)), normalize=True)
    return image @ text.T


def _product_sum(a, b, m):
    return (unit(a[:2]) * unit(b[:2])).sum(dim=-1)


CORRECT: list[Pattern] = [
    Pattern("F.normalize", lambda a, b, m: unit(a) @ unit(b).T),
    Pattern("x / x.norm(dim=-1, keepdim=True)",
            lambda a, b, m: (a / a.norm(dim=-1, keepdim=True)) @ (b / b.norm(dim=-1, keepdim=True)).T),
    Pattern("/= norm", _in_place_norm),
    Pattern("pow/sum/pow idiom", _pow_idiom),
    Pattern("torch.linalg.vector_norm",
            lambda a, b, m: (a / torch.linalg.vector_norm(a, dim=-1, keepdim=True).clamp_min(1e-6)) @ unit(b).T),
    Pattern("normalize=True", _normalize_true, open_clip_only=True),
    Pattern("logit_scale * img @ txt.T", lambda a, b, m: _logit_scale(m) * unit(a) @ unit(b).T,
            needs_logit_scale=True),
    Pattern("scaled by a python number", lambda a, b, m: (unit(a) * 100.0) @ (unit(b) / 2).T),
    Pattern("linear probe", _linear_probe),
    Pattern("renormalized ensemble", _renormalized_ensemble),
    Pattern("renormalized ensembles stacked", _renormalized_ensembles_stacked),
    Pattern("notebook zero-shot (stack dim=1)", _notebook_zero_shot),
    Pattern("single vector, no-dim norm", _single_vector),
    Pattern("through .float(), cat and stack",
            lambda a, b, m: torch.cat([unit(a).float(), torch.stack([unit(a)[0].float()])]) @ unit(b).float().T),
    Pattern("einsum", lambda a, b, m: torch.einsum("bd,nd->bn", unit(a), unit(b))),
    Pattern("(a * b).sum(-1)", _product_sum),
    Pattern("F.cosine_similarity on raw features", lambda a, b, m: F.cosine_similarity(a[:2], b[:2], dim=-1)),
    Pattern("F.linear with normalized weight", lambda a, b, m: F.linear(unit(a), unit(b))),
    Pattern("MSE between raw features", lambda a, b, m: F.mse_loss(a[:2], b[:2])),
    Pattern("einsum with ellipsis", lambda a, b, m: torch.einsum("...d,nd->...n", unit(a)[None], unit(b))),
    Pattern("open_clip classifier, renormalized", _open_clip_classifier),
    Pattern("addmm / baddbmm / addmv", _add_products),
    Pattern("in-place writes before normalizing", _written_before_normalizing),
    Pattern("sum(dim=tuple) of a product", lambda a, b, m: (unit(a[:2]) * unit(b[:2])).sum(dim=(1,))),
    Pattern("missing keepdim at batch 1 broadcasts right", lambda a, b, m: (a[:1] / a[:1].norm(dim=-1)) @ unit(b).T),
]
