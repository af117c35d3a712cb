import os

from omicsd.engines.nextflow._launch import (
    Layout,
    command,
    config_text,
    ensure_directories,
    environment,
    find_executable,
    rewrite_mounts,
    rewrite_value,
)
from omicsd.engines.nextflow._trace import TRACE_FIELDS
from omicsd.engines.nextflow.settings import EngineSettings
from omicsd.engines.spec import RunSpec


def _layout(tmp_path):
    return Layout.of(tmp_path / "run", tmp_path / "run" / "definition", "pipeline/main.nf")


def _spec(tmp_path):
    return RunSpec(
        run_id="7654321",
        run_uuid="0b8e3c9a-2222-4333-8444-555566667777",
        engine="NEXTFLOW",
        workflow_name="wf",
        definition_dir=str(tmp_path / "run" / "definition"),
        main="pipeline/main.nf",
        parameters={},
        run_output_uri="s3://out/7654321",
        buckets_root=str(tmp_path / "buckets"),
        logs_root=str(tmp_path / "logs"),
        capacity_dir=str(tmp_path / "capacity"),
        region="eu-west-1",
        account="111122223333",
    )


def test_rewrite_mounts_in_sources_only(tmp_path):
    root = tmp_path / "def"
    (root / "modules").mkdir(parents=True)
    (root / "main.nf").write_text("params.outdir = '/mnt/workflow/pubdir'\npublishDir \"/mnt/workflow/pubdir/x\"\n")
    (root / "modules" / "align.nf").write_text("publishDir '/mnt/workflow/output/aln'\n")
    (root / "nextflow.config").write_text("params.out = '/mnt/workflow/pubdir'\n")
    (root / "lib.groovy").write_text("def untouched = 1\n")
    (root / "README.md").write_text("Outputs land in /mnt/workflow/pubdir.\n")
    (root / "bin.nf").write_bytes(b"\xff\xfe/mnt/workflow/pubdir")
    (root / "link.nf").symlink_to(root / "main.nf")
    mounts = {"/mnt/workflow/pubdir": "/runs/r1/pubdir", "/mnt/workflow/output": "/runs/r1/output"}
    changed = rewrite_mounts(root, mounts)
    assert [p.relative_to(root).as_posix() for p in changed] == ["main.nf", "modules/align.nf", "nextflow.config"]
    assert (root / "main.nf").read_text() == "params.outdir = '/runs/r1/pubdir'\npublishDir \"/runs/r1/pubdir/x\"\n"
    assert (root / "modules" / "align.nf").read_text() == "publishDir '/runs/r1/output/aln'\n"
    assert "/mnt/workflow/pubdir" in (root / "README.md").read_text()
    assert rewrite_mounts(root, {"/mnt/workflow/pubdir": "/runs/$HOME/pubdir"}) == []  # cannot be quoted safely


def test_rewrite_value_walks_parameters():
    mounts = {"/mnt/workflow/pubdir": "/r/pubdir"}
    value = {"outdir": "/mnt/workflow/pubdir/a", "list": ["/mnt/workflow/pubdir", 3], "n": None, "b": True}
    assert rewrite_value(value, mounts) == {"outdir": "/r/pubdir/a", "list": ["/r/pubdir", 3], "n": None, "b": True}


def test_config_text_fixes_work_dir_executor_and_raw_trace(tmp_path):
    layout = _layout(tmp_path)
    text = config_text(layout, run_id="7654321", cpus=4, memory_gib=16)
    assert f"workDir = '{layout.work_dir}'" in text
    assert f"outputDir = '{layout.output_dir}'" in text
    assert "process.executor = 'local'" in text and "docker.enabled = false" in text
    assert f"    file = '{layout.trace_file}'\n    overwrite = true\n    raw = true\n" in text
    assert f"    fields = '{','.join(TRACE_FIELDS)}'" in text
    assert "executor {\n    cpus = 4\n    memory = '16 GB'\n}" in text
    assert "executor {" not in config_text(layout, run_id="7654321")
    odd = Layout.of(tmp_path / "it's", tmp_path / "d", "main.nf")
    assert "workDir = '" + str(tmp_path) + "/it\\'s/work'" in config_text(odd, run_id="1")


def test_command_line(tmp_path):
    layout = _layout(tmp_path)
    argv = command("/opt/nf/nextflow", layout, profiles=("test", "fast"), weblog_url="http://127.0.0.1:5000/")
    run = str(tmp_path / "run")
    assert argv == [
        "/opt/nf/nextflow",
        "-log",
        f"{run}/nextflow.log",
        "-c",
        f"{run}/omicsd.config",
        "run",
        f"{run}/definition/pipeline/main.nf",
        "-params-file",
        f"{run}/params.json",
        "-work-dir",
        f"{run}/work",
        "-with-trace",
        f"{run}/trace.tsv",
        "-with-weblog",
        "http://127.0.0.1:5000/",
        "-profile",
        "test,fast",
    ]
    isolated = command("nextflow", layout, prefix=("unshare", "--net", "--"))
    assert isolated[:4] == ["unshare", "--net", "--", "nextflow"]
    assert "-with-weblog" not in isolated and "-profile" not in isolated


def test_environment_sets_offline_mode_and_healthomics_variables(tmp_path):
    layout = _layout(tmp_path)
    home = tmp_path / "home"
    base = {"PATH": "/usr/bin", "AWS_REGION": "us-west-2", "NXF_ANSI_LOG": "true"}
    env = environment(base, _spec(tmp_path), layout, EngineSettings(syntax_version="v2"), home=home)
    assert env["PATH"] == "/usr/bin"
    assert (env["NXF_OFFLINE"], env["NXF_ANSI_LOG"], env["NXF_DISABLE_CHECK_LATEST"]) == ("true", "false", "true")
    assert env["NXF_HOME"] == str(layout.home_dir)
    assert env["NXF_SYNTAX_PARSER"] == "v2"
    assert env["AWS_WORKFLOW_RUN"] == "arn:aws:omics:eu-west-1:111122223333:run/7654321"
    assert env["AWS_WORKFLOW_RUN_ID"] == "7654321"
    assert env["AWS_WORKFLOW_RUN_UUID"] == "0b8e3c9a-2222-4333-8444-555566667777"
    assert env["AWS_REGION"] == "us-west-2"  # the operator's own region setting wins
    assert "NXF_SYNTAX_PARSER" not in environment({}, _spec(tmp_path), layout, EngineSettings(), home=home)

    (home / ".nextflow" / "framework").mkdir(parents=True)  # an installed launcher keeps its own home
    assert "NXF_HOME" not in environment({}, _spec(tmp_path), layout, EngineSettings(), home=home)
    kept = environment({"NXF_HOME": "/opt/nxf"}, _spec(tmp_path), layout, EngineSettings(), home=home)
    assert kept["NXF_HOME"] == "/opt/nxf"


def test_ensure_directories_creates_the_run_home_only_when_used(tmp_path):
    layout = _layout(tmp_path)
    ensure_directories(layout, {"NXF_HOME": "/opt/nxf"})
    assert layout.work_dir.is_dir() and layout.pubdir.is_dir() and layout.output_dir.is_dir()
    assert not layout.home_dir.exists()
    ensure_directories(layout, {"NXF_HOME": str(layout.home_dir)})
    assert layout.home_dir.is_dir()


def test_find_executable(tmp_path):
    assert find_executable(str(tmp_path)) is None
    launcher = tmp_path / "nextflow"
    launcher.write_text("#!/bin/sh\n")
    launcher.chmod(0o755)
    assert find_executable(f"/nonexistent{os.pathsep}{tmp_path}") == str(launcher)
