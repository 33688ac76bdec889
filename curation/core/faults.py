"""Fault injection for resilience tests and drills, off unless ``CURATION_FAULTS`` is set.
The shard-stage skeleton (``curation.core.shards``) runs them before a shard's work.

``CURATION_FAULTS`` is a ``;``-separated list of:
  ``fail-once:STAGE:SHARD:DIR``  the task of SHARD in STAGE fails the first time it runs
                                 (a marker file in DIR remembers it), so Spark retries it;
  ``delay:STAGE:SECONDS``        every task of STAGE sleeps first (to widen a kill window).
The driver reads it and ships it with the tasks, so executors need not have it set.
"""

import os
import time
from dataclasses import dataclass, field


class InjectedFault(RuntimeError):
    """The failure ``fail-once`` raises."""


@dataclass(frozen=True)
class Faults:
    fail_once: tuple = ()
    delays: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> "Faults":
        fail, delays = [], {}
        for spec in filter(None, os.environ.get("CURATION_FAULTS", "").split(";")):
            kind, _, rest = spec.partition(":")
            if kind == "fail-once":
                stage, shard, folder = rest.split(":", 2)
                fail.append((stage, shard, folder))
            elif kind == "delay":
                stage, seconds = rest.split(":")
                delays[stage] = float(seconds)
            else:
                raise ValueError(f"CURATION_FAULTS: unknown fault {spec!r}")
        return cls(tuple(fail), delays)

    def before(self, stage: str, shard: str) -> None:
        """Run the faults that apply to ``shard`` of ``stage`` (in the task, before its work)."""
        if stage in self.delays:
            time.sleep(self.delays[stage])
        for fault_stage, fault_shard, folder in self.fail_once:
            if (fault_stage, fault_shard) == (stage, shard):
                marker = os.path.join(folder, f"failed-{stage}-{shard}")
                if not os.path.exists(marker):
                    os.makedirs(folder, exist_ok=True)
                    open(marker, "w").close()
                    raise InjectedFault(f"injected failure of {stage} shard {shard}")
