"""Text-to-image retrieval over a folder of images with Hugging Face transformers 5.x and faiss.

Usage: python retrieval_transformers.py PHOTO_DIR "a dog on a beach" [--k 5]

Two bugs that clip-lint finds: the gallery vectors go into an inner-product
index without normalization, and the query is divided by a norm computed
without keepdim=True.
"""
import argparse
from pathlib import Path

import faiss
import torch
from PIL import Image
from transformers import CLIPModel, CLIPProcessor

MODEL_NAME = "openai/clip-vit-base-patch32"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("photo_dir", type=Path)
    parser.add_argument("query")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    model = CLIPModel.from_pretrained(MODEL_NAME).eval()
    processor = CLIPProcessor.from_pretrained(MODEL_NAME)
    paths = sorted(p for p in args.photo_dir.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})

    chunks = []
    for start in range(0, len(paths), args.batch_size):
        images = [Image.open(p).convert("RGB") for p in paths[start:start + args.batch_size]]
        with torch.no_grad():
            pixel_values = processor(images=images, return_tensors="pt").pixel_values
            chunks.append(model.get_image_features(pixel_values=pixel_values).pooler_output)
    gallery = torch.cat(chunks).numpy().astype("float32")

    index = faiss.IndexFlatIP(gallery.shape[1])
    index.add(gallery)

    with torch.no_grad():
        text_inputs = processor(text=[args.query], return_tensors="pt", padding=True)
        query = model.get_text_features(**text_inputs).pooler_output
    query = query / query.norm(dim=-1)

    scores, ids = index.search(query.numpy().astype("float32"), args.k)
    for score, i in zip(scores[0], ids[0]):
        print(f"{score:.3f}  {paths[i]}")


if __name__ == "__main__":
    main()
