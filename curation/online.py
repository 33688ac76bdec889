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

from curation.balancing import keep_probability
from curation.hashing import MASK64, coin, splitmix64
from curation.io import join, read_bytes

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
