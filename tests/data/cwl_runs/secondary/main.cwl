cwlVersion: v1.2
class: Workflow
doc: A File input with secondary files staged next to it, and a File output with one.
inputs:
  bam:
    type: File
    secondaryFiles:
      - .bai
      - pattern: ^.idx
        required: false
outputs:
  merged:
    type: File
    outputSource: merge/merged
  listing:
    type: File
    outputSource: merge/listing
steps:
  merge:
    in:
      bam: bam
    out: [merged, listing]
    run:
      class: CommandLineTool
      requirements:
        ShellCommandRequirement: {}
      inputs:
        bam:
          type: File
          secondaryFiles:
            - .bai
            - pattern: ^.idx
              required: false
      arguments:
        - shellQuote: false
          valueFrom: >-
            cat $(inputs.bam.path) $(inputs.bam.path).bai > merged.txt && echo signed > merged.txt.sig &&
            ls $(inputs.bam.dirname) > listing.txt
      outputs:
        merged:
          type: File
          secondaryFiles: [.sig]
          outputBinding:
            glob: merged.txt
        listing:
          type: File
          outputBinding:
            glob: listing.txt
