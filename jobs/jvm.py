"""Start-up options of the driver JVM that a command starts itself (``local[*]`` and client-mode
runs outside ``spark-submit``): most of a small run's fixed cost is that JVM starting.

- ``-XX:TieredStopAtLevel=1``: the JVM only schedules tasks and carries their small results
  (the data stays in Python tasks), so its optimising compiler buys nothing and, on a
  machine with few cores, takes CPU from the tasks (measured: about 0.8 s off the session's
  start, and the Spark run's marginal rate 0.73x -> 0.83x of the local executor's).
- A class-data-sharing archive of Spark's classes (AppCDS): the first run on a machine dumps
  the classes it loaded when its JVM exits; later runs map them instead of loading and
  verifying them from the jars (about 1.5-2 s off the session's start).

The archive lives in the private cache folder (``CURATION_CACHE``, the matcher indexes'
folder), keyed by the pyspark version and the JVM's build. A JVM maps an archive that is
cut short and dies, so an archive is used only once it is whole: the dump goes to a
temporary name beside the JVM's process id, and is moved into place by a later run only
when that process has ended; its size is recorded then and checked at every use. A session
that still fails to start with it is started again without it, and the archive is removed.

``CURATION_SPARK_CDS=0`` turns the archive off; a ``spark.driver.extraJavaOptions`` given in
``--conf`` replaces these options altogether.
"""

import glob
import hashlib
import json
import logging
import os
import shutil
import uuid

log = logging.getLogger("curate")
OPTION = "spark.driver.extraJavaOptions"
_QUIET = "-Xshare:auto -Xlog:cds=off -Xlog:cds+dynamic=off"


def _jvm_identity() -> str:
    """The pyspark version and the JVM build an archive belongs to (a dynamic archive is only
    valid for the exact JVM that dumped it, and for the same Spark jars)."""
    import pyspark

    java_home = os.environ.get("JAVA_HOME")
    java = os.path.join(java_home, "bin", "java") if java_home else shutil.which("java") or "java"
    real = os.path.realpath(java)
    libjvm = glob.glob(os.path.join(os.path.dirname(os.path.dirname(real)), "lib", "server", "libjvm.so"))
    stamp = [(p, os.stat(p).st_size, int(os.stat(p).st_mtime)) for p in libjvm + [real] if os.path.exists(p)]
    return hashlib.sha256(json.dumps([pyspark.__version__, stamp]).encode()).hexdigest()[:16]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ClassArchive:
    """The AppCDS archive of this machine's Spark driver JVM (see the module's docstring)."""

    def __init__(self, folder: str):
        self.folder = folder
        self.final = os.path.join(folder, f"spark-{_jvm_identity()}.jsa")
        self.part: str | None = None

    def _record(self) -> str:
        return self.final + ".json"

    def usable(self) -> bool:
        """Whether the archive is whole: moved into place by a run after its JVM ended, with
        the size recorded then."""
        try:
            with open(self._record()) as f:
                return os.path.getsize(self.final) == json.load(f)["bytes"]
        except (OSError, ValueError, KeyError):
            return False

    def promote(self) -> None:
        """Move a finished dump into place (one whose JVM has ended); drop dead dumps' leftovers."""
        for part in glob.glob(self.final + ".*.part"):
            pid_file = part + ".pid"
            try:
                with open(pid_file) as f:
                    pid = int(f.read().strip())
            except (OSError, ValueError):
                pid = None
            if pid is not None and _alive(pid):
                continue  # still dumping (or still running)
            if pid is not None and os.path.getsize(part) > 0 and not self.usable():
                size = os.path.getsize(part)
                os.replace(part, self.final)
                with open(self._record() + ".tmp", "w") as f:
                    json.dump({"bytes": size}, f)
                os.replace(self._record() + ".tmp", self._record())
            for leftover in (part, pid_file):
                if os.path.exists(leftover):
                    os.unlink(leftover)
        for pid_file in glob.glob(self.final + ".*.part.pid"):  # a dump that never began
            if not os.path.exists(pid_file[: -len(".pid")]):
                try:
                    alive = _alive(int(open(pid_file).read().strip()))
                except (OSError, ValueError):
                    alive = False
                if not alive:
                    os.unlink(pid_file)

    def options(self) -> str:
        """The JVM options of a session starting now: map the archive, or dump one at exit."""
        self.promote()
        # A JVM that dies (an archive it cannot map) leaves its crash report here, not in the
        # working folder.
        quiet = f"{_QUIET} -XX:ErrorFile={os.path.join(self.folder, 'hs_err_pid%p.log')}"
        if self.usable():
            return f"-XX:SharedArchiveFile={self.final} {quiet}"
        self.part = f"{self.final}.{uuid.uuid4().hex}.part"
        return f"-XX:ArchiveClassesAtExit={self.part} {quiet}"

    def started(self, spark) -> None:
        """Record the JVM's process id beside its dump, so that a later run knows when it ended."""
        if self.part is None:
            return
        try:
            pid = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
        except Exception:  # noqa: BLE001 - without the pid the dump is never promoted, only cleaned up
            return
        with open(self.part + ".pid", "w") as f:
            f.write(str(pid))

    def discard(self) -> None:
        """Remove the archive (a session failed to start with it)."""
        for path in (self.final, self._record()):
            if os.path.exists(path):
                os.unlink(path)


def archive() -> ClassArchive | None:
    """This machine's class archive, or None when it is turned off or the cache is not ours."""
    if os.environ.get("CURATION_SPARK_CDS", "1") == "0":
        return None
    from curation.core.errors import CurationError
    from curation.matching.cache import cache_dir, private_folder

    try:
        return ClassArchive(private_folder(cache_dir()))
    except (CurationError, OSError) as exc:
        log.debug("no Spark class archive: %s", exc)
        return None


def driver_options(conf: dict, cds: ClassArchive | None) -> dict:
    """``conf`` with the driver JVM's start-up options, unless it names its own."""
    if OPTION in conf:
        return conf
    extra = "-XX:TieredStopAtLevel=1" + (f" {cds.options()}" if cds is not None else "")
    return {**conf, OPTION: extra}
