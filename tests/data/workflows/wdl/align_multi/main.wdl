version 1.0

# A two-step "alignment" pipeline: per-sample read counting and a summary report.
# Commands are plain shell tools so that the workflow runs on a host without containers.

import "tasks/align.wdl" as align

workflow align_samples {
    input {
        Array[Sample] samples
        File reference
        String run_label = "run"
        Int threads = 2
        Boolean? verbose
    }

    parameter_meta {
        samples: "Samples to align: name plus a reads file each"
        reference: {
            description: "Reference FASTA",
            patterns: ["*.fa", "*.fasta"]
        }
        run_label: {help: "Label written into the summary"}
    }

    scatter (sample in samples) {
        call align.align_reads {
            input:
                sample = sample,
                reference = reference,
                threads = threads
        }
    }

    call align.summarize {
        input:
            counts = align_reads.counts,
            label = run_label,
            verbose = select_first([verbose, false])
    }

    output {
        Array[File] counts = align_reads.counts
        File summary = summarize.report
    }

    meta {
        description: "Counts reads per sample against a reference and writes a summary"
    }
}
