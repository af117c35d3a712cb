cwlVersion: v1.2
class: CommandLineTool
doc: Sort the lines of an input file.
baseCommand: sort
inputs:
  lines:
    type: File
    inputBinding:
      position: 1
stdout: sorted.txt
outputs:
  sorted:
    type: File
    outputBinding:
      glob: sorted.txt
