cwlVersion: v1.2
class: Workflow
doc: One step that sleeps, then writes a file.
inputs:
  seconds:
    type: int
    default: 5
outputs:
  done:
    type: File
    outputSource: nap/done
steps:
  nap:
    in:
      seconds: seconds
    out: [done]
    run:
      class: CommandLineTool
      baseCommand: sleep
      inputs:
        seconds:
          type: int
          inputBinding:
            position: 1
      stdout: done.txt
      outputs:
        done:
          type: stdout
