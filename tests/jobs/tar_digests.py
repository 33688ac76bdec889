"""A stage after export for the registry test: the whole of what it takes (this file, and one
line: ``REGISTRY.register(TarDigests)``); it gets ``curate tar-digests`` with its flags."""

import hashlib
import tarfile
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

from curation.core.config import lineage as lineage_of
from curation.core.config import opt
from curation.core.io import join, list_files, open_read
from curation.core.layout import shard_name
from curation.core.shards import Shard, ShardOutput, ShardStage


@dataclass(kw_only=True)
class TarDigestsConfig:
    SECTION: ClassVar[str] = "tar_digests"
    export: str = opt(help="folder of exported NNNNN.tar", path=True)
    out: str = opt(help="folder for one <tar>.parquet of member digests per tar", path=True)
    algorithm: str = opt("sha256", "hashlib algorithm of the digests", lineage=True)
    overwrite: bool = opt(False, "discard earlier outputs")


class TarDigests(ShardStage):
    """Digest every member of every exported tar."""

    name = "tar-digests"
    phase = "after-export"
    rows_key = "members"
    Config = TarDigestsConfig

    def __init__(self, out_dir: str, params: dict, export: str):
        super().__init__(out_dir, params)
        self.export = export

    @classmethod
    def from_config(cls, config: TarDigestsConfig) -> "TarDigests":
        return cls(config.out, lineage_of(config), config.export)

    def inputs(self) -> dict:
        return {"export": self.export}

    def plan(self) -> list[Shard]:
        return [Shard(shard_name(i), url, i) for i, url in enumerate(list_files(self.export, (".tar",)))]

    def process(self, shard: Shard) -> ShardOutput:
        names, digests = [], []
        with open_read(shard.source) as f, tarfile.open(fileobj=f, mode="r|") as tar:
            for member in tar:
                if member.isfile():
                    names.append(member.name)
                    digests.append(hashlib.new(self.params["algorithm"], tar.extractfile(member).read()).hexdigest())
        table = pa.table({"member": names, "digest": digests})
        return ShardOutput({join(self.out_dir, f"{shard.name}.parquet"): table}, {"members": len(names)})
