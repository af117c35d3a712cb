cwlVersion: v1.0
class: CommandLineTool
baseCommand: [wc]
requirements:
  ResourceRequirement:
    coresMin: 1
    ramMin: 1500
inputs:
  flag:
    type: string
    inputBinding:
      position: 1
  text:
    type: File
stdin: $(inputs.text.path)
stdout: count.txt
outputs:
  count:
    type: stdout
