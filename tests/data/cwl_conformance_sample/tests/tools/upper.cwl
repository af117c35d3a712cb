cwlVersion: v1.2
class: CommandLineTool
doc: Upper-case a text file.
baseCommand: [tr, a-z, A-Z]
inputs:
  text:
    type: File
stdin: $(inputs.text.path)
stdout: upper.txt
outputs:
  upper:
    type: stdout
