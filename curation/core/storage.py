"""Object-store options (S3 and S3-compatible stores), handed to ``curation.core.io`` explicitly.

Options come from the usual AWS environment (``AWS_ENDPOINT_URL``/``AWS_ENDPOINT_URL_S3``,
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``,
``AWS_REGION``/``AWS_DEFAULT_REGION``), overridden by command-line flags for the non-secret
ones. A job hands the same object to its tasks, so executors that were started without
those variables reach the store too. Secrets never appear in ``repr``, logs or outputs.
"""

import os
from dataclasses import dataclass, fields

_SECRET_FIELDS = ("key", "secret", "token")


@dataclass(frozen=True)
class StorageOptions:
    """S3 connection settings; any field left ``None`` falls back to botocore's defaults."""

    endpoint_url: str | None = None
    key: str | None = None
    secret: str | None = None
    token: str | None = None
    profile: str | None = None
    region: str | None = None

    @classmethod
    def from_env(cls, endpoint_url: str | None = None, profile: str | None = None,
                 region: str | None = None) -> "StorageOptions":
        env = os.environ
        return cls(
            endpoint_url=endpoint_url or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL"),
            key=env.get("AWS_ACCESS_KEY_ID"), secret=env.get("AWS_SECRET_ACCESS_KEY"),
            token=env.get("AWS_SESSION_TOKEN"), profile=profile or env.get("AWS_PROFILE"),
            region=region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"))

    def s3_kwargs(self) -> dict:
        """Keyword arguments for ``s3fs.S3FileSystem``."""
        kwargs: dict = {}
        for name in ("endpoint_url", "key", "secret", "token", "profile"):
            if getattr(self, name):
                kwargs[name] = getattr(self, name)
        if self.region:
            kwargs["client_kwargs"] = {"region_name": self.region}
        return kwargs

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={'***' if f.name in _SECRET_FIELDS else getattr(self, f.name)!r}"
                          for f in fields(self) if getattr(self, f.name))
        return f"StorageOptions({shown})"

    __str__ = __repr__
