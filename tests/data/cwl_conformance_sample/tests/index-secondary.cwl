cwlVersion: v1.2
class: CommandLineTool
doc: An input whose secondary file is found next to it; an output with a secondary file.
requirements:
  ShellCommandRequirement: {}
inputs:
  reads:
    type: File
    secondaryFiles: [.idx]
arguments:
  - shellQuote: false
    valueFrom: >-
      cat $(inputs.reads.path) $(inputs.reads.path).idx > merged.txt && wc -l < merged.txt > merged.txt.count
outputs:
  merged:
    type: File
    secondaryFiles: [.count]
    outputBinding:
      glob: merged.txt
