"""Online balancing: re-draw the balance coin every epoch over all matched pairs.

MetaCLIP's best results come from storing every matched pair with its entry ids and
balancing while training, so head concepts show other examples each epoch. The stage keeps
a sample with probability ``1 - prod(1 - p[i])`` using the offline hash coin with the seed
mixed with the epoch (epoch 0 is the offline subset itself). It is a plain generator stage:
``OnlineBalancer(p, seed)(samples)``, usable in a webdataset pipeline
(``wds.DataPipeline(..., wds.decode(), balancer, ...)``) or any iterable dataset.
"""

import json
from collections.abc import Iterable, Iterator

import numpy as np

from curation.chain.balancing import keep_probability
from curation.core.hashing import MASK64, coin, splitmix64
from curation.core.io import join, read_bytes

PROBABILITIES = "probabilities.npy"


def epoch_seed(seed: int, epoch: int) -> int:
    """The coin seed of an epoch: ``seed`` itself for epoch 0, else
    ``splitmix64(seed ^ splitmix64(epoch))``."""
    return seed if epoch == 0 else splitmix64((seed & MASK64) ^ splitmix64(epoch & MASK64))


class OnlineBalancer:
    """Filters samples by their balance coin for one epoch; ``set_epoch`` moves on."""

    def __init__(self, p: np.ndarray, seed: int = 0, epoch: int = 0):
        self.p = np.asarray(p, dtype=np.float64)
        self.seed = seed
        self.set_epoch(epoch)

    @classmethod
    def from_export(cls, folder: str, seed: int = 0, epoch: int = 0) -> "OnlineBalancer":
        """Load ``probabilities.npy`` written by ``curate export --online``."""
        import io

        return cls(np.load(io.BytesIO(read_bytes(join(folder, PROBABILITIES)))), seed, epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self._seed = epoch_seed(self.seed, epoch)

    def keep(self, key: str, entry_ids) -> bool:
        return coin(self._seed, key) < keep_probability(list(entry_ids), self.p)

    def __call__(self, samples: Iterable[dict]) -> Iterator[dict]:
        for sample in samples:
            meta = _meta(sample)
            if self.keep(meta.get("key", sample.get("__key__")), meta["entry_ids"]):
                yield sample


def _meta(sample: dict) -> dict:
    meta = sample.get("json", sample)
    if isinstance(meta, (bytes, bytearray, str)):
        meta = json.loads(meta)
    return meta


# The caption coin is independent of the balance coin: its seed is salted.
_CAPTION_SALT = 0x5EED_CA97_10B5


class CaptionMixer:
    """MetaCLIP 1.2's caption mix as a loader stage: each sample trains on its synthetic
    caption (``syn.txt``) with probability ``syn_ratio`` and on its alt-text (``txt``)
    otherwise, decided by the hash coin ``H(seed', key)`` with ``seed'`` mixed with the
    epoch, so the mix is the same on every rerun and worker and re-drawn each epoch. A
    sample without a caption keeps its alt-text. Usable in a webdataset pipeline before
    decoding (``wds.DataPipeline(..., mixer, wds.decode(), ...)``) or on any iterable of
    sample dicts; ``epoch`` may be an int or an object with ``get_value()`` (open_clip's
    ``SharedEpoch``), read per sample."""

    def __init__(self, syn_ratio: float, seed: int = 0, epoch=0):
        if not 0 <= syn_ratio <= 1:
            raise ValueError(f"syn_ratio {syn_ratio!r}: must be in [0, 1]")
        self.syn_ratio, self.seed, self.epoch = syn_ratio, seed, epoch
        self.used = {"caption": 0, "alt_text": 0, "no_caption": 0}

    def set_epoch(self, epoch) -> None:
        self.epoch = epoch

    def _epoch(self) -> int:
        return int(self.epoch.get_value()) if hasattr(self.epoch, "get_value") else int(self.epoch)

    def use_caption(self, key: str, epoch: int | None = None) -> bool:
        """Whether sample ``key`` trains on its caption in ``epoch`` (default: the current one)."""
        seed = epoch_seed(splitmix64((self.seed ^ _CAPTION_SALT) & MASK64), self._epoch() if epoch is None else epoch)
        return coin(seed, key) < self.syn_ratio

    def apply(self, sample: dict) -> dict:
        """Put the chosen text in ``txt`` (in place; the alt-text stays in ``alt.txt``)."""
        caption = sample.get("syn.txt")
        if not caption:
            self.used["no_caption"] += 1
        elif self.use_caption(sample["__key__"]):
            sample["alt.txt"], sample["txt"] = sample.get("txt"), caption
            self.used["caption"] += 1
            return sample
        self.used["alt_text"] += 1
        return sample

    def __call__(self, samples: Iterable[dict]) -> Iterator[dict]:
        for sample in samples:
            yield self.apply(sample)
