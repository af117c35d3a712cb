cwlVersion: v1.0
class: CommandLineTool
baseCommand: [tr, "[:lower:]", "[:upper:]"]
hints:
  DockerRequirement:
    dockerPull: ubuntu:22.04
inputs:
  text:
    type: File
    streamable: true
stdin: $(inputs.text.path)
stdout: upper.txt
outputs:
  upper:
    type: stdout
