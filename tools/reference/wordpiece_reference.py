#!/usr/bin/env python3
"""WordPiece reference: transformers' own BertTokenizer (slow: BasicTokenizer + WordPiece,
do_lower_case) with [DEC] added as the BOS token, as LAVIS' Q-Former tokenizer (RegionVLM) has it,
on a vocabulary written here (bert-base-uncased's vocab.txt cannot be downloaded: no model hub)
and a few hundred strings: questions, RegionVLM's point strings, punctuation, accents, CJK,
control characters, over-long words, [DEC] inside the text. Writes tests/reference/wordpiece/
vocab.txt and cases.json (text -> ids without [CLS]/[SEP]); test_tokenizer compares rc::WordPiece.

    /work/venv-pargo/bin/python tools/reference/wordpiece_reference.py
"""
import json
import random
import string
from pathlib import Path

import transformers
from transformers import BertTokenizer

out = Path(__file__).resolve().parents[2] / "tests/reference/wordpiece"
out.mkdir(parents=True, exist_ok=True)
words = ("the a an is are what where which who how many of in on at to and or this that there "
         "red green blue yellow orange purple circle square triangle star shape shapes object "
         "region left right top bottom image picture point points color colour describe "
         "question answer let be cafe resume naive").split()
subwords = ["##s", "##ing", "##ed", "##er", "##le", "##al", "##ion", "##ions", "##ly", "##es",
            "un", "##able", "re", "##gion", "##tion", "##ne", "##ss", "##t"]
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
vocab += list(string.ascii_lowercase) + list(string.digits) + list(string.punctuation)
vocab += ["##" + c for c in string.ascii_lowercase + string.digits]
vocab += [str(i) for i in range(10, 100)] + ["##" + str(i) for i in range(10, 100)]
vocab += words + subwords + ["中", "国", "é", "ñ", "ł", "ø", "æ", "ß", "¿", "«", "»", "—", "…"]
seen, ordered = set(), []
for v in vocab:
    if v not in seen:
        seen.add(v)
        ordered.append(v)
(out / "vocab.txt").write_text("\n".join(ordered) + "\n", encoding="utf-8")
tok = BertTokenizer(str(out / "vocab.txt"), do_lower_case=True)
tok.add_special_tokens({"bos_token": "[DEC]"})

rng = random.Random(7)
texts = [
    "What is the colour of the region?", "Where is the red circle?", "[12 34] [56 7] [0 99]",
    "Describe the region [3 5] [10 20] [33 44] [50 60] [70 80] [90 91] [95 98].",
    "Café, résumé, naïve!", "ÑANDÚ Łódź Ørsted ÆØÅ straße", "¿Qué? «Oui» — non…", "中国的 red 国",
    "tab\there\nnew line\r\nend", "zero\u200bwidth and soft\u00adhyphen", "ctrl\x07bell\x00nul",
    "x" * 101, "a" + "b" * 99, "unable rebellion questions", "[DEC] Let [1] be [DEC]",
    "Question: how many shapes? Short answer:", "  leading and trailing  ", "", "   ",
    "ÀÉÎÕÜ àéîõü Ç ç Ÿ ÿ", "Ğ ğ İ ı Ş ş", "Ā ā Ē ē Ī ī Ō ō Ū ū", "ĀĒĪŌŪ—ĀĒĪŌŪ", "1.5 2,000 3:4 (5) {6}",
    "e-mail self-driving don't it's", "@#$%^&*+=~`|\\/<>", "[MASK] [CLS] [SEP] [UNK]",
]
for _ in range(280):
    n = rng.randint(1, 7)
    pts = " ".join(f"[{rng.randint(0, 99)} {rng.randint(0, 99)}]" for _ in range(n))
    q = rng.choice(["", "what is in ", "Describe ", "Where is "]) + pts
    if rng.random() < 0.3:
        q += rng.choice(["?", ".", "!", " [DEC]", " Café", " ÉTÉ"])
    texts.append(q)
cases = [{"text": t, "ids": tok.encode(t, add_special_tokens=False),
          "tokens": tok.tokenize(t)} for t in texts]
(out / "cases.json").write_text(json.dumps(
    {"transformers": transformers.__version__, "dec_id": tok.convert_tokens_to_ids("[DEC]"),
     "cases": cases}, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
print(f"wrote {out}: {len(ordered)} tokens, {len(cases)} cases")
