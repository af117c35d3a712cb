cwlVersion: v1.2
class: Workflow
label: Write a greeting to a file
doc: One step that echoes a greeting into greeting.txt.

inputs:
  name:
    type: string
    default: world
    doc: Who to greet

outputs:
  greeting:
    type: File
    outputSource: greet/greeting

steps:
  greet:
    in:
      name: name
    out: [greeting]
    run:
      class: CommandLineTool
      baseCommand: [echo]
      arguments: ["Hello,", $(inputs.name)]
      inputs:
        name: string
      outputs:
        greeting:
          type: stdout
      stdout: greeting.txt
