"""miniwdl output values as engine-neutral values for the export."""

from __future__ import annotations

from pathlib import Path

from WDL import Env, Type, Value

from omicsd.engines._staging import LocalDirectory, LocalFile
from omicsd.engines.wdl._values import neutral_outputs


def test_files_keep_their_path_unless_they_are_links(tmp_path: Path) -> None:
    real = tmp_path / "inputs" / "reads.fastq"
    real.parent.mkdir()
    real.write_text("@r\n")
    work = tmp_path / "call" / "work"
    work.mkdir(parents=True)
    (work / "part.txt").write_text("1\n")
    (work / "link.fastq").symlink_to(real)
    (work / "folder").mkdir()
    outputs: Env.Bindings[Value.Base] = (
        Env.Bindings()
        .bind("plain", Value.File(str(work / "part.txt")))
        .bind("linked", Value.File(str(work / "link.fastq")))
        .bind("dir", Value.Directory(str(work / "folder")))
        .bind("many", Value.Array(Type.File(), [Value.File(str(work / "part.txt"))]))
        .bind("nothing", Value.Null())
    )
    neutral = neutral_outputs(outputs)
    assert neutral["plain"] == LocalFile(str(work / "part.txt"))
    assert neutral["linked"] == LocalFile(str(real)), "an output that is an input link is the input's file"
    assert neutral["dir"] == LocalDirectory(str(work / "folder"))
    assert neutral["many"] == [LocalFile(str(work / "part.txt"))]
    assert neutral["nothing"] is None
