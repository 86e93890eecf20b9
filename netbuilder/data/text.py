"""The built-in review corpus and the text pipeline: tokenize -> numericalize -> pad.

The sentences are generated from templates with a fixed seed, so every install has the same
corpus without shipping a data file. A few sentences negate an adjective ("not bad",
"not great"), so word order matters and a bag of words is not quite enough.
"""
from __future__ import annotations

import random
import re
from collections import Counter

PAD, UNK = "<pad>", "<unk>"  # ids 0 and 1

SUBJECTS = ["the movie", "this film", "the plot", "the acting", "the story", "the ending",
            "the soundtrack", "the cast", "the director's work", "the dialogue", "the camera work",
            "this sequel", "the script", "the lead actor", "the visual effects", "the pacing",
            "the book", "this show", "the finale", "the characters"]
POSITIVE = ["great", "wonderful", "brilliant", "moving", "funny", "beautiful", "excellent",
            "charming", "gripping", "delightful", "clever", "superb", "touching", "fantastic",
            "enjoyable", "fresh", "stunning", "memorable"]
NEGATIVE = ["boring", "awful", "dull", "terrible", "messy", "weak", "predictable", "bland",
            "painful", "clumsy", "forgettable", "silly", "tedious", "poor", "annoying",
            "confusing", "lazy", "flat"]
ADVERBS = ["really", "truly", "quite", "very", "so", "pretty", "absolutely", "rather", ""]
POS_TAILS = ["i loved it", "highly recommended", "i would watch it again", "a real treat",
             "worth every minute", "ten out of ten", "my friends loved it too", ""]
NEG_TAILS = ["i hated it", "avoid it", "a waste of time", "i want my money back",
             "i almost fell asleep", "one star", "never again", ""]
TEMPLATES = ["{s} was {a} {adj}", "{s} is {a} {adj} , {tail}", "i thought {s} was {adj}",
             "{adj} ! {s} felt {a} {adj2}", "what a {adj} experience , {tail}",
             "honestly {s} was {a} {adj} and {adj2}", "{s} was not {opp} , it was {adj}",
             "{tail} . {s} is {adj}"]


def reviews(n: int = 600, seed: int = 1234) -> list[tuple[str, int]]:
    """`n` (sentence, label) pairs, label 1 = positive, balanced and deterministic."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        label = i % 2
        words, other = (POSITIVE, NEGATIVE) if label else (NEGATIVE, POSITIVE)
        tails = POS_TAILS if label else NEG_TAILS
        text = rng.choice(TEMPLATES).format(
            s=rng.choice(SUBJECTS), a=rng.choice(ADVERBS), adj=rng.choice(words),
            adj2=rng.choice(words), opp=rng.choice(other), tail=rng.choice(tails))
        out.append((" ".join(text.split()), label))
    rng.shuffle(out)
    return out


_TOKEN = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def build_vocab(token_lists, max_size: int) -> dict[str, int]:
    """Most frequent tokens first (ties alphabetical, so it is stable); ids 0 and 1 are the
    padding and unknown tokens."""
    counts = Counter(t for tokens in token_lists for t in tokens)
    ranked = sorted(counts, key=lambda t: (-counts[t], t))[:max(0, max_size - 2)]
    return {PAD: 0, UNK: 1, **{t: i + 2 for i, t in enumerate(ranked)}}


def numericalize(tokens: list[str], vocab: dict[str, int]) -> list[int]:
    return [vocab.get(t, 1) for t in tokens]


def pad(ids: list[int], length: int) -> list[int]:
    """Keep the last `length` ids and pad on the left: a recurrent layer that reports its
    last step then ends on real words, not on padding."""
    ids = ids[-length:]
    return [0] * (length - len(ids)) + ids
