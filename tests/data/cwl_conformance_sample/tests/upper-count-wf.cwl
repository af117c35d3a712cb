cwlVersion: v1.2
class: Workflow
doc: Two steps from sibling tool files; the second consumes the first one's output.
inputs:
  text: File
outputs:
  upper:
    type: File
    outputSource: upper/upper
  count:
    type: int
    outputSource: count/count
steps:
  upper:
    run: tools/upper.cwl
    in:
      text: text
    out: [upper]
  count:
    run: tools/count-chars.cwl
    in:
      text: upper/upper
    out: [count]
