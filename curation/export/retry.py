"""``--retry-failed``: which tars to redo, and the samples of an earlier attempt that a retry
would not change (kept as they were, their members copied from the old tar)."""




from curation.core.io import exists, join, read_parquet
from curation.export.policy import Fetched
from curation.export.wds import TarWriter, UniqueKeys


class Reused:
    """A sample kept from the previous attempt at a tar (``--retry-failed``): its status
    record as it was, and (a success) its members copied from the old tar."""

    def __init__(self, record: dict):
        self.record = record

    def copy_into(self, tar: TarWriter, unique: UniqueKeys, old: "OldTar") -> dict:
        unique(self.record["source_key"])  # keeps the later keys as they were
        if self.record["status"] == "success":
            for name, data in old.members_of(self.record["key"]):
                tar.add(name, data)
        return self.record


class OldTar:
    """The previous attempt's tar, read as a stream: its samples come in the same order as
    the rows that reuse them, so one member is held at a time."""

    def __init__(self, url: str):
        import tarfile

        from curation.core.io import get_fs

        fs, path = get_fs(url)
        self._file = fs.open(path, "rb")
        self._tar = tarfile.open(fileobj=self._file, mode="r|")
        self._members = iter(self._tar)
        self._tar_next = None

    def members_of(self, key: str) -> list[tuple[str, bytes]]:
        found = []
        while True:
            member = self._tar_next or next(self._members, None)
            self._tar_next = None
            if member is None:
                return found
            name_key = member.name.split(".", 1)[0]
            if name_key != key:
                if found:  # the next sample starts: keep its first member for later
                    self._tar_next = member
                    return found
                continue  # a member of a sample this retry replaces: skipped
            found.append((member.name, self._tar.extractfile(member).read()))

    def close(self) -> None:
        self._file.close()


def previous_attempt(out_dir: str, name: str) -> dict | None:
    """Row index -> ``Reused`` for every sample of an earlier attempt at this tar that a
    retry would not change (successes, and failures that are not retryable)."""
    status_url, tar_url = join(out_dir, f"{name}.parquet"), join(out_dir, f"{name}.tar")
    if not (exists(status_url) and exists(tar_url)):
        return None
    kept = {}
    for i, record in enumerate(read_parquet(status_url).to_pylist()):
        if "retryable" not in record or record["retryable"] is None:
            record["retryable"] = Fetched(None, record["status"], record["error_message"] or "").retryable
        if not record["retryable"]:
            kept[i] = Reused(record)
    return kept


def retry_candidates(out_dir: str, names: list[str]) -> list[str]:
    """The tars of an export whose status lists a sample a retry could change."""
    found = []
    for name in names:
        url = join(out_dir, f"{name}.parquet")
        if not exists(url):
            continue
        table = read_parquet(url)
        if "retryable" in table.column_names:
            retry = any(table["retryable"].to_pylist())
        else:
            retry = any(Fetched(None, r["status"], r["error_message"] or "").retryable for r in table.to_pylist())
        if retry:
            found.append(name)
    return found
