cwlVersion: v1.2
class: CommandLineTool
doc: A Directory input and a file literal input; list and concatenate them.
requirements:
  ShellCommandRequirement: {}
inputs:
  folder: Directory
  note: File
arguments:
  - shellQuote: false
    valueFrom: >-
      ls $(inputs.folder.path) > listing.txt && cat $(inputs.folder.path)/a.txt $(inputs.note.path) > joined.txt
outputs:
  listing:
    type: File
    outputBinding:
      glob: listing.txt
  joined:
    type: File
    outputBinding:
      glob: joined.txt
