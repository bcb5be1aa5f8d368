"""ImageNet-style zero-shot classifier with prompt ensembling, using OpenAI's clip package.

Usage: python prompt_ensemble_openai.py IMAGE [IMAGE ...]

Two bugs that clip-lint finds: the averaged prompt embedding is not
renormalized, and the image batch is divided by one norm for the whole batch.
"""
import sys

import clip
import torch
from PIL import Image

CLASSNAMES = ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead shark"]
TEMPLATES = [
    "a bad photo of a {}.",
    "a photo of many {}.",
    "a sculpture of a {}.",
    "a photo of the hard to see {}.",
    "a low resolution photo of the {}.",
    "a rendering of a {}.",
]


def main(paths):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model, preprocess = clip.load("ViT-B/32", device=device)

    weights = []
    with torch.no_grad():
        for classname in CLASSNAMES:
            tokens = clip.tokenize([t.format(classname) for t in TEMPLATES]).to(device)
            class_embeddings = model.encode_text(tokens)
            class_embeddings /= class_embeddings.norm(dim=-1, keepdim=True)
            weights.append(class_embeddings.mean(dim=0))
    classifier = torch.stack(weights, dim=1)

    images = torch.stack([preprocess(Image.open(p)) for p in paths]).to(device)
    with torch.no_grad():
        image_features = model.encode_image(images)
        image_features = image_features / image_features.norm()
        logits = 100.0 * image_features @ classifier

    for path, row in zip(paths, logits.softmax(dim=-1)):
        print(path, CLASSNAMES[row.argmax().item()], f"{row.max().item():.1%}")


if __name__ == "__main__":
    main(sys.argv[1:])
