cwlVersion: v1.2
class: CommandLineTool
doc: Records its pid, then sleeps.
requirements:
  ShellCommandRequirement: {}
inputs:
  seconds:
    type: int
    default: 600
arguments:
  - shellQuote: false
    valueFrom: echo $$ > pid.txt; touch f; sleep $(inputs.seconds); echo woke
outputs:
  f:
    type: File
    outputBinding:
      glob: f
