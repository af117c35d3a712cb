cwlVersion: v1.2
class: Workflow
doc: An ExpressionTool (no task), then a tool whose argument and output are JavaScript expressions.
requirements:
  InlineJavascriptRequirement: {}
  StepInputExpressionRequirement: {}
inputs:
  n: int
outputs:
  doubled:
    type: int
    outputSource: double/out
  shown:
    type: int
    outputSource: show/value
steps:
  double:
    in:
      n: n
    out: [out]
    run:
      class: ExpressionTool
      inputs:
        n: int
      outputs:
        out: int
      expression: "${ return {'out': inputs.n * 2}; }"
  show:
    in:
      v:
        source: double/out
        valueFrom: $(self + 1)
    out: [value]
    run:
      class: CommandLineTool
      baseCommand: echo
      inputs:
        v:
          type: int
          inputBinding:
            position: 1
            valueFrom: $(inputs.v * 10)
      stdout: value.txt
      outputs:
        value:
          type: int
          outputBinding:
            glob: value.txt
            loadContents: true
            outputEval: $(parseInt(self[0].contents.trim()))
