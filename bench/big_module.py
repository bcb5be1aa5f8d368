"""Write one large Python module full of CLIP comparisons, some of them buggy, for ``--fix``. Run by hand.

    python bench/big_module.py OUT.py [--megabytes 10] [--seed 0]

The module is a long run of small functions, each encoding images and texts with a CLIP model
and comparing them: a third normalize both sides (no finding), a third forget the image side and
a third forget both (CLN001 findings with safe fixes), with helper classes and module-level
tables between them (``--relevant`` sets the share of CLIP functions, 0.75 by default), so that
``clip-lint --fix`` has work in every part of the file.
``bench/fix_memory.py`` times and measures ``--fix`` on it.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import List, Optional, Sequence

HEADER = '''"""A generated module: {count} functions comparing CLIP features (bench/big_module.py)."""
import torch
import torch.nn.functional as F

'''

CORRECT = '''def score_{index}(model, images, texts):
    image_features = model.encode_image(images)
    text_features = model.encode_text(texts)
    image_features = image_features / image_features.norm(dim=-1, keepdim=True)
    text_features = F.normalize(text_features, dim=-1)
    return (image_features @ text_features.T) * {scale}

'''

IMAGE_SIDE_FORGOTTEN = '''def rank_{index}(model, images, texts, top={top}):
    image_features = model.encode_image(images)
    text_features = model.encode_text(texts)
    text_features = text_features / text_features.norm(dim=-1, keepdim=True)
    logits = image_features @ text_features.T
    return logits.topk(top, dim=-1)

'''

BOTH_FORGOTTEN = '''def similarity_{index}(model, images, texts):
    """Cosine similarity of image {index} against the captions."""
    with torch.no_grad():
        image_embeds = model.encode_image(images)
        text_embeds = model.encode_text(texts)
    return F.cosine_similarity(image_embeds, text_embeds) if {flag} else image_embeds @ text_embeds.T

'''

HELPER = '''class Batch{index}:
    """Holds batch {index}; no features here."""

    def __init__(self, items):
        self.items = list(items)
        self.size = len(self.items) + {top}

    def __len__(self):
        return self.size


TABLE_{index} = [{numbers}]

'''

CLIP_TEMPLATES = (CORRECT, IMAGE_SIDE_FORGOTTEN, BOTH_FORGOTTEN)


def chunk(index: int, rng: random.Random, relevant: float) -> str:
    template = CLIP_TEMPLATES[index % len(CLIP_TEMPLATES)] if rng.random() < relevant else HELPER
    return template.format(
        index=index,
        scale=round(rng.uniform(10, 100), 2),
        top=rng.randint(1, 9),
        flag=rng.choice(("True", "False")),
        numbers=", ".join(str(rng.randint(0, 999)) for _ in range(rng.randint(3, 12))),
    )


def generate(megabytes: float, seed: int = 0, relevant: float = 0.75) -> str:
    """A module of about ``megabytes`` MB (10**6 bytes) of functions, classes and tables.

    ``relevant`` is the share of its parts that compare CLIP features (the rest are helper
    classes and tables that the slicer blanks before libcst's parse).
    """
    rng = random.Random(seed)
    target = int(megabytes * 1_000_000)
    parts: List[str] = []
    size, index = 0, 0
    while size < target:
        part = chunk(index, rng, relevant)
        parts.append(part)
        size += len(part)
        index += 1
    return HEADER.format(count=index) + "".join(parts)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--megabytes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--relevant", type=float, default=0.75,
                        help="share of the parts that compare CLIP features (default 0.75)")
    args = parser.parse_args(argv)
    text = generate(args.megabytes, args.seed, args.relevant)
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(text):,} bytes, {text.count(chr(10)):,} lines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
