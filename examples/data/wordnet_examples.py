#!/usr/bin/env python3
"""Writes wordnet-eval.jsonl, wordnet-calib.jsonl and wordnet-train.jsonl: usage examples from WordNet 3.0 (Debian
`wordnet-base`).

The second text source of examples/data (README.md there): everyday English usage, where the sentences-*.jsonl files
are Python documentation. Deterministic: the same package gives the same files.

    apt-get install wordnet-base && python3 examples/data/wordnet_examples.py
"""
import json
import random
import re
import sys
from pathlib import Path

WORDNET = Path("/usr/share/wordnet")
OUT = Path(__file__).resolve().parent
EVAL, CALIB, TRAIN = 640, 320, 24000
# letters, digits, spaces and plain punctuation only: no quotes, brackets, slashes or ellipses
PLAIN = re.compile(r"[A-Za-z0-9 ,;:'!?.-]+")


def examples():
    """The quoted usage examples after each synset's gloss, in file order."""
    for part in ("noun", "verb", "adj", "adv"):
        with open(WORDNET / f"data.{part}", encoding="latin-1") as lines:
            for line in lines:
                if line.startswith("  "):  # the licence header
                    continue
                gloss = line.split(" | ", 1)
                if len(gloss) == 2:
                    yield from (e.strip() for e in re.findall(r'"([^"]+)"', gloss[1]))


def trigrams(sentence):
    words = sentence.lower().split()
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def main():
    candidates, seen = [], set()
    for sentence in examples():
        if not (5 <= len(sentence.split()) <= 60) or not PLAIN.fullmatch(sentence) or ".." in sentence:
            continue
        if sentence.lower() not in seen:
            seen.add(sentence.lower())
            candidates.append(sentence)
    random.Random(20).shuffle(candidates)
    # near-duplicates dropped as for sentences-*.jsonl: same first five words, or more than 40% shared word trigrams
    # (only kept sentences sharing a trigram can share more than 40%: an index of them keeps this linear)
    kept, openings, by_trigram = [], set(), {}
    for sentence in candidates:
        opening = tuple(sentence.lower().split()[:5])
        grams = trigrams(sentence)
        sharing = {i for gram in grams for i in by_trigram.get(gram, ())}
        if opening in openings or any(len(grams & kept[i][1]) > 0.4 * len(grams | kept[i][1]) for i in sharing):
            continue
        openings.add(opening)
        for gram in grams:
            by_trigram.setdefault(gram, []).append(len(kept))
        kept.append((sentence, grams))
        if len(kept) == EVAL + CALIB + TRAIN:
            break
    if len(kept) < EVAL + CALIB + 6000:
        sys.exit(f"only {len(kept)} sentences survived the filter, {EVAL + CALIB + 6000} needed")
    # the sets are consecutive slices of one greedy pass, so eval and calib are the same whatever TRAIN is
    for name, part in (("wordnet-eval.jsonl", kept[:EVAL]), ("wordnet-calib.jsonl", kept[EVAL:EVAL + CALIB]),
                       ("wordnet-train.jsonl", kept[EVAL + CALIB:])):
        with open(OUT / name, "w", encoding="ascii") as out:
            out.writelines(json.dumps({"text": s}) + "\n" for s, _ in part)
        print(f"{name}: {len(part)} sentences")


if __name__ == "__main__":
    main()
