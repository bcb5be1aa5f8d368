"""The rules: each code's message, fix title and documentation, with its own examples.

The rule pages (``docs/rules/CODE.md``), the README's examples, ``clip-lint --explain`` and the
example tests all read this table, so the documentation cannot drift from the behaviour.
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
    # For a similarity op with several operands to report: one finding names them all.
    message_many: str = ""
    fix_title_many: str = ""
    summary: str = ""  # one line for listings and SARIF; default: the first sentence of what_it_does
    default: bool = True  # selected unless a configuration selects otherwise (False: like ruff's RUF100)
    engine: bool = True  # reported by the analysis, under flake8 too (False: by the command alone)

    @property
    def short_description(self) -> str:
        if self.summary:
            return self.summary
        first = self.what_it_does.split(". ")[0].rstrip(".")
        return first + "."

    @property
    def page(self) -> str:
        """The rule's page, relative to the repository's root (the project's home)."""
        return f"{RULE_PAGES}/{self.code}.md"


#: Where the rule pages are generated (``python -m clip_lint.docs``), relative to the repository.
RULE_PAGES = "docs/rules"


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
            summary="An encoder output reaches a similarity op without L2 normalization along the feature dim.",
            message=(
                "'{name}' (from {source}) reaches '{op}'{site} without L2 normalization; "
                "use F.normalize({name}, dim={feature_dim}) or divide by .norm(dim={feature_dim}, keepdim=True)"
            ),
            fix_title="Normalize '{name}' along the feature dim",
            message_many="{subjects} reach '{op}'{site} without L2 normalization; use {each_normalized}",
            fix_title_many="Normalize {names} along the feature dim",
            what_it_does=(
                "Follows the output of a CLIP encoder (`encode_image`, `encode_text`, "
                "`get_image_features`, `get_text_features`, a projection model's `image_embeds`) "
                "through the code and reports it where it reaches a similarity op (`@`, `matmul`, "
                "`mm`, `bmm`, `einsum`, `dot`, `inner`, `tensordot`, `(a * b).sum(-1)`, an "
                "inner-product faiss index) without being L2-normalized first. The finding names "
                "every operand that is not unit: one finding per op, naming both when both are raw."
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
                "`extra-encoders`: extra method names that return raw features; `extra-normalizers`: "
                "extra function names that normalize their argument. Both front ends read them from "
                "`[tool.clip-lint]`, and as `clip-encoders` / `clip-normalizers` from `[flake8]` "
                "(see the configuration table)."
            ),
            fix_safety=(
                "Inserts `x = x / x.norm(dim=-1, keepdim=True)` after the assignment that produced "
                "the value (numpy arrays get `np.linalg.norm(..., axis=-1, keepdims=True)`), or "
                "wraps an inline encoder call in `F.normalize(..., dim=-1)`, for exactly the operands "
                "the finding names. A value that also flows elsewhere (saved, passed to another "
                "function) is normalized where it is compared instead (`F.normalize(x, dim=-1) @ "
                "...`), so that other use still sees the raw values; all of these are safe. The fix "
                "is unsafe only when the comparison reads such a value through something else (a "
                "list, a helper's parameter): it is then normalized where it is produced. An added "
                "import reuses one the file has, or a name the file uses nowhere (`F`, else "
                "`torch.nn.functional`, else `F2`), and goes "
                "after the last top-level import."
            ),
            references=_REFERENCES,
        ),
        Rule(
            code="CLN002",
            name="normalized-over-wrong-axis",
            summary="Features normalized over the wrong axis (dim=0 of a [B, D] batch) or over no axis.",
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
                "The rank and the axes of size 1 are tracked from the encoder call (a batch) "
                "through indexing (`[0]`, `[None]`, `[:1]`), reductions (`keepdim=True` keeps the "
                "axis, with size 1), `unsqueeze`, `squeeze`, `expand`, `repeat` and transposes, so "
                "a no-axis norm of one vector (`[1, D]`, `[D, 1]`, `[D]`) is accepted. When the rank "
                "is unknown (after `.view()` or `.reshape()`), no axis is reported. Forks whose "
                "encoder returns `[B, tokens, D]` are only known to the runtime checker."
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
            summary="Features divided by a norm without keepdim=True, which broadcasts across the wrong axis.",
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
                "A norm whose axis is later restored by `.unsqueeze(-1)`, `[:, None]` or `.view()` is "
                "accepted, and so is one vector (`[1, D]`): its norm broadcasts correctly."
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
            summary="A mean or sum of normalized embeddings reaches a similarity op without re-normalization.",
            message=(
                "'{name}' is a mean or sum of normalized embeddings (from {source}) "
                "and reaches '{op}'{site} without re-normalization; "
                "divide it by its norm (dim={feature_dim}) after pooling"
            ),
            fix_title="Re-normalize '{name}' after pooling",
            message_many=(
                "{subjects} reach '{op}'{site} without re-normalization; divide each by its norm after pooling: "
                "{each_normalized}"
            ),
            fix_title_many="Re-normalize {names} after pooling",
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
            code="CLN005",
            name="raw-features-of-different-encoders-mixed",
            summary="Raw features of different encoders are added or averaged before each is normalized.",
            message=(
                "raw features of different encoders are combined here before each is normalized: {subjects}; "
                "the mix reaches '{op}', where the larger raw norm dominates it; normalize each first: "
                "{each_normalized}"
            ),
            fix_title="Normalize {names} before combining them",
            fix_title_many="Normalize {names} before combining them",
            what_it_does=(
                "Reports the `+`, `mean` or `sum` where raw features of two different encoder calls "
                "(image and text, or two models) are added or averaged before each is normalized, "
                "when the mix later reaches a similarity op or an inner-product index, normalized or not."
            ),
            why_bad=(
                "Raw CLIP features of different encoders (or models) have norms of their own, far "
                "from 1 and unrelated to each other. In a sum or mean of them, the one with the "
                "larger norm dominates the direction, and normalizing the sum afterwards does not "
                "undo that: a multimodal query or index entry is mostly one modality."
            ),
            known_problems=(
                "Encoders are told apart by the model expression and the method, so two calls of "
                "the same encoder (two image batches) are not a mix. Concatenation along the feature "
                "axis (features side by side, for a probe) and a mix that is never compared are not "
                "reported. Weighted sums written by hand (`0.7 * a + 0.3 * b`) are reported like "
                "plain sums."
            ),
            example=(
                "image_features = model.encode_image(images)\n"
                "text_features = model.encode_text(tokens)\n"
                "query = (image_features + text_features) / 2\n"
                "query = query / query.norm(dim=-1, keepdim=True)\n"
                "index = faiss.IndexFlatIP(query.shape[1])\n"
                "index.add(query.numpy())\n"
            ),
            use_instead=(
                "image_features = model.encode_image(images)\n"
                "text_features = model.encode_text(tokens)\n"
                "image_features = image_features / image_features.norm(dim=-1, keepdim=True)\n"
                "text_features = text_features / text_features.norm(dim=-1, keepdim=True)\n"
                "query = (image_features + text_features) / 2\n"
                "query = query / query.norm(dim=-1, keepdim=True)\n"
                "index = faiss.IndexFlatIP(query.shape[1])\n"
                "index.add(query.numpy())\n"
            ),
            options="`--clip-encoders` / `encoders`: extra encoder methods, whose features count as raw.",
            fix_safety=(
                "Inserts a normalization after the assignment of each operand (or wraps an inline "
                "encoder call in `F.normalize(..., dim=-1)`). Safe when the operands are used only "
                "for the mix and comparisons; unsafe when one also flows elsewhere. A mix that "
                "reaches the op without being normalized is then a mean of unit vectors: CLN004 "
                "asks to normalize it."
            ),
            references=_REFERENCES,
        ),
        Rule(
            code="CLN100",
            name="unused-noqa",
            summary="A '# noqa: CLNxxx' directive that suppresses nothing on its line.",
            message="unused noqa directive ({detail})",
            fix_title="Remove the unused noqa directive",
            what_it_does=(
                "Reports a `# noqa: CLNxxx` comment whose clip-lint codes silence no finding on its line, "
                "as ruff's RUF100 does. A code is unused when it names a selected rule that reports nothing "
                "there, and unknown when it names no rule at all (`CLN042`). Other tools' codes in the same "
                "comment (`E501`) and a blanket `# noqa` are left alone."
            ),
            why_bad=(
                "A stale suppression outlives the bug it silenced: once the code is fixed, the comment "
                "hides the next real finding on that line. An unknown code silences nothing at all."
            ),
            known_problems=(
                "Off by default, like RUF100: select it with `--extend-select CLN100` (or `extend-select = "
                "[\"CLN100\"]` in `[tool.clip-lint]`); `--select CLN` does not turn it on. A code of a rule "
                "the run does not select is not judged, since a run that selects it may need it. Only the "
                "`clip-lint` command reports it: under flake8, `# noqa` is flake8's own filter, applied "
                "after every plugin has run and over other plugins' codes too, so a plugin can't see what "
                "it silenced (the flake8-noqa plugin reports unneeded `# noqa` comments there). A `# noqa` "
                "inside a string is text, not a directive."
            ),
            example=(
                "image_features = F.normalize(model.encode_image(images), dim=-1)\n"
                "scores = image_features @ image_features.T  # noqa: CLN001\n"
            ),
            use_instead=(
                "image_features = F.normalize(model.encode_image(images), dim=-1)\n"
                "scores = image_features @ image_features.T\n"
            ),
            options="`--extend-select CLN100` turns it on; `--select`, `--ignore` and `per-file-ignores` decide "
            "which codes are judged.",
            fix_safety=(
                "Removes the unused codes from the directive, or the whole directive (and the whitespace "
                "before it) when none is left; other text in the comment stays. Safe: it changes only a comment."
            ),
            default=False,
            engine=False,
        ),
        Rule(
            code="CLN900",
            name="cannot-analyse",
            summary="The file could not be analysed (unreadable, undecodable, or libcst cannot parse it).",
            message="clip-lint could not analyse this file: {reason}",
            fix_title="",
            what_it_does=(
                "Reports a file that clip-lint could not read or parse (libcst rejects code that "
                "`ast` accepts, bytes that are not valid in the file's encoding, broken notebook "
                "JSON). The run goes on with the other files."
            ),
            why_bad="A file that is not analysed may hide any of the other findings.",
            known_problems=(
                "A plain syntax error is left to flake8's own E999 under flake8. Indentation that "
                "Python accepts and libcst rejects (a tab mixed into spaces, a form feed) is no "
                "CLN900: the file is analysed as Python reads it, findings keep their own line and "
                "column, and fixes indent new lines with the file's own whitespace. Two limits also "
                "give a CLN900, so that a silence is never taken for a clean file: a file whose "
                "analysis would need more memory than `CLIP_LINT_MEMORY_BUDGET_MB` (2048 by default) "
                "is skipped before it is parsed, and an analysis that runs past its time limit stops "
                "early; that result is never cached."
            ),
            example="",
            use_instead="",
            options="None.",
            fix_safety="No fix.",
        ),
    )
}


