#!/usr/bin/env python3
"""Writes the sample sets of DualFocus' four benchmarks under resources/samples/benchmarks/.

Each set is a few cases in its benchmark's exact published layout (file names, fields, TSV
columns) about synthetic scenes rendered here: coloured shapes on a light background, drawn
with the nominal colours of core/synth, plus a sign with digits for TextVQA's reading
questions. The questions use the embedded model's phrasings, so it can answer some of them.
Standard library only (PNG written with zlib); deterministic: running it again rewrites the
same bytes.

    python3 tools/make_dualfocus_samples.py [OUT_DIR]   # default resources/samples/benchmarks
"""
import base64
import json
import math
import os
import random
import struct
import sys
import zlib

# core/synth colour_rgb
COLOURS = {
    "red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220),
    "yellow": (240, 210, 40), "purple": (140, 60, 180), "orange": (250, 140, 30),
}
DIGITS = {  # 3x5 bitmaps, rows top to bottom
    "0": ["111", "101", "101", "101", "111"], "1": ["010", "110", "010", "010", "111"],
    "2": ["111", "001", "111", "100", "111"], "3": ["111", "001", "111", "001", "111"],
    "4": ["101", "101", "111", "001", "001"], "5": ["111", "100", "111", "001", "111"],
    "6": ["111", "100", "111", "101", "111"], "7": ["111", "001", "010", "010", "010"],
    "8": ["111", "101", "111", "101", "111"], "9": ["111", "101", "111", "001", "111"],
}
LETTER_HINT = "Answer with the option's letter from the given choices directly."
SHORT_ANSWER = "Answer the question using a single word or phrase."


# ---- rendering ----------------------------------------------------------------------------

def png_bytes(width, height, pixels):
    """pixels: list of rows of (r, g, b)."""
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in pixels)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def inside_polygon(x, y, pts):
    inside = False
    for i in range(len(pts)):
        (x0, y0), (x1, y1) = pts[i], pts[i - 1]
        if (y0 > y) != (y1 > y) and x < (x1 - x0) * (y - y0) / (y1 - y0) + x0:
            inside = not inside
    return inside


def shape_test(shape, box):
    x0, y0, x1, y1 = box
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    if shape == "circle":
        return lambda x, y: (x - cx) ** 2 + (y - cy) ** 2 <= r * r
    if shape == "square":
        return lambda x, y: x0 <= x < x1 and y0 <= y < y1
    if shape == "triangle":
        pts = [(cx, y0), (x1, y1), (x0, y1)]
    else:  # star: 5 points, inner radius 0.45
        pts = [(cx + (r if k % 2 == 0 else 0.45 * r) * math.sin(k * math.pi / 5),
                cy - (r if k % 2 == 0 else 0.45 * r) * math.cos(k * math.pi / 5)) for k in range(10)]
    return lambda x, y: inside_polygon(x, y, pts)


def render(scene):
    w, h = scene["width"], scene["height"]
    pixels = [[scene["background"]] * w for _ in range(h)]
    for obj in scene["objects"]:
        test = shape_test(obj["shape"], obj["box"])
        x0, y0, x1, y1 = obj["box"]
        for y in range(y0, y1):
            for x in range(x0, x1):
                if test(x + 0.5, y + 0.5):
                    pixels[y][x] = COLOURS[obj["colour"]]
    if "sign" in scene:  # black digits on a white plate
        text, sx, sy, scale = scene["sign"]
        pw, ph = (4 * len(text) + 1) * scale, 7 * scale
        for y in range(sy, sy + ph):
            for x in range(sx, sx + pw):
                pixels[y][x] = (250, 250, 250)
        for i, ch in enumerate(text):
            for row, bits in enumerate(DIGITS[ch]):
                for col, bit in enumerate(bits):
                    if bit == "1":
                        for y in range(sy + (row + 1) * scale, sy + (row + 2) * scale):
                            for x in range(sx + (4 * i + col + 1) * scale, sx + (4 * i + col + 2) * scale):
                                pixels[y][x] = (20, 20, 20)
    return png_bytes(w, h, pixels)


def make_scene(seed, objects, sign=None):
    """objects: (colour, shape) pairs, placed left to right without overlap."""
    rng = random.Random(seed)
    w, h = 224, 168
    scene = {"width": w, "height": h, "objects": [],
             "background": tuple(rng.randint(225, 250) for _ in range(3))}
    slot = w // max(1, len(objects))
    for i, (colour, shape) in enumerate(objects):
        side = rng.randint(36, min(56, slot - 8))
        x0 = i * slot + rng.randint(4, slot - side - 4)
        y0 = rng.randint(8, h - side - 8 - (40 if sign else 0))
        scene["objects"].append({"colour": colour, "shape": shape, "box": (x0, y0, x0 + side, y0 + side)})
    if sign:
        scene["sign"] = (sign, 8, h - 36, 4)
    return scene


def region(scene, obj):
    """The DualFocus region text of an object: [x0, y0, x1, y1] normalised, 2 decimals."""
    x0, y0, x1, y1 = obj["box"]
    w, h = scene["width"], scene["height"]
    return "[%.2f, %.2f, %.2f, %.2f]" % (x0 / w, y0 / h, x1 / w, y1 / h)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))


