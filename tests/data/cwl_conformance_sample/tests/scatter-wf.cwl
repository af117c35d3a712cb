cwlVersion: v1.2
class: Workflow
doc: Scatter a tool over an array of words; the outputs gather into an array of files.
requirements:
  ScatterFeatureRequirement: {}
inputs:
  words: string[]
outputs:
  files:
    type: File[]
    outputSource: say/out
steps:
  say:
    run:
      class: CommandLineTool
      baseCommand: echo
      inputs:
        word:
          type: string
          inputBinding:
            position: 1
      stdout: $(inputs.word).txt
      outputs:
        out:
          type: stdout
    scatter: word
    in:
      word: words
    out: [out]
