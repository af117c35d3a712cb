version 1.0

struct Sample {
    String name
    File reads
}

task align_reads {
    input {
        Sample sample
        File reference
        Int threads = 1
    }

    command <<<
        set -euo pipefail
        ref_lines=$(wc -l < ~{reference})
        reads=$(wc -l < ~{sample.reads})
        echo -e "~{sample.name}\t${reads}\t${ref_lines}\t~{threads}" > ~{sample.name}.counts.tsv
    >>>

    output {
        File counts = "~{sample.name}.counts.tsv"
    }

    runtime {
        cpu: threads
        memory: "1 GiB"
        docker: "ubuntu:22.04"
    }
}

task summarize {
    input {
        Array[File] counts
        String label
        Boolean verbose = false
    }

    command <<<
        set -euo pipefail
        echo "# ~{label}" > summary.tsv
        cat ~{sep=" " counts} >> summary.tsv
        if [ "~{verbose}" = "true" ]; then wc -l summary.tsv >&2; fi
    >>>

    output {
        File report = "summary.tsv"
    }

    runtime {
        cpu: 1
        memory: "512 MiB"
        docker: "ubuntu:22.04"
    }
}
