cwlVersion: v1.2
class: CommandLineTool
label: Upper-case a text file
baseCommand: [tr, "[:lower:]", "[:upper:]"]
hints:
  DockerRequirement:
    dockerPull: ubuntu:22.04
inputs:
  text:
    type: File
    streamable: true
outputs:
  upper:
    type: stdout
stdin: $(inputs.text.path)
stdout: upper.txt
