cwlVersion: v1.2
class: Workflow
doc: A step, then a sub-workflow whose step reads the first step's output.
requirements:
  SubworkflowFeatureRequirement: {}
inputs:
  word: string
outputs:
  final:
    type: File
    outputSource: inner/shout
steps:
  first:
    in:
      word: word
    out: [said]
    run:
      class: CommandLineTool
      baseCommand: echo
      inputs:
        word:
          type: string
          inputBinding:
            position: 1
      stdout: said.txt
      outputs:
        said:
          type: stdout
  inner:
    run: sub.cwl
    in:
      said: first/said
    out: [shout]
