#!/usr/bin/env python3
"""Reference for InternVL's dynamic tiling from InternVL's OWN code: find_closest_aspect_ratio and
dynamic_preprocess are read out of a fetched OpenGVLab/InternVL's
internvl_chat/internvl/train/dataset.py and executed (that module's own imports, decord and the
training stack, are not needed by the two functions); nothing of it is copied here.

    git --git-dir <InternVL git dir> show HEAD:internvl_chat/internvl/train/dataset.py > /tmp/dataset.py
    /work/venv-peers/bin/python tools/reference/tiling_reference.py --dataset-py /tmp/dataset.py \\
        --internvl-commit <sha>

Writes tests/reference/internvit/tiling.json (the grid of 40 image sizes for max_num 6 and 12)
(cols x rows, as the size it resizes to) and, for resources/samples/scene_1000000000.png
stretched to 1100x500 (tiling_input.png) with max_num 6 and the thumbnail, the tiles as PNG
files tile_K.png (Pillow's own pixels: lossless).
"""
import argparse
import ast
import json
import os

from PIL import Image


def load_functions(path):
    tree = ast.parse(open(path).read())
    wanted = [n for n in tree.body if isinstance(n, ast.FunctionDef)
              and n.name in ("find_closest_aspect_ratio", "dynamic_preprocess")]
    if len(wanted) != 2:
        raise SystemExit("the two functions were not found in " + path)
    ns = {}
    exec(compile(ast.Module(body=wanted, type_ignores=[]), path, "exec"), ns)
    return ns["dynamic_preprocess"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset-py", required=True)
    ap.add_argument("--internvl-commit", required=True)
    ap.add_argument("--out", default="tests/reference/internvit")
    ap.add_argument("--image", default="resources/samples/scene_1000000000.png")
    a = ap.parse_args()
    dynamic_preprocess = load_functions(a.dataset_py)
    sizes = [(448, 448), (640, 300), (300, 640), (1000, 200), (200, 1000), (896, 448), (897, 448),
             (1344, 448), (100, 100), (2000, 1500), (1500, 2000), (1024, 768), (768, 1024),
             (500, 499), (1, 1), (4000, 100), (100, 4000), (1280, 720), (720, 1280), (3000, 2000),
             (1600, 900), (464, 549), (549, 464), (1200, 400), (400, 1200), (850, 450), (450, 850),
             (1792, 896), (1791, 896), (960, 640), (640, 960), (2240, 448), (448, 2240),
             (1000, 1000), (999, 1001), (1500, 500), (500, 1500), (700, 300), (300, 700), (5000, 3)]
    class Recording:  # an image that records the size dynamic_preprocess resizes it to
        def __init__(self, w, h):
            self.size = (w, h)
            self.resized = []

        def resize(self, size):
            self.resized.append(size)
            return Image.new("RGB", size)

    grids = []
    for max_num in (6, 12):
        for w, h in sizes:
            im = Recording(w, h)
            tiles = dynamic_preprocess(im, max_num=max_num, image_size=448, use_thumbnail=False)
            tw, th = im.resized[0]
            grids.append({"width": w, "height": h, "max_num": max_num, "cols": tw // 448,
                          "rows": th // 448, "tiles": len(tiles)})
    # Pixels: the sample scene stretched to 1100x500 (a 2x1 grid) by Pillow, then tiled.
    img = Image.open(a.image).convert("RGB").resize((1100, 500))
    tiles = dynamic_preprocess(img, max_num=6, image_size=448, use_thumbnail=True)
    os.makedirs(a.out, exist_ok=True)
    img.save(os.path.join(a.out, "tiling_input.png"))
    for k, t in enumerate(tiles):
        t.save(os.path.join(a.out, "tile_%d.png" % k))
    with open(os.path.join(a.out, "tiling.json"), "w") as f:
        json.dump({"internvl_commit": a.internvl_commit, "image": a.image,
                   "image_tiles": len(tiles), "grids": grids}, f, indent=0)
    print(len(grids), "grids;", len(tiles), "tiles of", a.image)


if __name__ == "__main__":
    main()
