"""A small character n-gram language model (Witten-Bell interpolation), the reference model
whose perplexity sets the filter weights. Characters, not words, so that it needs no
tokeniser and works for every script; a few MB of reference text is enough."""

import math
from collections import Counter

BOS, EOS = "\x02", "\x03"


class CharLM:
    """``CharLM(order).fit(texts)``; ``nll(text)`` is the text's negative log-likelihood in
    nats over its characters and the end mark (``len(text) + 1`` predictions)."""

    def __init__(self, order: int = 4):
        if order < 1:
            raise ValueError("order must be >= 1")
        self.order = order
        self.counts: list[Counter] = []  # counts[k][context + char], context of k characters
        self.context_totals: list[Counter] = []
        self.context_types: list[Counter] = []
        self.vocab = 0

    def fit(self, texts) -> "CharLM":
        n = self.order
        grams = [Counter() for _ in range(n)]
        for text in texts:
            padded = BOS * (n - 1) + text + EOS
            for k in range(n):
                grams[k].update(padded[i - k:i + 1] for i in range(n - 1, len(padded)))
        self.counts = grams
        self.context_totals = [Counter() for _ in range(n)]
        self.context_types = [Counter() for _ in range(n)]
        for k in range(n):
            totals, types = self.context_totals[k], self.context_types[k]
            for gram, c in grams[k].items():
                totals[gram[:-1]] += c
                types[gram[:-1]] += 1
        self.vocab = len(grams[0]) + 1  # seen characters and one for any unseen one
        return self

    def _prob(self, context: str, char: str) -> float:
        p = 1.0 / self.vocab
        for k in range(self.order):
            ctx = context[len(context) - k:] if k else ""
            total = self.context_totals[k].get(ctx, 0)
            if total:
                types = self.context_types[k][ctx]
                p = (self.counts[k].get(ctx + char, 0) + types * p) / (total + types)
        return p

    def nll(self, text: str) -> float:
        n = self.order
        padded = BOS * (n - 1) + text + EOS
        return -sum(math.log(self._prob(padded[i - n + 1:i], padded[i])) for i in range(n - 1, len(padded)))


def perplexity(nll: float, predictions: int) -> float:
    return math.exp(nll / predictions) if predictions else float("nan")
