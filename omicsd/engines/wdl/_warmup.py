"""What a pre-warmed fork-server helper does once so that every WDL driver it forks starts fast.

Owns: :func:`warm` (called by :func:`omicsd.engines.wdl.driver.preload`) and the warm-up documents
(:data:`DOCUMENTS`, one per WDL version miniwdl knows).

Must not: run anything or keep state of its own; everything warmed lives in miniwdl, lark, ``re`` and
:mod:`omicsd.engines.wdl._config`, and a forked child inherits it.

Why whole documents: miniwdl's lark parser builds the lexer of each parser state (a compiled regular
expression per state) the first time a document reaches that state. Parsing ``workflow w {}`` reaches a
handful; a real document reaches dozens, and a forked driver used to compile them again for every run —
about 100 ms of each run's start, measured on the benchmark's scatter. Loading (not only parsing) a
document that uses the common constructs also warms reading, import resolution and type checking.
"""

from __future__ import annotations

import importlib
import logging
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

_V1 = """version {version}

struct Sample {{
  String name
  Array[File] reads
  Map[String, Int] counts
  Pair[Int, Float] pair
}}

workflow warm {{
  input {{
    Int n = 2
    String s = "a~{{n}}b"
    Array[Int] xs = [1, 2, 3]
    File? f
    Boolean flag = true
  }}
  scatter (i in range(n)) {{
    call t {{ input: i = i, s = s + "x" }}
  }}
  if (flag && n > 1 || !flag) {{
    call t as t2 {{ input: i = length(xs) * 2 - 1 % 3, s = "~{{s}}" }}
  }}
  Map[String, Int] m = {{"a": 1, "b": 2}}
  Pair[Int, String] pr = (1, "x")
  Float fl = 1.5e3 / 2.0
  String q = 'single ~{{n}}'
  String? maybe = if defined(f) then basename(select_first([f])) else "none"
  output {{
    Array[String] outs = t.out
    String? o2 = t2.out
    Int total = length(select_all([t2.n])) + m["a"] + pr.left
  }}
  meta {{
    author: "omicsd"
    flags: [1, 2.5, true]
    nested: {{ k: "v" }}
  }}
  parameter_meta {{ n: "count" }}
}}

task t {{
  input {{
    Int i
    String s
  }}
  String d = "~{{s}}-~{{i}}"
  command <<<
    echo "~{{d}}" > out.txt
    echo ${{HOME}} ~{{if i > 0 then "pos" else "neg"}} ~{{sep=" " [1, 2]}} ~{{true="y" false="n" i > 0}}
  >>>
  output {{
    String out = read_string("out.txt")
    Int n = i
    File log = stdout()
    Array[File] more = glob("*.txt")
  }}
  runtime {{
    docker: "ubuntu:22.04"
    cpu: 1
    memory: "1 GiB"
  }}
  meta {{ volatile: false }}
  parameter_meta {{ i: {{ help: "index" }} }}
}}

task brace {{
  command {{
    echo ${{"x"}} ~{{1}}
  }}
  output {{ Int x = 1 }}
}}
"""

_DRAFT2 = """workflow warm {
  Int n = 2
  Array[Int] xs = [1, 2]
  scatter (i in range(n)) {
    call t { input: i = i }
  }
  if (n > 1 && true) {
    call t as t2 { input: i = length(xs) }
  }
  output {
    Array[String] outs = t.out
  }
}

task t {
  Int i
  Array[Int] ys = [1, 2]
  String s = "a${i}"
  command <<<
    echo "${s}" > out.txt ${sep=" " ys} ${true="y" false="n" i > 0}
  >>>
  output {
    String out = read_string("out.txt")
  }
  runtime {
    docker: "ubuntu:22.04"
    cpu: 1
  }
  meta {
    author: "omicsd"
  }
}

task brace {
  command {
    echo ${1}
  }
  output {
    Int x = 1
  }
}
"""


def document(version: str) -> str:
    """The warm-up document for a WDL ``version`` (``draft-2`` has its own syntax)."""
    return _DRAFT2 if version == "draft-2" else _V1.format(version=version)


def warm() -> None:
    """Import what a run needs, load a warm-up document per WDL version and look miniwdl's plugins up."""
    importlib.import_module("docker.errors")  # miniwdl imports it on a task's first attempt
    import WDL
    import WDL.runtime.task_container
    from WDL import _grammar

    import omicsd.engines.wdl._run
    import omicsd.engines.wdl.backend
    import omicsd.engines.wdl.observer
    import omicsd.executors.local  # noqa: F401
    from omicsd.engines.wdl._config import warm_plugin_lookups

    with tempfile.TemporaryDirectory(prefix="omicsd-wdl-warm-") as scratch:
        for version in _grammar.versions:
            path = Path(scratch) / f"warm-{version}.wdl"
            path.write_text(document(version))
            try:
                WDL.load(str(path))
            except Exception:
                logger.debug("driver.warm_document_failed version=%s", version, exc_info=True)
    warm_plugin_lookups()
