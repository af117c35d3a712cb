version 1.0

workflow broken {
    input {
        String sample_name
        Int count = [1, 2, 3]
    }

    call echo_name {
        input:
            name = sample_name,
            times = count
    }

    output {
        File out = echo_name.out
    }
}

task echo_name {
    input {
        String name
        Int times
    }

    command <<<
        echo "~{name} ~{times}" > name.txt
    >>>

    output {
        File out = "name.txt"
    }
}
