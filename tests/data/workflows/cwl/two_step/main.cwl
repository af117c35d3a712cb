cwlVersion: v1.2
class: Workflow
label: Upper-case a file then count its lines
doc: Two command-line steps wired through a File output.

inputs:
  text_file:
    type: File
    doc: Input text
  sample_id:
    type: string?
    label: Sample identifier
  min_lines:
    type: int
    default: 1
    doc: Minimum number of lines expected
  tags:
    type: string[]?

outputs:
  upper_text:
    type: File
    outputSource: upper/upper
  line_count:
    type: File
    outputSource: count/count

steps:
  upper:
    run: tools/upper.cwl
    in:
      text: text_file
    out: [upper]
  count:
    run: tools/count.cwl
    in:
      text: upper/upper
    out: [count]
