cwlVersion: v1.2
class: Workflow
doc: One shard per item (200 items by default), each writing its number to a file; the files are gathered.
requirements:
  ScatterFeatureRequirement: {}
inputs:
  items: int[]
outputs:
  parts:
    type: File[]
    outputSource: echo_i/part
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