def format_message(code: str, **fields: object) -> str:
    rule = RULES[code]
    template = rule.message_many if "subjects" in fields and rule.message_many else rule.message
    return template.format(**fields)


def render_rule_markdown(code: str) -> str:
    """One rule's page (``docs/rules/CODE.md``, and ``--explain``), laid out as Ruff's rule pages."""
    rule = RULES[code]
    parts = [f"# {rule.code} ({rule.name})", "", rule.short_description, "", _facts_line(rule)]
    parts += ["", "## What it does", "", rule.what_it_does]
    parts += ["", "## Why is this bad?", "", rule.why_bad]
    parts += ["", "## Known problems", "", rule.known_problems]
    if rule.example:
        parts += ["", "## Example", "", "```python", rule.example.rstrip(), "```"]
    if rule.use_instead:
        parts += ["", "## Use instead", "", "```python", rule.use_instead.rstrip(), "```"]
    parts += ["", "## Options", "", rule.options, "", "## Fix safety", "", rule.fix_safety]
    if rule.references:
        parts += ["", "## References", ""] + [f"- {reference}" for reference in rule.references]
    return "\n".join(parts) + "\n"


def _facts_line(rule: Rule) -> str:
    """Whether the rule is on by default, has a fix, and which front ends report it."""
    default = "On by default" if rule.default else f"Off by default: select it with `--extend-select {rule.code}`"
    fix = "Fix available (`--fix`)" if rule.fix_title else "No fix"
    where = "Reported by `clip-lint` and by flake8" if rule.engine else "Reported by `clip-lint` only, not by flake8"
    return f"{default}. {fix}. {where}."
