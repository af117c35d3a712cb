cwlVersion: v1.2
class: CommandLineTool
doc: Count the bytes of a file.
requirements:
  InlineJavascriptRequirement: {}
baseCommand: [wc, -c]
inputs:
  text:
    type: File
stdin: $(inputs.text.path)
stdout: count.txt
outputs:
  count:
    type: int
    outputBinding:
      glob: count.txt
      loadContents: true
      outputEval: $(parseInt(self[0].contents.trim()))
