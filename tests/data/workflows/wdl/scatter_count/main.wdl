version 1.0

workflow scatter_count {
    input {
        Array[String] words
        Int copies = 3
    }

    scatter (word in words) {
        call shout {
            input:
                word = word,
                copies = copies
        }
    }

    call gather {
        input:
            files = shout.out
    }

    output {
        Array[File] shouted = shout.out
        Int total_lines = gather.lines
    }
}

task shout {
    input {
        String word
        Int copies
    }

    command <<<
        set -euo pipefail
        for i in $(seq 1 ~{copies}); do echo "~{word}" | tr '[:lower:]' '[:upper:]'; done > shout.txt
    >>>

    output {
        File out = "shout.txt"
    }

    runtime {
        cpu: 1
        memory: "128 MiB"
    }
}

task gather {
    input {
        Array[File] files
    }

    command <<<
        set -euo pipefail
        cat ~{sep=" " files} | wc -l | tr -d ' '
    >>>

    output {
        Int lines = read_int(stdout())
    }

    runtime {
        cpu: 1
        memory: "128 MiB"
    }
}
