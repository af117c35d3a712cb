cwlVersion: v1.2
class: Workflow
doc: Scatter shards that sleep, except one that fails at once.
requirements:
  ScatterFeatureRequirement: {}
inputs:
  items: int[]
  bad: int
outputs:
  out:
    type: File[]
    outputSource: shard/out
steps:
  shard:
    scatter: i
    in:
      i: items
      bad: bad
    out: [out]
    run:
      class: CommandLineTool
      requirements:
        ShellCommandRequirement: {}
      inputs:
        i: int
        bad: int
      arguments:
        - shellQuote: false
          valueFrom: if [ $(inputs.i) = $(inputs.bad) ]; then echo "shard $(inputs.i) fails" >&2; exit 1; fi; sleep 30
      stdout: out.txt
      outputs:
        out:
          type: stdout
