"""The command runner: the driver routine of every shard stage, written once.

``drive`` is what each stage command does around its stage: discard earlier outputs on
``--overwrite``, plan the shards, claim the folder's manifest (refusing outputs made with
other parameters), and hand the shards to the executor, which resumes the done ones.
``stage_command`` is a whole command for a registered stage that runs over another stage's
folder (``curation.registry``): its config, its stage, an executor, and its summary.
"""

import json
import sys

from curation.core.io import check_output_folder, join, remove, write_json_atomic
from curation.core.shards import ShardStage, StageRun


def drive(executor, stage: ShardStage, *, overwrite: bool = False, info: dict | None = None,
          description: str | None = None, before=None) -> StageRun:
    """Run every shard of ``stage`` on ``executor`` (see the module's docstring);
    ``before(shards)`` runs once the folder is claimed (the per-image choice of balance)."""
    if overwrite:
        remove(stage.out_dir)
    shards = stage.plan()
    stage.claim({"shards": len(shards), "shard_names": [s.name for s in shards], **(info or {})})
    if before is not None:
        before(shards)
    return executor.run_stage(stage, shards, description)


def run_stage_command(stage: ShardStage, executor, overwrite: bool = False, info: dict | None = None) -> dict:
    """Check the output folder, drive the stage, write and return its summary."""
    check_output_folder(stage.out_dir, **stage.inputs())
    summary = stage.summary(drive(executor, stage, overwrite=overwrite, info=info))
    write_json_atomic(join(stage.out_dir, stage.stats_file), summary)
    return summary


def stage_command(cfg: dict, executor, name: str) -> int:
    """``curate NAME`` for a registered stage class with a ``Config`` and ``from_config``."""
    from curation.registry import REGISTRY

    cls = REGISTRY.named(name)
    config = cfg[cls.Config.SECTION]
    summary = run_stage_command(cls.from_config(config), executor, getattr(config, "overwrite", False))
    sys.stdout.write(json.dumps(summary) + "\n")
    return 0
