cwlVersion: v1.0
class: Workflow
doc: Upper-case a text file, then count its lines and words in two independent steps.
inputs:
  text: File
outputs:
  upper_text:
    type: File
    outputSource: upper/upper
  line_count:
    type: File
    outputSource: lines/count
  word_count:
    type: File
    outputSource: words/count
steps:
  upper:
    run: tools/upper.cwl
    in:
      text: text
    out: [upper]
  lines:
    run: tools/count.cwl
    in:
      text: upper/upper
      flag:
        default: -l
    out: [count]
  words:
    run: tools/count.cwl
    in:
      text: upper/upper
      flag:
        default: -w
    out: [count]
