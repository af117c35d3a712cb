#!/usr/bin/env cwl-runner
cwlVersion: v1.2
class: CommandLineTool
label: Count lines, words and characters
doc: Runs `wc` on a text file (read from standard input) and captures the report.

baseCommand: [wc]

hints:
  DockerRequirement:
    dockerPull: ubuntu:22.04
  ResourceRequirement:
    coresMin: 1
    ramMin: 256

inputs:
  input_file:
    type: File
    doc: Text file to count
  lines_only:
    type: boolean?
    label: Count lines only
    inputBinding:
      position: 1
      prefix: -l
  report_name:
    type: string
    default: counts.txt
    doc: Name of the report file
  extra_args:
    type:
      - "null"
      - type: array
        items: string
    inputBinding:
      position: 1

outputs:
  report:
    type: stdout

stdin: $(inputs.input_file.path)
stdout: $(inputs.report_name)
