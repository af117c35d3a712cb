cwlVersion: v1.2
class: CommandLineTool
doc: A command that exits with status 1.
baseCommand: "false"
inputs: []
outputs: []
