"""Spark's settings checked before a JVM starts: a master URL Spark would refuse, or a
configuration value of the wrong form, is a one-line error naming the flag or key, instead
of a Java stack trace from deep inside the session's start."""

import os
import re

from curation.core.errors import InputError

_LOCAL = re.compile(r"local(\[(\*|[1-9]\d*)(,[1-9]\d*)?\])?")
_LOCAL_CLUSTER = re.compile(r"local-cluster\[[1-9]\d*,[1-9]\d*,[1-9]\d*\]")
_STANDALONE = re.compile(r"spark://[^\s/:,]+:\d+(,[^\s/:,]+:\d+)*")
_K8S = re.compile(r"k8s://\S+")
_SIZE = re.compile(r"\d+[kmgtp]?b?", re.IGNORECASE)
# Keys whose values are sizes (4g, 512m), positive integers, or booleans.
_SIZE_KEYS = re.compile(r"spark\.(driver|executor)\.(memory|memoryOverhead)|spark\.driver\.maxResultSize"
                        r"|spark\.(executor|driver)\.pyspark\.memory|spark\.python\.worker\.memory")
_COUNT_KEYS = {"spark.task.cpus", "spark.executor.cores", "spark.driver.cores", "spark.task.maxFailures",
               "spark.executor.instances", "spark.default.parallelism", "spark.sql.shuffle.partitions"}


def check_master(master: str | None) -> None:
    """A master URL of a form Spark accepts: local, local[N], local[*], local[N,F],
    local-cluster[...], spark://host:port, yarn (with HADOOP_CONF_DIR or YARN_CONF_DIR), k8s://..."""
    if master is None:
        return
    if not isinstance(master, str) or not master.strip():
        raise InputError(f"--master {master!r}: not a Spark master URL")
    if master == "yarn":
        if not (os.environ.get("HADOOP_CONF_DIR") or os.environ.get("YARN_CONF_DIR")):
            raise InputError("--master yarn: set HADOOP_CONF_DIR or YARN_CONF_DIR to the cluster's configuration")
        return
    if not any(p.fullmatch(master) for p in (_LOCAL, _LOCAL_CLUSTER, _STANDALONE, _K8S)):
        raise InputError(f"--master {master!r}: not a Spark master URL (local[N], local[*], local[N,F], "
                         "spark://host:port, yarn, k8s://...)")


def check_conf(conf: dict) -> None:
    """Values of the keys whose form is known: sizes, positive counts and booleans."""
    for key, value in conf.items():
        text = str(value).strip()
        if _SIZE_KEYS.fullmatch(key) and not _SIZE.fullmatch(text):
            raise InputError(f"--conf {key}={value}: not a size (e.g. 4g, 512m)")
        if key in _COUNT_KEYS and not (text.isdigit() and int(text) >= 1):
            raise InputError(f"--conf {key}={value}: must be an integer >= 1")
        if key.endswith(".enabled") and text.lower() not in ("true", "false"):
            raise InputError(f"--conf {key}={value}: must be true or false")
