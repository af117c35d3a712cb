version 1.1

# One task that writes a greeting to a file.
workflow hello {
    input {
        String name = "world"
    }

    parameter_meta {
        name: "Who to greet"
    }

    call greet {
        input:
            name = name
    }

    output {
        File greeting = greet.greeting
    }
}

task greet {
    input {
        String name
    }

    command <<<
        echo "Hello, ~{name}!" > greeting.txt
    >>>

    output {
        File greeting = "greeting.txt"
    }

    runtime {
        cpu: 1
        memory: "1 GiB"
    }
}
