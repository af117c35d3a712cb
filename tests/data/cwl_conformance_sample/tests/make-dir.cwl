cwlVersion: v1.2
class: CommandLineTool
doc: Create a directory holding two files and a subdirectory; return it as a Directory output.
requirements:
  ShellCommandRequirement: {}
inputs:
  name: string
arguments:
  - shellQuote: false
    valueFrom: >-
      mkdir -p $(inputs.name)/sub && echo one > $(inputs.name)/one.txt && echo two > $(inputs.name)/sub/two.txt
outputs:
  dir:
    type: Directory
    outputBinding:
      glob: $(inputs.name)
