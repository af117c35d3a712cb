cwlVersion: v1.2
class: ExpressionTool
doc: Compute values with JavaScript only (no command runs).
requirements:
  InlineJavascriptRequirement: {}
inputs:
  n: int
  label: string
outputs:
  doubled: int
  tagged: string
  parts: string[]
expression: |
  ${
    return {
      "doubled": inputs.n * 2,
      "tagged": inputs.label + "-" + inputs.n,
      "parts": inputs.label.split("")
    };
  }
