cwlVersion: v1.2
class: CommandLineTool
label: Count lines
baseCommand: [wc, -l]
hints:
  DockerRequirement:
    dockerPull: ubuntu:22.04
inputs:
  text:
    type: File
outputs:
  count:
    type: stdout
stdin: $(inputs.text.path)
stdout: count.txt
