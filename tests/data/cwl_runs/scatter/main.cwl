cwlVersion: v1.1
class: Workflow
doc: One shard per item (echo), gathered by a sum.
requirements:
  ScatterFeatureRequirement: {}
inputs:
  items: int[]
outputs:
  parts:
    type: File[]
    outputSource: echo_i/part
  total:
    type: File
    outputSource: gather/total
steps:
  echo_i:
    scatter: i
    in:
      i: items
    out: [part]
    run:
      class: CommandLineTool
      baseCommand: echo
      inputs:
        i:
          type: int
          inputBinding:
            position: 1
      stdout: part.txt
      outputs:
        part:
          type: stdout
  gather:
    in:
      parts: echo_i/part
    out: [total]
    run:
      class: CommandLineTool
      baseCommand: [awk, "{s += $1} END {print s}"]
      inputs:
        parts:
          type: File[]
          inputBinding:
            position: 1
      stdout: total.txt
      outputs:
        total:
          type: stdout
