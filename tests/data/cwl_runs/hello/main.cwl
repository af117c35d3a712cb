cwlVersion: v1.2
class: CommandLineTool
id: hello
doc: Writes a greeting to a file, a line to stdout and a line to stderr.
requirements:
  DockerRequirement:
    dockerPull: ubuntu:22.04
  ResourceRequirement:
    coresMin: 3
    ramMin: 10240
  ShellCommandRequirement: {}
inputs:
  name: string
  times:
    type: int
    default: 1
arguments:
  - shellQuote: false
    valueFrom: >-
      for i in `seq 1 $(inputs.times)`; do echo "Hello, $(inputs.name)!"; done > greeting.txt;
      echo "stdout of hello"; echo "stderr of hello" >&2
outputs:
  greeting:
    type: File
    outputBinding:
      glob: greeting.txt
