cwlVersion: v1.2
class: Workflow
doc: One step that writes a greeting to a file.
inputs:
  name:
    type: string
    default: world
outputs:
  greeting:
    type: File
    outputSource: say_hello/greeting
steps:
  say_hello:
    in:
      name: name
    out: [greeting]
    run:
      class: CommandLineTool
      baseCommand: echo
      inputs:
        name:
          type: string
          inputBinding:
            position: 1
      stdout: greeting.txt
      outputs:
        greeting:
          type: stdout
