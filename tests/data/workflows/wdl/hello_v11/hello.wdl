version 1.1

workflow hello {
    input {
        String name
        String greeting = "Hello"
        Int repeat = 1
        File? extra_note
    }

    parameter_meta {
        name: "Who to greet"
        greeting: {description: "Greeting word"}
    }

    call say_hello {
        input:
            name = name,
            greeting = greeting,
            repeat = repeat,
            extra_note = extra_note
    }

    output {
        File message = say_hello.message
        Int words = say_hello.words
    }
}

task say_hello {
    input {
        String name
        String greeting
        Int repeat
        File? extra_note
    }

    command <<<
        set -euo pipefail
        for i in $(seq 1 ~{repeat}); do
            echo "~{greeting}, ~{name}!"
        done > message.txt
        if [ -n "~{extra_note}" ]; then cat "~{extra_note}" >> message.txt; fi
        wc -w < message.txt | tr -d ' ' > words.txt
    >>>

    output {
        File message = "message.txt"
        Int words = read_int("words.txt")
    }

    runtime {
        cpu: 1
        memory: "256 MiB"
        container: "ubuntu:22.04"
    }
}
