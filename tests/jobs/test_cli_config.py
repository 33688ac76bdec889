"""The command line is generated from the typed configs: every command has --help, flags
take the configs' defaults, and YAML files may group options by the configs' sections."""

import dataclasses
from pathlib import Path

import pytest

from curation.core import config as C
from curation.export.config import ExportConfig
from curation.ingest.config import IngestConfig
from jobs import cli


def all_commands():
    for name, command in cli.commands().items():
        if isinstance(command, dict):
            yield from ([name, sub] if sub else [name] for sub in command)
        else:
            yield [name]


@pytest.mark.parametrize("words", list(all_commands()), ids=" ".join)
def test_every_command_has_help(words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args([*words, "--help"])
    assert exit_info.value.code == 0 and "usage: curate" in capsys.readouterr().out


def resolved(argv: list[str]) -> dict:
    args = cli.build_parser().parse_args(argv)
    name, command = cli._command(args)
    return cli.resolve(name, command, args)


def test_defaults_come_from_the_configs(tmp_path):
    cfg = resolved(["export", "--curated", "run", "--out", str(tmp_path / "tars")])
    assert cfg["export"] == ExportConfig(curated=str(Path.cwd() / "run"), out=str(tmp_path / "tars"))
    assert cfg["spark"] == C.SparkConfig() and cfg["storage"] == C.StorageConfig()
    defaults = {f.name: f.default for f in dataclasses.fields(IngestConfig) if f.default is not dataclasses.MISSING}
    ingest = resolved(["ingest", "--input", "a.warc.gz", "--out", "pool", "--no-langid"])["ingest"]
    assert ingest.langid is False and ingest.url_column == defaults["url_column"] == "url"


def test_yaml_sections_flags_override_and_unknown_options(tmp_path):
    config = tmp_path / "export.yaml"
    config.write_text("executor: spark\nexport:\n  curated: s3://b/run\n  samples-per-tar: 7\n  resize: 64\nspark:\n"
                      "  master: local[1]\n  conf: {spark.ui.enabled: false}\nstorage: {s3_endpoint: 'http://x:1'}\n")
    cfg = resolved(["export", "--config", str(config), "--out", "s3://b/tars", "--resize", "32"])
    assert (cfg["export"].curated, cfg["export"].samples_per_tar, cfg["export"].resize) == ("s3://b/run", 7, 32)
    assert cfg["spark"] == C.SparkConfig(master="local[1]", conf={"spark.ui.enabled": "false"})
    assert cfg["storage"].options().endpoint_url == "http://x:1"
    config.write_text("export:\n  curated: r\n  threads_per_host: 3\n")
    assert cli.main(["export", "--config", str(config), "--out", "o"]) == 2


def test_missing_required_options_are_named(caplog):
    assert cli.main(["dedup", "--out", "keep.parquet"]) == 2
    assert "missing --embeddings" in caplog.text
    assert cli.main(["knn", "--index", "idx"]) == 2
    assert "exactly one of --text, --image, --key" in caplog.text


def test_a_key_under_a_section_sets_that_stage_only(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("match: {overwrite: true}\nbalance: {seed: 9}\n")
    cfg = resolved(["curate", "--config", str(config), "--pool", "p", "--metadata", "m", "--out", "o"])
    assert (cfg["match"].overwrite, cfg["count"].overwrite, cfg["balance"].overwrite) == (True, False, False)
    assert cfg["balance"].seed == 9
    # A top-level key sets every section that has it; a flag too; a section beats the top level.
    config.write_text("overwrite: true\nbalance: {overwrite: false}\n")
    cfg = resolved(["curate", "--config", str(config), "--pool", "p", "--metadata", "m", "--out", "o"])
    assert (cfg["match"].overwrite, cfg["count"].overwrite, cfg["balance"].overwrite) == (True, True, False)
    cfg = resolved(["curate", "--config", str(config), "--pool", "p", "--metadata", "m", "--out", "o",
                    "--overwrite"])
    assert (cfg["match"].overwrite, cfg["balance"].overwrite) == (True, True)


@pytest.mark.parametrize("body, message", [
    ("match: {overwrite: 'false'}\n", "section 'match': overwrite: 'false' is not true or false"),
    ("balance: {seed: 1.7}\n", "section 'balance': seed: 1.7 is not an integer"),
    ("spark: {master: 5}\n", "section 'spark': master: 5 is not a string"),
    ("spark: {conf: x}\n", "section 'spark': conf: 'x' is not a mapping"),
    ("match: {pool: [1, 2]}\n", "section 'match': pool: [1, 2] is not a string"),
    ("match: {t: 5}\n", "section 'match': unknown option 't'"),
    ("threads_per_host: 3\n", "unknown option 'threads_per_host'"),
    ("t: yes\n", "t: True is not a number"),
])
def test_yaml_values_are_checked_by_section_and_key(tmp_path, caplog, body, message):
    config = tmp_path / "run.yaml"
    config.write_text(body)
    assert cli.main(["curate", "--config", str(config), "--pool", "p", "--metadata", "m", "--out", "o"]) == 2
    assert f"{config}: {message}" in caplog.text


def test_a_section_overwrite_redoes_that_stage_only(tmp_path, capsys):
    from tests.helpers import make_rows, write_metadata, write_pool

    pool = write_pool(tmp_path / "pool", make_rows(120, seed=4), shards=2)
    meta = write_metadata(tmp_path / "m.json", ["dog", "cat", "photo"])
    base = ["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(tmp_path / "out"), "--t", "10"]
    assert cli.main(base) == 0
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*/*.parquet")}
    config = tmp_path / "again.yaml"
    config.write_text("balance: {overwrite: true, seed: 5}\n")
    assert cli.main([*base, "--config", str(config)]) == 0
    changed = sorted({p.parent.name for p in stamps if p.stat().st_mtime_ns != stamps[p]})
    assert changed == ["curated"]  # matched/ was kept and resumed; balance redone with its new seed
    assert cli.main([*base, "--seed", "6"]) == 2  # without the overwrite: refused, other lineage


STAGE_COMMANDS = [["curate"], ["match"], ["count"], ["balance"], ["quality"], ["export"], ["ingest"], ["embed"],
                  ["index"], ["dedup"], ["caption"], ["captions", "import"]]


@pytest.mark.parametrize("words", STAGE_COMMANDS, ids=" ".join)
def test_every_stage_command_takes_executor_overwrite_and_config(words, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("executor: {workers: 3}\n")
    args = cli.build_parser().parse_args([*words, "--executor", "local", "--overwrite", "--config", str(config)])
    name, command = cli._command(args)
    sections = {c.SECTION for c in cli.configs_of(command)}
    assert {"executor", "spark", "storage"} <= sections
    top, scoped = cli.load_yaml_config(str(config), cli.configs_of(command))
    assert (top, scoped) == ({}, {"executor": {"workers": 3}})
    assert args.executor == "local" and args.overwrite is True
    stage_configs = [c for c in cli.configs_of(command) if c.SECTION not in ("executor", "spark", "storage")]
    assert any("overwrite" in {f.name for f in dataclasses.fields(c)} for c in stage_configs)


@pytest.mark.parametrize("flags, message", [
    (["--master", "bogus://x"], "--master 'bogus://x': not a Spark master URL"),
    (["--master", "local[0]"], "--master 'local[0]': not a Spark master URL"),
    (["--master", "local[-1]"], "--master 'local[-1]': not a Spark master URL"),
    (["--master", "yarn"], "--master yarn: set HADOOP_CONF_DIR or YARN_CONF_DIR"),
    (["--conf", "spark.driver.memory=abc"], "--conf spark.driver.memory=abc: not a size"),
    (["--conf", "spark.task.cpus=0"], "--conf spark.task.cpus=0: must be an integer >= 1"),
    (["--conf", "spark.ui.enabled=maybe"], "--conf spark.ui.enabled=maybe: must be true or false"),
])
def test_spark_settings_are_checked_before_a_jvm_starts(flags, message, monkeypatch, caplog):
    monkeypatch.delenv("HADOOP_CONF_DIR", raising=False)
    monkeypatch.delenv("YARN_CONF_DIR", raising=False)
    assert cli.main(["match", "--pool", "p", "--metadata", "m", "--out", "o", "--executor", "spark", *flags]) == 2
    assert message in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize("master", ["local", "local[2]", "local[*]", "local[2,4]", "local[*,3]",
                                    "spark://a:7077,b:7077", "k8s://https://x:6443", "yarn"])
def test_spark_masters_spark_accepts_are_accepted(master, monkeypatch):
    monkeypatch.setenv("HADOOP_CONF_DIR", "/etc/hadoop")
    cfg = resolved(["match", "--pool", "p", "--metadata", "m", "--out", "o", "--executor", "spark",
                    "--master", master, "--conf", "spark.executor.memory=4g", "--conf", "spark.task.cpus=2"])
    assert cfg["spark"].master == master


def test_an_output_that_cannot_be_written_is_a_clear_error(tmp_path, caplog):
    from tests.helpers import make_rows, write_metadata, write_pool

    pool = write_pool(tmp_path / "pool", make_rows(30), shards=1)
    meta = write_metadata(tmp_path / "m.json", ["dog", "cat"])
    (tmp_path / "afile").write_text("not a folder")
    out = tmp_path / "afile" / "run"
    assert cli.main(["curate", "--pool", str(pool), "--metadata", str(meta), "--out", str(out)]) == 2
    assert f"{tmp_path / 'afile'}" in caplog.text and "Not a directory" in caplog.text
    assert "Traceback" not in caplog.text
