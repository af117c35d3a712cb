cwlVersion: v1.2
class: CommandLineTool
doc: A Directory input, an InitialWorkDirRequirement file, and a Directory output.
requirements:
  ShellCommandRequirement: {}
  InitialWorkDirRequirement:
    listing:
      - entryname: msg.txt
        entry: $(inputs.message)
inputs:
  refs: Directory
  message: string
arguments:
  - shellQuote: false
    valueFrom: mkdir bundle && cp msg.txt bundle/ && ls $(inputs.refs.path) > bundle/refs.txt
outputs:
  bundle:
    type: Directory
    outputBinding:
      glob: bundle
