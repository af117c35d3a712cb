cwlVersion: v1.2
class: CommandLineTool
doc: Print a greeting; standard output is captured as the output file.
baseCommand: echo
inputs:
  message:
    type: string
    inputBinding:
      position: 1
stdout: greeting.txt
outputs:
  greeting:
    type: stdout
