import hashlib
import json
from pathlib import Path

import pytest

from omicsd.blobs import LocalObjectStore
from omicsd.engines._staging import StagingFailed
from omicsd.engines.nextflow._data import ParamsMapper, export_published, write_params


def _md5(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def buckets(tmp_path):
    root = tmp_path / "buckets"
    for key, data in {
        "inputs/reads/s1_1.fq": b"@r1\nACGT\n",
        "inputs/reads/s1_2.fq": b"@r1\nTGCA\n",
        "inputs/ref/genome.fa": b">chr1\nAC\n",
    }.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(data)
    return root


def test_local_buckets_map_to_their_paths_with_digests(tmp_path, buckets):
    mapper = ParamsMapper(LocalObjectStore(buckets), tmp_path / "inputs", local_buckets=buckets)
    params = {
        "reads": "s3://inputs/reads/s1_1.fq",
        "pairs": "s3://inputs/reads/*_{1,2}.fq",
        "ref": "s3://inputs/ref/",
        "refdir": "s3://inputs/ref",
        "later": "s3://inputs/not/yet.txt",
        "nested": {"list": ["s3://inputs/reads/s1_2.fq", 4], "local": "file:///data/x", "flag": False},
        "label": "s3 is not a URI here",
    }
    mapped = mapper.map(params)
    assert mapped == {
        "reads": f"{buckets}/inputs/reads/s1_1.fq",
        "pairs": f"{buckets}/inputs/reads/*_{{1,2}}.fq",
        "ref": f"{buckets}/inputs/ref/",
        "refdir": f"{buckets}/inputs/ref",
        "later": f"{buckets}/inputs/not/yet.txt",
        "nested": {"list": [f"{buckets}/inputs/reads/s1_2.fq", 4], "local": "file:///data/x", "flag": False},
        "label": "s3 is not a URI here",
    }
    ref_digest = hashlib.md5(_md5(b">chr1\nAC\n").encode()).hexdigest() + "-1"
    assert mapper.resource_digests == {
        "s3://inputs/reads/s1_1.fq": "etag:" + _md5(b"@r1\nACGT\n"),
        "s3://inputs/ref/": f"etag:{ref_digest}",
        "s3://inputs/ref": f"etag:{ref_digest}",
        "s3://inputs/reads/s1_2.fq": "etag:" + _md5(b"@r1\nTGCA\n"),
    }
    assert not (tmp_path / "inputs").exists()  # nothing copied


@pytest.mark.parametrize(
    "uri", ["s3://UPPER/key", "s3://inputs/../secret", "s3://inputs/a/./b", "s3://x/key", "s3://inputs/reads/.."]
)
def test_malformed_uris_fail_as_invalid_input(tmp_path, buckets, uri):
    mapper = ParamsMapper(LocalObjectStore(buckets), tmp_path / "inputs", local_buckets=buckets)
    with pytest.raises(StagingFailed) as caught:
        mapper.map({"p": uri})
    assert caught.value.failure_reason == "INVALID_URI_INPUT"


def test_remote_store_downloads_objects_prefixes_and_glob_roots(tmp_path, buckets):
    inputs = tmp_path / "inputs"
    mapper = ParamsMapper(LocalObjectStore(buckets), inputs, local_buckets=None)
    mapped = mapper.map(
        {
            "reads": "s3://inputs/reads/s1_1.fq",
            "ref": "s3://inputs/ref",
            "refslash": "s3://inputs/ref/",
            "pairs": "s3://inputs/reads/*_{1,2}.fq",
        }
    )
    assert mapped["reads"].startswith(str(inputs)) and Path(mapped["reads"]).read_bytes() == b"@r1\nACGT\n"
    assert Path(mapped["ref"], "genome.fa").read_bytes() == b">chr1\nAC\n"
    assert mapped["refslash"].endswith("/") and mapped["refslash"].rstrip("/") == mapped["ref"]
    assert mapped["pairs"].endswith("/*_{1,2}.fq")
    staged_reads = mapped["pairs"].rsplit("/", 1)[0]
    assert sorted(p.name for p in Path(staged_reads).iterdir()) == ["s1_1.fq", "s1_2.fq"]
    assert set(mapper.resource_digests) == {
        "s3://inputs/reads/s1_1.fq",
        "s3://inputs/ref/",
        "s3://inputs/reads/",
    }
    with pytest.raises(StagingFailed) as caught:
        mapper.map("s3://inputs/missing.txt")
    assert caught.value.failure_reason == "INPUT_URI_NOT_FOUND"


def test_write_params(tmp_path):
    path = tmp_path / "params.json"
    write_params(path, {"b": [1, "x"], "a": {"c": None}})
    assert json.loads(path.read_text()) == {"a": {"c": None}, "b": [1, "x"]}


def test_export_published_uploads_each_folder_and_writes_outputs_json(tmp_path, buckets):
    store = LocalObjectStore(buckets)
    pubdir, output = tmp_path / "pubdir", tmp_path / "output"
    (pubdir / "qc").mkdir(parents=True)
    (pubdir / "qc" / "report.html").write_text("<html/>")
    work = tmp_path / "work" / "ab"
    work.mkdir(parents=True)
    (work / "aln.bam").write_bytes(b"BAM")
    (pubdir / "aln.bam").symlink_to(work / "aln.bam")  # publishDir's default mode is a symlink
    output.mkdir()
    summary, uri = export_published(store, "s3://outputs/runs/42", {"pubdir": pubdir, "output": output})
    assert summary == {"pubdir": ["s3://outputs/runs/42/pubdir/aln.bam", "s3://outputs/runs/42/pubdir/qc/report.html"]}
    assert uri == "s3://outputs/runs/42/logs/outputs.json"
    assert json.loads(store.get_bytes(uri)) == summary
    assert store.get_bytes("s3://outputs/runs/42/pubdir/aln.bam") == b"BAM"

    (output / "samples.csv").write_text("id\n1\n")
    empty = tmp_path / "empty"
    summary, _ = export_published(store, "s3://outputs/runs/43/", {"pubdir": empty, "output": output})
    assert summary == {"pubdir": [], "output": ["s3://outputs/runs/43/output/samples.csv"]}

    with pytest.raises(StagingFailed) as caught:
        export_published(store, "s3://Bad_Bucket/x", {"pubdir": pubdir})
    assert caught.value.failure_reason == "EXPORT_FAILED"
