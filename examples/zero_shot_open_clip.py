"""Zero-shot image classification with open_clip.

Usage: python zero_shot_open_clip.py IMAGE [IMAGE ...] --labels cat dog bird

This script has a bug that clip-lint finds: the image features are never
L2-normalized, so the logits scale with each image's feature norm.
"""
import argparse

import open_clip
import torch
from PIL import Image


def load_model(name="ViT-B-32", pretrained="laion2b_s34b_b79k", device="cpu"):
    model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained, device=device)
    tokenizer = open_clip.get_tokenizer(name)
    model.eval()
    return model, preprocess, tokenizer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+")
    parser.add_argument("--labels", nargs="+", default=["cat", "dog", "bird"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    model, preprocess, tokenizer = load_model(device=args.device)
    batch = torch.stack([preprocess(Image.open(path).convert("RGB")) for path in args.images]).to(args.device)
    prompts = tokenizer([f"a photo of a {label}" for label in args.labels]).to(args.device)

    with torch.no_grad():
        image_features = model.encode_image(batch)
        text_features = model.encode_text(prompts)
        text_features /= text_features.norm(dim=-1, keepdim=True)

        logits = 100.0 * image_features @ text_features.T
        probs = logits.softmax(dim=-1)

    for path, row in zip(args.images, probs):
        best = row.argmax().item()
        print(f"{path}: {args.labels[best]} ({row[best].item():.1%})")


if __name__ == "__main__":
    main()
