"""Zero-shot image classification with open_clip, written correctly.

Usage: python zero_shot_fixed.py IMAGE [IMAGE ...] --labels cat dog bird

The fixed version of zero_shot_open_clip.py: both feature sets are
L2-normalized along the feature dim, and the prompt ensemble is renormalized
after averaging. clip-lint reports nothing here.
"""
import argparse

import open_clip
import torch
import torch.nn.functional as F
from PIL import Image

TEMPLATES = ["a photo of a {}.", "a blurry photo of a {}.", "a close-up photo of a {}."]


def class_weights(model, tokenizer, labels, device):
    weights = []
    for label in labels:
        tokens = tokenizer([t.format(label) for t in TEMPLATES]).to(device)
        prompt_features = model.encode_text(tokens, normalize=True)
        weights.append(F.normalize(prompt_features.mean(dim=0), dim=-1))
    return torch.stack(weights)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+")
    parser.add_argument("--labels", nargs="+", default=["cat", "dog", "bird"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained="laion2b_s34b_b79k", device=args.device)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    model.eval()
    batch = torch.stack([preprocess(Image.open(path).convert("RGB")) for path in args.images]).to(args.device)

    with torch.no_grad():
        text_features = class_weights(model, tokenizer, args.labels, args.device)
        image_features = model.encode_image(batch)
        image_features /= image_features.norm(dim=-1, keepdim=True)
        probs = (100.0 * image_features @ text_features.T).softmax(dim=-1)

    for path, row in zip(args.images, probs):
        best = row.argmax().item()
        print(f"{path}: {args.labels[best]} ({row[best].item():.1%})")


if __name__ == "__main__":
    main()
