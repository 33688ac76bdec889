"""Writing WebDataset tars: safe, unique member names and deterministic tar headers."""

import io
import re
import tarfile

_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


def safe_key(key: str) -> str:
    """A tar-member-safe sample key: no ``/``, no ``..``, no leading dot, and no ``.`` at all
    (WebDataset splits a member name at its first dot into key and extension)."""
    cleaned = _UNSAFE.sub("_", key).lstrip("_-") or "sample"
    return cleaned[:200]


class UniqueKeys:
    """Hands out safe keys, adding ``-1``, ``-2``, ... so two samples never share one."""

    def __init__(self):
        self.used: set[str] = set()

    def __call__(self, key: str) -> str:
        base = candidate = safe_key(key)
        n = 0
        while candidate in self.used:
            n += 1
            candidate = f"{base}-{n}"
        self.used.add(candidate)
        return candidate


class TarWriter:
    """Adds members with fixed metadata (mtime 0, root owner), so identical input gives
    byte-identical tars."""

    def __init__(self, fileobj):
        self.tar = tarfile.open(fileobj=fileobj, mode="w", format=tarfile.GNU_FORMAT)

    def add(self, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 0, 0o644, "root", "root"
        self.tar.addfile(info, io.BytesIO(data))

    def close(self) -> None:
        self.tar.close()
