cwlVersion: v1.2
class: Workflow
doc: A long step runs while a later step's input expression fails.
requirements:
  InlineJavascriptRequirement: {}
  StepInputExpressionRequirement: {}
inputs: []
outputs: []
steps:
  slow:
    in: {}
    out: []
    run:
      class: CommandLineTool
      baseCommand: [sleep, "30"]
      inputs: []
      outputs: []
  quick:
    in: {}
    out: [said]
    run:
      class: CommandLineTool
      baseCommand: [echo, hi]
      inputs: []
      stdout: said.txt
      outputs:
        said: stdout
  broken:
    in:
      x:
        source: quick/said
        valueFrom: $(self.nosuch.deeper)
    out: []
    run:
      class: CommandLineTool
      baseCommand: echo
      inputs:
        x: string
      outputs: []
