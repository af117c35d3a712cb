cwlVersion: v1.2
class: Workflow
inputs:
  said: File
outputs:
  shout:
    type: File
    outputSource: leaf/shout
steps:
  leaf:
    in:
      said: said
    out: [shout]
    run:
      class: CommandLineTool
      baseCommand: [tr, "[:lower:]", "[:upper:]"]
      inputs:
        said: File
      stdin: $(inputs.said.path)
      stdout: shout.txt
      outputs:
        shout:
          type: stdout