def jsonl(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


SCENES = {
    "s1": make_scene(11, [("red", "circle"), ("blue", "square")]),
    "s2": make_scene(12, [("green", "triangle"), ("green", "circle"), ("green", "star")]),
    "s3": make_scene(13, [("yellow", "star")], sign="42"),
    "s4": make_scene(14, [("purple", "square"), ("orange", "circle")], sign="7"),
}


# ---- TextVQA: llava_textvqa_val_v051_ocr.jsonl + TextVQA_0.5.1_val.json + train_images/ ----

def textvqa(out):
    d = os.path.join(out, "textvqa")
    ids = {k: "%016x" % (0x5eed0000 + i) for i, k in enumerate(SCENES)}
    s1, s2 = SCENES["s1"], SCENES["s2"]
    cases = [  # scene, question, OCR tokens, 10 answers (as annotators write them)
        ("s1", "What color is the object in %s?" % region(s1, s1["objects"][0]), [],
         ["red", "red", "Red", "red.", "red", "dark red", "red", "red", "red", "the red one"]),
        ("s2", "How many circles are there?", [],
         ["1", "one", "1", "1", "One.", "1", "a circle", "1", "1", "1"]),
        ("s3", "what number is written on the sign?", ["42"],
         ["42", "42", "forty two", "42", "42", "42.", "42", "the number 42", "42", "4 2"]),
        ("s4", "what number is on the sign?", ["7"],
         ["7", "seven", "7", "7", "Seven", "7", "7", "7", "number 7", "7"]),
        ("s2", "What shape is the object in %s?" % region(s2, s2["objects"][2]), [],
         ["star", "star", "a star", "star", "Star", "green star", "star", "star", "stars", "star"]),
    ]
    data, lines = [], []
    for n, (key, question, ocr, answers) in enumerate(cases):
        scene, image_id = SCENES[key], ids[key]
        text = question + ("\nReference OCR token: " + ", ".join(ocr) if ocr else "") + "\n" + SHORT_ANSWER
        lines.append({"question_id": image_id, "image": image_id + ".png", "text": text,
                      "category": "default"})
        data.append({"question": question, "image_id": image_id, "image_classes": ["Shape"],
                     "flickr_original_url": "", "flickr_300k_url": "",
                     "image_width": scene["width"], "image_height": scene["height"],
                     "answers": answers, "question_tokens": question.rstrip("?").lower().split(),
                     "question_id": 900000 + n, "set_name": "val"})
    for key, image_id in ids.items():
        write(os.path.join(d, "train_images", image_id + ".png"), render(SCENES[key]))
    write(os.path.join(d, "llava_textvqa_val_v051_ocr.jsonl"), jsonl(lines))
    write(os.path.join(d, "TextVQA_0.5.1_val.json"), json.dumps(
        {"dataset_type": "val", "dataset_name": "textvqa", "dataset_version": "0.5.1", "data": data}))


# ---- GQA-MCQ: llava_gqa_testdev_balanced_mcq.jsonl + data/testdev_balanced_questions.json ----

def gqa(out):
    d = os.path.join(out, "gqa-mcq")
    names = {k: "n%06d" % (500 + i) for i, k in enumerate(SCENES)}
    s1, s4 = SCENES["s1"], SCENES["s4"]
    cases = [  # scene, question, options, answer, structural type, semantic type
        ("s1", "What color is the object in %s?" % region(s1, s1["objects"][1]), ["red", "blue"],
         "blue", "query", "attr"),
        ("s1", "Is there a red circle in the image?", ["no", "yes"], "yes", "verify", "obj"),
        ("s2", "How many stars are there?", ["1", "2", "3"], "1", "query", "obj"),
        ("s4", "What shape is the object in %s?" % region(s4, s4["objects"][1]),
         ["square", "circle", "triangle", "star"], "circle", "query", "attr"),
        ("s4", "What color is the object in %s?" % region(s4, s4["objects"][0]),
         ["orange", "purple"], "purple", "choose", "attr"),
    ]
    lines, questions = [], {}
    for n, (key, q, options, answer, structural, semantic) in enumerate(cases):
        qid = str(20260000 + n)
        question = q + "".join("\n%s. %s" % (chr(65 + k), o) for k, o in enumerate(options))
        lines.append({"question_id": qid, "image": names[key] + ".png", "question": question})
        questions[qid] = {
            "semantic": [], "entailed": [], "equivalent": [qid], "question": q,
            "imageId": names[key], "isBalanced": True, "groups": {"global": None, "local": None},
            "answer": answer, "semanticStr": "", "annotations": {"answer": {}, "question": {}, "fullAnswer": {}},
            "types": {"detailed": semantic, "semantic": semantic, "structural": structural},
            "fullAnswer": answer.capitalize() + "."}
    for key, name in names.items():
        write(os.path.join(d, "data", "images", name + ".png"), render(SCENES[key]))
    write(os.path.join(d, "llava_gqa_testdev_balanced_mcq.jsonl"), jsonl(lines))
    write(os.path.join(d, "data", "testdev_balanced_questions.json"), json.dumps(questions))


# ---- SEED-Bench image: llava-seed-bench-image.jsonl + SEED-Bench.json + SEED-Bench-image/ ----

SEED_TYPES = {"Scene Understanding": 1, "Instance Identity": 2, "Instance Attributes": 3,
              "Instance Location": 4, "Instances Counting": 5, "Spatial Relation": 6,
              "Instance Interaction": 7, "Visual Reasoning": 8, "Text Understanding": 9,
              "Action Recognition": 10, "Action Prediction": 11, "Procedure Understanding": 12}


def seed(out):
    d = os.path.join(out, "seed")
    ids = {k: "%d_%d" % (7000 + i, 31337 + i) for i, k in enumerate(SCENES)}
    s1, s2 = SCENES["s1"], SCENES["s2"]
    cases = [  # scene, question, 4 options, answer letter, question type
        ("s1", "What color is the object in %s?" % region(s1, s1["objects"][0]),
         ["green", "red", "yellow", "purple"], "B", "Instance Attributes"),
        ("s2", "How many triangles are there?", ["3", "2", "1", "0"], "C", "Instances Counting"),
        ("s2", "What shape is the object in %s?" % region(s2, s2["objects"][1]),
         ["square", "star", "triangle", "circle"], "D", "Instance Identity"),
        ("s3", "What number is written on the sign?", ["24", "42", "7", "12"], "B", "Text Understanding"),
        ("s4", "Is there a purple square in the image?", ["Yes", "No", "Only a circle", "Only a star"],
         "A", "Instance Attributes"),
    ]
    lines, questions = [], []
    for n, (key, q, options, answer, qtype) in enumerate(cases):
        qid = str(101000 + n)
        text = q + "".join("\n%s. %s" % (chr(65 + k), o) for k, o in enumerate(options)) + "\n" + LETTER_HINT
        lines.append({"image": "SEED-Bench-image/%s.png" % ids[key], "text": text, "category": qtype,
                      "question_id": qid})
        questions.append({"answer": answer, "choice_a": options[0], "choice_b": options[1],
                          "choice_c": options[2], "choice_d": options[3], "data_id": ids[key] + ".png",
                          "data_type": "image", "question": q, "question_id": qid,
                          "question_type_id": SEED_TYPES[qtype]})
    # A video question, as SEED-Bench.json holds them; the image part leaves it out.
    questions.append({"answer": "A", "choice_a": "waving", "choice_b": "running", "choice_c": "sitting",
                      "choice_d": "jumping", "data_id": "v_0001.mp4", "data_type": "video",
                      "question": "What is the person doing?", "question_id": "900001",
                      "question_type_id": 10, "segment": [0, 1]})
    for key, name in ids.items():
        write(os.path.join(d, "SEED-Bench-image", name + ".png"), render(SCENES[key]))
    write(os.path.join(d, "llava-seed-bench-image.jsonl"), jsonl(lines))
    write(os.path.join(d, "SEED-Bench.json"), json.dumps({"question_type": SEED_TYPES, "questions": questions}))


# ---- MMBench dev: mmbench_dev_20230712.tsv, base64 images, rotated copies ----------------

def mmbench(out):
    d = os.path.join(out, "mmbench")
    s1, s2, s4 = SCENES["s1"], SCENES["s2"], SCENES["s4"]
    questions = [  # scene, hint, question, options, answer, category, l2-category
        ("s1", "", "What color is the object in %s?" % region(s1, s1["objects"][0]), ["red", "green"], "A",
         "attribute_recognition", "finegrained_perception (instance-level)"),
        ("s2", "The shapes in the image are all the same colour.", "Which colour are the shapes?",
         ["orange", "green"], "B", "attribute_recognition", "finegrained_perception (instance-level)"),
        ("s4", "", "What shape is the object in %s?" % region(s4, s4["objects"][1]),
         ["square", "triangle", "circle", "star"], "C", "object_localization",
         "finegrained_perception (instance-level)"),
    ]
    cols = ["index", "question", "hint", "A", "B", "C", "D", "answer", "category", "image", "source",
            "l2-category", "comment", "split"]
    rows = ["\t".join(cols)]
    for i, (key, hint, q, options, answer, category, l2) in enumerate(questions):
        image = base64.b64encode(render(SCENES[key])).decode("ascii")
        for k in range(len(options)):  # copy k: options rotated k places, index i + k * 1e6
            rotated = options[k:] + options[:k]
            letter = chr(65 + rotated.index(options[ord(answer) - 65]))
            opts = rotated + [""] * (4 - len(rotated))
            rows.append("\t".join([str(i + k * 1000000), q, hint] + opts +
                                  [letter, category, image, "regionchat-synth", l2, "", "dev"]))
    write(os.path.join(d, "mmbench_dev_20230712.tsv"), "\n".join(rows) + "\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "resources", "samples", "benchmarks")
    for make in (textvqa, gqa, seed, mmbench):
        make(out)


if __name__ == "__main__":
    main()
