"""The rules: each code's message, fix title and documentation, with its own examples.

The README's rule sections, ``clip-lint --explain`` and the example tests all read this
table, so the documentation cannot drift from the behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    message: str  # a str.format template
    fix_title: str
    what_it_does: str
    why_bad: str
    known_problems: str
    example: str  # must give exactly one finding of this code
    use_instead: str  # must give no finding
    options: str
    fix_safety: str
    references: Tuple[str, ...] = ()


_REFERENCES = (
    "OpenAI CLIP README and `CLIP.forward` (normalize, then `logit_scale * img @ txt.T`)",
    "open_clip `encode_image(normalize=True)`",
    "transformers `CLIPModel.forward` (normalizes `image_embeds` / `text_embeds`)",
)

RULES: Dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule(
            code="CLN001",
            name="unnormalized-features-in-similarity",
            message=(
                "'{name}' (from {source}) reaches '{op}'{site} without L2 normalization; "
                "use F.normalize({name}, dim={feature_dim}) or divide by .norm(dim={feature_dim}, keepdim=True)"
            ),
            fix_title="Normalize '{name}' along the feature dim where it is produced",
            what_it_does=(
                "Follows the output of a CLIP encoder (`encode_image`, `encode_text`, "
                "`get_image_features`, `get_text_features`, a projection model's `image_embeds`) "
                "through the code and reports it where it reaches a similarity op (`@`, `matmul`, "
                "`mm`, `bmm`, `einsum`, `dot`, `inner`, `tensordot`, `(a * b).sum(-1)`, an "
                "inner-product faiss index) without being L2-normalized first."
            ),
            why_bad=(
                "CLIP models are trained on unit vectors; their encoders return unnormalized "
                "features whose norms vary from row to row. A dot product of raw features mixes "
                "the angle with those norms, so rankings and zero-shot predictions come out wrong, "
                "and nothing crashes."
            ),
            known_problems=(
                "Flows are followed through the project's own modules, never into installed "
                "packages. Features read back from disk, built by a library's own wrapper or "
                "returned by an unknown call are unknown and stay silent; use the runtime checker "
                "(`runtime_check`) for those. When a value is raw on one branch and normalized on "
                "the other, the merge is unknown and stays silent. A method named like an encoder "
                "is a raw source unless the receiver's class is known (built here, annotated, or "
                "`self`) and its body provably normalizes; an object made by a factory function "
                "(`open_clip.create_model`) has no known class, so its normalizing "
                "`get_text_features` (transformers' VideoPrism with `apply_l2norm`) is still "
                "reported at its callers; silence those lines with `# noqa: CLN001`."
            ),
            example=(
                "image_features = model.encode_image(images)\n"
                "text_features = model.encode_text(tokens)\n"
                "logits = 100.0 * image_features @ text_features.T\n"
            ),
            use_instead=(
                "image_features = model.encode_image(images)\n"
                "text_features = model.encode_text(tokens)\n"
                "image_features /= image_features.norm(dim=-1, keepdim=True)\n"
                "text_features = F.normalize(text_features, dim=-1)\n"
                "logits = 100.0 * image_features @ text_features.T\n"
            ),
            options=(
                "`--clip-encoders` (flake8) / `encoders` (`[tool.clip-lint]`): extra method names "
                "that return raw features. `--clip-normalizers` / `normalizers`: extra function "
                "names that normalize their argument."
            ),
            fix_safety=(
                "Inserts `x = x / x.norm(dim=-1, keepdim=True)` after the assignment that produced "
                "the value (numpy arrays get `np.linalg.norm(..., axis=-1, keepdims=True)`), or "
                "wraps an inline encoder call in `F.normalize(..., dim=-1)`. Safe when the value "
                "is used only for comparisons; unsafe when it also flows elsewhere (saved, passed "
                "to another function), since that use sees normalized values too."
            ),
            references=_REFERENCES,
        ),
        Rule(
            code="CLN002",
            name="normalized-over-wrong-axis",
            message=(
                "'{name}' (from {source}) is normalized over {detail}{site}; "
                "normalize each vector over the feature dim: dim={feature_dim}"
            ),
            fix_title="Normalize over the feature dim (dim={feature_dim})",
            what_it_does=(
                "Reports an L2 normalization of a `[B, D]` batch of features over the batch axis "
                "(`dim=0`) or over no axis at all (`x / x.norm()`, `np.linalg.norm(x)`: one "
                "Frobenius norm for the whole batch)."
            ),
            why_bad=(
                "Each feature vector must have unit length. Dividing by a norm over the wrong "
                "axis leaves the rows with different lengths, so the similarity is still wrong."
            ),
            known_problems=(
                "The rank is tracked from the encoder call (a batch), through indexing (`[0]`) "
                "and reductions (`.mean(dim=0)`). When the rank is unknown (after `.view()` or "
                "`.squeeze()`), no axis is reported. Forks whose encoder returns `[B, tokens, D]` "
                "are only known to the runtime checker."
            ),
            example=(
                "image_features = model.encode_image(images)\n"
                "image_features = image_features / image_features.norm(dim=0, keepdim=True)\n"
            ),
            use_instead=(
                "image_features = model.encode_image(images)\n"
                "image_features = image_features / image_features.norm(dim=-1, keepdim=True)\n"
            ),
            options="None.",
            fix_safety="Rewrites the axis to `dim=-1` (adding `keepdim=True` where it divides). Safe.",
            references=_REFERENCES,
        ),
        Rule(
            code="CLN003",
            name="norm-without-keepdim",
            message=(
                "'{name}' (from {source}) is divided by a norm without keepdim=True{site}, "
                "which broadcasts across the wrong axis; use .norm(dim={feature_dim}, keepdim=True)"
            ),
            fix_title="Add keepdim=True to the norm",
            what_it_does="Reports `x / x.norm(dim=-1)` on a batch: the norm drops the axis it reduced.",
            why_bad=(
                "A `[B]` norm divides a `[B, D]` batch along the last axis: element `[i, j]` is "
                "divided by the norm of row `j`. It fails only when `B != D` and `D` is not "
                "broadcastable; with `B == D`, or a single row, it runs and is wrong."
            ),
            known_problems=(
                "A norm whose axis is later restored by `.unsqueeze(-1)`, `[:, None]` or `.view()` is accepted."
            ),
            example=(
                "text_features = model.encode_text(tokens)\n"
                "text_features = text_features / text_features.norm(dim=-1)\n"
            ),
            use_instead=(
                "text_features = model.encode_text(tokens)\n"
                "text_features = text_features / text_features.norm(dim=-1, keepdim=True)\n"
            ),
            options="None.",
            fix_safety="Adds `keepdim=True` (`keepdims=True` for numpy). Safe.",
            references=_REFERENCES,
        ),
        Rule(
            code="CLN004",
            name="pooled-features-not-renormalized",
            message=(
                "'{name}' is a mean or sum of normalized embeddings (from {source}) "
                "and reaches '{op}'{site} without re-normalization; "
                "divide it by its norm (dim={feature_dim}) after pooling"
            ),
            fix_title="Re-normalize '{name}' after pooling",
            what_it_does=(
                "Reports a mean or sum of unit features (a prompt ensemble, pooled video frames) "
                "that reaches a similarity op without being normalized again."
            ),
            why_bad=(
                "The mean of unit vectors is shorter than one, by an amount that depends on how "
                "much they disagree. Classes whose prompts disagree more get smaller logits."
            ),
            known_problems=(
                "Only means and sums along a batch axis are tracked; a weighted sum written by hand is unknown."
            ),
            example=(
                "class_embeddings = model.encode_text(tokens)\n"
                "class_embeddings /= class_embeddings.norm(dim=-1, keepdim=True)\n"
                "class_embedding = class_embeddings.mean(dim=0)\n"
                "logits = image_features @ class_embedding\n"
            ),
            use_instead=(
                "class_embeddings = model.encode_text(tokens)\n"
                "class_embeddings /= class_embeddings.norm(dim=-1, keepdim=True)\n"
                "class_embedding = class_embeddings.mean(dim=0)\n"
                "class_embedding /= class_embedding.norm()\n"
                "logits = image_features @ class_embedding\n"
            ),
            options="None.",
            fix_safety=(
                "Inserts a normalization after the pooling assignment. "
                "Safe when the pooled value is used only for comparisons."
            ),
            references=_REFERENCES,
        ),
        Rule(
            code="CLN900",
            name="cannot-analyse",
            message="clip-lint could not analyse this file: {reason}",
            fix_title="",
            what_it_does=(
                "Reports a file that clip-lint could not read or parse (libcst rejects code that "
                "`ast` accepts, bytes that are not valid in the file's encoding, broken notebook "
                "JSON). The run goes on with the other files."
            ),
            why_bad="A file that is not analysed may hide any of the other findings.",
            known_problems="A plain syntax error is left to flake8's own E999 under flake8.",
            example="",
            use_instead="",
            options="None.",
            fix_safety="No fix.",
        ),
    )
}


def format_message(code: str, **fields: object) -> str:
    return RULES[code].message.format(**fields)


def render_rule_markdown(code: str) -> str:
    """One rule's documentation in the layout of Ruff's rule pages."""
    rule = RULES[code]
    parts = [
        f"### {rule.code} ({rule.name})",
        "",
        f"**What it does.** {rule.what_it_does}",
        "",
        f"**Why is this bad?** {rule.why_bad}",
        "",
        f"**Known problems.** {rule.known_problems}",
    ]
    if rule.example:
        parts += ["", "**Example**", "", "```python", rule.example.rstrip(), "```"]
    if rule.use_instead:
        parts += ["", "**Use instead**", "", "```python", rule.use_instead.rstrip(), "```"]
    parts += ["", f"**Options.** {rule.options}", "", f"**Fix safety.** {rule.fix_safety}"]
    if rule.references:
        parts += ["", "**References.** " + "; ".join(rule.references) + "."]
    return "\n".join(parts) + "\n"
