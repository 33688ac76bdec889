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
