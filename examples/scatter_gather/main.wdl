version 1.0

# Scatter over n shards (each writes a file), then gather: concatenate the shards and count the lines.
workflow scatter_gather {
    input {
        Int n
        String label = "shard"
    }

    parameter_meta {
        n: "Number of shards"
        label: "Text each shard line starts with"
    }

    scatter (i in range(n)) {
        call make_shard {
            input:
                index = i,
                label = label
        }
    }

    call gather {
        input:
            shards = make_shard.shard
    }

    output {
        Array[File] shards = make_shard.shard
        File combined = gather.combined
        Int lines = gather.lines
    }
}

task make_shard {
    input {
        Int index
        String label
    }

    command <<<
        set -euo pipefail
        for j in $(seq 1 3); do
            echo "~{label} ~{index} line ${j}"
        done > shard_~{index}.txt
    >>>

    output {
        File shard = "shard_~{index}.txt"
    }

    runtime {
        cpu: 1
        memory: "1 GiB"
    }
}

task gather {
    input {
        Array[File] shards
    }

    command <<<
        set -euo pipefail
        cat ~{sep=" " shards} > combined.txt
        wc -l < combined.txt | tr -d ' ' > lines.txt
    >>>

    output {
        File combined = "combined.txt"
        Int lines = read_int("lines.txt")
    }

    runtime {
        cpu: 1
        memory: "1 GiB"
    }
}
