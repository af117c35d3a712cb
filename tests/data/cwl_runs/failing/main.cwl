cwlVersion: v1.2
class: Workflow
doc: A step that succeeds, then one that exits 3.
inputs:
  status:
    type: int
    default: 3
outputs:
  said:
    type: File
    outputSource: boom/said
steps:
  ok:
    in: {}
    out: [done]
    run:
      class: CommandLineTool
      baseCommand: [echo, fine]
      inputs: []
      stdout: done.txt
      outputs:
        done:
          type: stdout
  boom:
    in:
      after: ok/done
      status: status
    out: [said]
    run:
      class: CommandLineTool
      requirements:
        ShellCommandRequirement: {}
      inputs:
        after: File
        status: int
      arguments:
        - shellQuote: false
          valueFrom: echo "about to fail" >&2; exit $(inputs.status)
      stdout: said.txt
      outputs:
        said:
          type: stdout
